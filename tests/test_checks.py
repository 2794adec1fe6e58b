"""zqvl.data.checks: each record check's exact codes and details, and one table that knows every code."""

from __future__ import annotations

import pytest
from test_clean_cases import CLEAN, DEFECTS

from zqvl.data.checks import (
    CODES,
    ERROR,
    WARNING,
    SeenIds,
    empty_turns,
    in_answer,
    level,
    look_alikes,
    meaning,
    moved,
    record_checks,
    record_errors,
    roles,
    schema_reason,
    sources_complete,
    tag_count,
    tag_look_alikes,
)
from zqvl.data.clean import load_filters
from zqvl.data.schema import SchemaError, parse_record
from zqvl.train.collate import Dropped, exchanges


def rec(*turns, images=0, roles_=None):
    """A record from (value[, source]) turns, alternating human/gpt unless `roles_` says otherwise."""
    convs = []
    for i, t in enumerate(turns):
        value, source = (t, None) if isinstance(t, str) else t
        turn = {"from": roles_[i] if roles_ else ("human" if i % 2 == 0 else "gpt"), "value": value}
        if source is not None:
            turn["source"] = source
        convs.append(turn)
    return parse_record({"id": "r", "image": [f"{k}.jpg" for k in range(images)], "conversations": convs})


def found(reasons):
    return [(r, r.detail) for r in reasons]


def test_roles_report_one_problem_in_order_of_importance():
    assert found(roles(rec("问", "答", roles_=["用户", "gpt"]))) == [
        ("structure.role_name", "unknown role name (translated?): turn 0: '用户'")
    ]
    assert found(roles(rec("答", "问", roles_=["gpt", "human"]))) == [
        ("structure.order", "first turn is 'gpt', expected 'human'")
    ]
    assert found(roles(rec("问", "答", "答二", roles_=["human", "gpt", "gpt"]))) == [
        ("structure.order", "turn 2 is 'gpt' where 'human' should follow (roles: human gpt gpt)")
    ]
    assert found(roles(rec("问", "答", "还有吗？"))) == [
        ("structure.ends_on_human", "3 turns, the last one is a question")
    ]
    assert roles(rec("问", "答", "还有吗？"), answer_last=False) == []  # training leaves the question out
    assert roles(rec("问", "答", roles_=["user", "assistant"])) == []  # aliases are known roles


def test_empty_turns_allow_a_bare_image_question_unless_its_source_asked_something():
    assert empty_turns(rec("<image>", "一只猫。", images=1)) == []
    assert empty_turns(rec(("<image>", "<image>"), ("一只猫。", "A cat."), images=1)) == []
    assert found(empty_turns(rec(("<image>", "<image>\nWhat is it?"), ("一只猫。", "A cat."), images=1))) == [
        ("structure.empty_turn", "empty or whitespace-only value in turn 0")
    ]
    assert found(empty_turns(rec("问", " \n", "再问", "<image>", images=1))) == [
        ("structure.empty_turn", "empty or whitespace-only value in turn 1, 3")
    ]


def test_sources_on_all_turns_or_none():
    assert sources_complete(rec("问", "答")) == []
    assert sources_complete(rec(("问", "Q"), ("答", "A"))) == []
    assert found(sources_complete(rec(("问", "Q"), "答", "问二", ("答二", "A2")))) == [
        ("structure.source_missing", "translated record, but turn 1, 2 has no source")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "<图像>",
        "< image >",
        "<IMAGE>",
        "＜image＞",
        "</image>",
        "&lt;image&gt;",
        "[image]",
        "【图片】",
        "<img>",
        "《图片》",
        "<image/>",
    ],
)
def test_one_look_alike_pattern_covers_both_old_ones(text):
    # validate's old MANGLED_TAG forms and clean's old MANGLED_RE forms
    assert tag_look_alikes(f"图中{text}是猫。") == (text,)


def test_the_exact_tag_and_ordinary_brackets_are_not_look_alikes():
    assert tag_look_alikes("<image>\n图里<有>什么？[1]《红楼梦》") == ()
    assert found(look_alikes(rec("<image>\n<图像>问", "答【图片】", images=1))) == [
        ("placeholder.mangled", "turn 0: '<图像>'; turn 1: '【图片】'")
    ]


def test_tag_count_moved_and_in_answer():
    assert found(tag_count(rec("<image>\n<image>\n问", "答", images=1))) == [
        ("placeholder.count", "2 <image> tag(s) for 1 image(s)")
    ]
    assert tag_count(rec("问", "答")) == [] and tag_count(rec("<image>问", "答", images=1)) == []
    moved_tag = rec(("问", "<image>\nQ"), ("<image>答", "A"), images=1)
    assert found(moved(moved_tag)) == [("placeholder.moved", "tag count differs from the source in turn 0, 1")]
    assert found(in_answer(moved_tag)) == [("placeholder.in_answer", "<image> inside an answer (turn 1)")]
    assert moved(rec("问", "<image>答", images=1)) == []  # no source: nothing to compare with


def test_ids_and_schema_errors():
    seen = SeenIds()
    assert seen.check("a", 0) == [] and seen.check("b", 1) == []
    assert found(seen.check("a", 5)) == [("structure.duplicate_id", "id 'a' already used by record #0")]
    with pytest.raises(SchemaError) as e:
        parse_record({"id": "x", "image": 5, "conversations": []})
    assert schema_reason(e.value) == "structure.bad_image_field"


def test_record_errors_leave_warnings_out():
    r = rec("<image>\n图中<图像>是什么？", "<image>猫。", images=1)
    assert record_checks(r) == ["placeholder.in_answer", "placeholder.mangled", "placeholder.count"]
    assert record_errors(r) == ["placeholder.in_answer", "placeholder.count"]
    assert level("placeholder.mangled") == WARNING and level("placeholder.count") == ERROR
    assert level("error.numbers") == ERROR and meaning("error.numbers").startswith("the filter raised")


def test_collate_drops_with_the_shared_codes():
    with pytest.raises(Dropped) as e:
        exchanges(rec("问", "答", roles_=["human", "助手"]))
    assert (
        e.value.reason == "structure.role_name" and str(e.value) == "r: unknown role name (translated?): turn 1: '助手'"
    )
    with pytest.raises(Dropped) as e:
        exchanges(rec("问", "答", "答二", roles_=["human", "gpt", "gpt"]))
    assert e.value.reason == "structure.order"
    assert len(exchanges(rec("问", "答", "没有答案的问题"))) == 1


def test_every_code_any_check_reports_is_in_the_one_table():
    filters = load_filters()
    codes = {r for _, _, obj in DEFECTS + CLEAN for f in filters for r in f(parse_record(obj))}
    codes |= {r for r in record_checks(rec("<image>\n<图像>", "<image>", "?", images=1, roles_=["gpt", "x", "y"]))}
    assert len(codes) > 20 and codes <= set(CODES)
    assert all(c.count(".") == 1 and CODES[c].level in (ERROR, WARNING) and CODES[c].meaning for c in CODES)

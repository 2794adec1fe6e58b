"""Per-filter behaviour: planted defects are caught by their family, hard negatives pass every filter.

The cases live in test_clean_cases.py (written independently of the dev set). Further tests pin down the
pieces that make filters source-aware: number equivalences, OCR normalisation, glosses, the monolingual mode.
"""

from __future__ import annotations

import copy

import pytest
from test_clean_cases import CLEAN, DEFECTS, rec

from zqvl.data.clean import REGISTRY, Reason, check_record, load_filters
from zqvl.data.clean.numbers import cn_value, turn_problems
from zqvl.data.schema import parse_record
from zqvl.errors import UsageError

FILTERS = load_filters()


def reasons_for(obj: dict, filters=FILTERS) -> list[Reason]:
    return check_record(parse_record(obj), filters)


@pytest.mark.parametrize("name,family,obj", CLEAN, ids=[c[0] for c in CLEAN])
def test_hard_negative_passes_every_filter(name, family, obj):
    found = reasons_for(obj)
    assert found == [], [(r, r.detail) for r in found]


@pytest.mark.parametrize("name,family,obj", DEFECTS, ids=[c[0] for c in DEFECTS])
def test_planted_defect_is_caught_by_its_family(name, family, obj):
    found = reasons_for(obj)
    assert family in {r.family for r in found}, [(r, r.detail) for r in found]
    assert all(r.detail for r in found)


def _without_source(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    for turn in obj["conversations"]:
        turn.pop("source", None)
    return obj


# Only the source shows that these apologies / AI disclaimers are faithful (without it they read as refusals),
# that this HTML and these role labels are the image's content, not debris, and that the caption really ends on "and".
NEEDS_SOURCE = {"c24", "c34", "k04", "k05", "k16"}


@pytest.mark.parametrize(
    "name,family,obj",
    [c for c in CLEAN if c[2]["id"] not in NEEDS_SOURCE],
    ids=[c[0] for c in CLEAN if c[2]["id"] not in NEEDS_SOURCE],
)
def test_hard_negative_passes_without_source(name, family, obj):
    found = reasons_for(_without_source(obj))
    assert found == [], [(r, r.detail) for r in found]


MONOLINGUAL = {
    "x01": "preamble",
    "x03": "preamble",
    "x07": "refusal",
    "x08": "refusal",
    "x09": "refusal",
    "x10": "truncation",
    "x12": "truncation",
    "x14": "repetition",
    "x17": "untranslated",
    "x18": "untranslated",
    "x32": "placeholder",
    "x34": "placeholder",
    "x38": "markdown",
    "x39": "structure",
    "x40": "structure",
    "x41": "structure",
    "x42": "script",
}


@pytest.mark.parametrize("rid,family", sorted(MONOLINGUAL.items()))
def test_monolingual_checks_still_run(rid, family):
    obj = next(o for _, _, o in DEFECTS if o["id"] == rid)
    assert family in {r.family for r in reasons_for(_without_source(obj))}


def test_source_only_families_skip_records_without_source():
    obj = _without_source(next(o for _, _, o in DEFECTS if o["id"] == "x24"))  # a changed price
    source_only = {"numbers", "ocr", "answered", "omission"}
    assert reasons_for(obj, load_filters(names=sorted(source_only))) == []
    assert {n for n, s in REGISTRY.items() if s.needs_source} == source_only


@pytest.mark.parametrize(
    "source,target",
    [
        ("It costs $14.99.", "售价14.99美元。"),
        ("About 66 million years ago.", "大约6600万年前。"),
        ("The stadium seats 52,340 fans.", "体育场可容纳52340名球迷。"),
        ("It is 12,000 steps.", "一共1.2万步。"),
        ("There are three cats.", "有三只猫。"),
        ("There are 3 cats.", "有三只猫。"),
        ("Open until 7:30 PM.", "营业到晚上7点半。"),
        ("Open until 7:30 PM.", "营业到19:30。"),
        ("It is -3°C outside.", "外面零下3°C。"),
        ("Add 1/2 cup of milk.", "加半杯牛奶。"),
        ("Add 3/4 cup of sugar.", "加入四分之三杯糖。"),
        ("It was built in the 1990s.", "它建于20世纪90年代。"),
        ("On Thursday, June 12.", "6月12日（星期四）。"),
        ("The box is ２５ cm wide.", "盒子宽25厘米。"),
        ("Twenty-five people came.", "来了二十五个人。"),
        ("It is 15% off.", "打八五折，也就是优惠百分之十五。"),
        ("The phone costs $1.2M.", "这部手机售价120万美元。"),
        ("The deadline is 10:00 on May 5.", "截止时间是5月5日10点。"),
        ("Use 250 ml of milk.", "使用250毫升牛奶。"),
        ("The truck is 3.5 m tall.", "卡车高3.5米。"),
    ],
)
def test_numbers_accept_faithful_renderings(source, target):
    assert turn_problems(source, target) == ([], [])


@pytest.mark.parametrize(
    "source,target,kind",
    [
        ("It costs $14.99.", "售价19.99美元。", "missing"),
        ("It is 15% off.", "优惠50%。", "missing"),
        ("It is -5°C.", "现在是5°C。", "missing"),
        ("The lake is 1.5 km away.", "湖在15公里外。", "missing"),
        ("There are three cats.", "有两只猫。", "missing"),
        ("It opens on March 4.", "它于4月4日开放。", "missing"),
        ("Use 250 ml of milk.", "使用250升牛奶。", "unit"),
        ("It takes 3 hours.", "需要3分钟。", "unit"),
    ],
)
def test_numbers_reject_changed_values(source, target, kind):
    missing, units = turn_problems(source, target)
    assert missing if kind == "missing" else units


@pytest.mark.parametrize(
    "text,value",
    [
        ("十二", 12),
        ("二十", 20),
        ("一百零五", 105),
        ("六千六百万", 66_000_000),
        ("二〇二四", 2024),
        ("一万两千", 12_000),
        ("两", 2),
    ],
)
def test_chinese_numerals(text, value):
    assert cn_value(text) == value


def test_gloss_in_brackets_is_not_residue():
    obj = rec(
        "g1",
        ("这是什么？", "What is this?"),
        (
            "这是一个无障碍通道（wheelchair accessible entrance），方便轮椅进出。",
            "It is a wheelchair accessible entrance, so wheelchairs can get in easily.",
        ),
    )
    assert reasons_for(obj) == []
    # ... unless the source had the same English in brackets: then it was simply left untranslated.
    obj = rec(
        "g2",
        ("开放时间？", "Opening hours?"),
        ("上午9点到下午5点（closed on public holidays）。", "9 am to 5 pm (closed on public holidays)."),
    )
    assert "untranslated.residue" in reasons_for(obj)


def test_quoted_translation_and_speech_are_exempt_from_ocr():
    obj = rec("q1", ("他说了什么？", "What did he say?"), ("他说：“我马上回来。”", 'He said "I will be right back."'))
    assert reasons_for(obj) == []


def test_inch_marks_are_not_quotes():
    obj = rec(
        "q2",
        ("披萨有多大？", "How big are the pizzas?"),
        ("一个12英寸的披萨和一个16英寸的披萨。", 'A 12" pizza and a 16" pizza.'),
    )
    assert reasons_for(obj) == []


def test_reason_is_a_code_string_with_detail():
    r = Reason("numbers.missing", "turn 1: '15%'")
    assert r == "numbers.missing" and isinstance(r, str) and r.family == "numbers" and "15%" in r.detail


def test_load_filters_by_name_and_config(tmp_path):
    assert [f.__name__ for f in load_filters(names=["script", "ocr"])] == ["script", "ocr"]
    with pytest.raises(ValueError, match="unknown filter"):
        load_filters(names=["spelling"])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("filters:\n  script: {enabled: false}\n  truncation: {min_ratio: 0.9}\n")
    names = [f.__name__ for f in load_filters(cfg)]
    assert "script" not in names and len(names) == len(REGISTRY) - 1
    trad = next(o for _, _, o in DEFECTS if o["id"] == "x42")
    assert not any(r.family == "script" for r in reasons_for(trad, load_filters(cfg)))
    short = rec(
        "s1",
        ("描述一下。", "Describe it."),
        (
            "一只猫坐在窗台上，望着窗外的雨。",
            "A cat sits on the windowsill, looking out at the rain while the radio plays softly behind it.",
        ),
    )
    assert "truncation.too_short" in reasons_for(short, load_filters(cfg))
    assert "truncation.too_short" not in reasons_for(short)


@pytest.mark.parametrize(
    "text,message",
    [
        ("filters:\n  spelling: {enabled: true}\n", "unknown key 'filters.spelling'"),
        ("filters:\n  truncation: {min_ratio: high}\n", "'filters.truncation.min_ratio' must be float"),
        ("dedupe: [1, 2]\n", "'dedupe' must be a mapping"),
        ("filters: {script: {enabled: false}\n", "not valid YAML"),
    ],
)
def test_config_errors_are_one_line(tmp_path, text, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(UsageError, match="bad.yaml") as e:
        load_filters(cfg)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_shipped_config_is_the_one_place_for_thresholds():
    from zqvl.data.clean.config import default_config

    shipped = default_config()["filters"]
    assert list(shipped) == list(dict.fromkeys(list(shipped) + list(REGISTRY)))  # every family has a section
    assert shipped["truncation"] == {"enabled": True, "min_ratio": 0.45, "min_source_units": 14, "min_source_words": 6}
    assert not any(hasattr(spec, "defaults") for spec in REGISTRY.values())


def test_filters_and_reasons_survive_pickling():
    """DataLoader workers receive the filters by pickling; reasons come back the same way."""
    import pickle

    filters = pickle.loads(pickle.dumps(load_filters()))
    obj = next(o for _, _, o in DEFECTS if o["id"] == "x24")
    found = pickle.loads(pickle.dumps(check_record(parse_record(obj), filters)))
    assert found == ["numbers.missing"] and "12.50" in found[0].detail


def test_a_recurring_turn_is_judged_once_but_named_at_its_own_position(tmp_path):
    """Per-turn verdicts are cached across records (questions recur); the turn number and the thresholds of
    each call still come from that call."""
    bad_question = {"from": "human", "value": "<image>\n这张图片里的猫是", "source": "<image>\nWhat is the cat doing?"}
    answer = {"from": "gpt", "value": "它在睡觉。", "source": "It is sleeping."}
    first = {"id": "a", "image": "a.jpg", "conversations": [bad_question, answer]}
    later = {
        "id": "b",
        "image": "b.jpg",
        "conversations": [
            {"from": "human", "value": "<image>\n描述这张图片。", "source": "<image>\nDescribe this image."},
            answer,
            bad_question,
            answer,
        ],
    }
    for obj, turn in ((first, 0), (later, 2), (first, 0)):
        found = {r: r.detail for r in reasons_for(obj)}
        assert "answered.not_a_question" in found and found["answered.not_a_question"].count("turn ") == 1
        assert f"turn {turn}: " in found["answered.not_a_question"]
    cfg = tmp_path / "strict.yaml"
    cfg.write_text("filters:\n  truncation: {min_ratio: 5.0}\n")
    strict = load_filters(cfg, names=["truncation"])
    lenient = load_filters(names=["truncation"])
    long_source = {
        "from": "gpt",
        "value": "一只猫坐在窗台上，望着窗外的雨。",
        "source": "A cat sits on the windowsill, looking out at the rain while the radio plays softly behind it.",
    }
    obj = {"id": "c", "image": "c.jpg", "conversations": [bad_question, long_source]}
    assert "truncation.too_short" in reasons_for(obj, strict)
    assert "truncation.too_short" not in reasons_for(obj, lenient)
    assert "truncation.too_short" in reasons_for(obj, strict)

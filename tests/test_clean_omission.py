"""omission: a paragraph missing (per record) and a sentence missing (set level: fewer sentences *and* shorter
than the set's translations run). The hard negatives are what translators legitimately do: join two sentences
with a comma, lay paragraphs out with single newlines, keep code blocks."""

from __future__ import annotations

import json

import pytest
from helpers.clean_records import rec
from helpers.datadir import make_dir
from hypothesis import example, given, settings
from hypothesis import strategies as st

from zqvl.data.clean import load_filters
from zqvl.data.clean.config import load_config
from zqvl.data.clean.omission import align_gap, paragraphs_lost, sentence_units, sentences_lost
from zqvl.data.clean.runner import clean
from zqvl.data.clean.text import english_sentence_bound, sentence_count
from zqvl.data.schema import parse_record


@pytest.mark.parametrize(
    "text, chinese, n",
    [
        ("The sign says U.S. MAIL. It is blue.", False, 2),
        ("Mr. Lee paid $3.50, e.g. for tea. Then he left!", False, 2),
        ('He asked, "Is it open?" Nobody knew.', False, 2),
        ("a man walks his dog", False, 1),
        ("它是蓝色的。上面写着“U.S. MAIL”！你看到了吗？", True, 3),
        ("第一句。\n\n```python\nprint('x.')\nprint('y.')\n```\n第二句。", True, 2),
    ],
)
def test_sentence_count(text, chinese, n):
    assert sentence_count(text, chinese) == n


def test_a_missing_paragraph_is_an_omission_and_a_relaid_one_is_not():
    src = "A red kite flies over the beach.\n\nTwo children hold its string.\n\nGulls circle above them."
    assert paragraphs_lost(src, "一只红色风筝在海滩上空飞。\n\n海鸥在他们头顶盘旋。") == (3, 2)
    assert paragraphs_lost(src, "一只红色风筝在海滩上空飞。\n两个孩子拉着线。\n海鸥在他们头顶盘旋。") is None
    assert paragraphs_lost("Run this:\n\n```\nls -l\n```", "运行：\n\n```\nls -l\n```") is None
    bad = rec(
        "o1", ("描述这张图片。", "Describe the image."), ("一只红色风筝在海滩上空飞。\n\n海鸥在他们头顶盘旋。", src)
    )
    filters = load_filters(names=["omission"])
    assert [r for f in filters for r in f(parse_record(bad))] == ["omission.paragraphs"]


def test_lists_and_tables_are_left_to_their_own_checks():
    assert sentences_lost("Steps:\n1. Open it.\n2. Close it.", "步骤：\n1. 打开。") is None
    assert sentences_lost("It is red. It is round.", "它是红色的圆形。") == (2, 1)


SOURCE4 = (
    "Start with a clear desk and good light. Keep regular hours every day. Turn off notifications on your phone, "
    "since they are the biggest distraction. Finally, take a short break every hour."
)
FULL4 = "先整理出一张干净、光线好的书桌。每天保持规律的作息。关掉手机上的通知，因为它们是最大的干扰源。最后，每小时短暂休息一下。"
MERGED = "先整理出一张干净、光线好的书桌，每天保持规律的作息。关掉手机上的通知，因为它们是最大的干扰源。最后，每小时短暂休息一下。"
DROPPED = "先整理出一张干净、光线好的书桌。每天保持规律的作息。最后，每小时短暂休息一下。"


def test_a_dropped_sentence_is_caught_against_the_set_and_a_merge_is_kept(tmp_path):
    records = [
        rec("full", ("给点建议。", "Any advice?"), (FULL4, SOURCE4), image=None),
        rec("merged", ("给点建议。", "Any advice?"), (MERGED, SOURCE4), image=None),
        rec("dropped", ("给点建议。", "Any advice?"), (DROPPED, SOURCE4), image=None),
    ]
    for r in records:  # the questions are not what is tested here
        r["conversations"][0]["value"] = "有什么建议吗？"
    out = tmp_path / "out"
    config = load_config()
    config["dedupe"]["answers"]["enabled"] = False  # the three answers are near-duplicates by design
    clean(make_dir(tmp_path / "in", records), out, config)
    kept = [r["id"] for r in json.loads((out / "chat.json").read_text(encoding="utf-8"))]
    rejected = {json.loads(line)["id"]: json.loads(line)["reasons"] for line in (out / "rejected.jsonl").open()}
    assert kept == ["full", "merged"]
    assert rejected == {"dropped": ["omission.sentences"]}


# Seven sentences about a kitchen; the translation of the fourth (a long one) is gone, while the others came
# out a little longer than their source, so the turn keeps its length and the ratio rule cannot see the gap.
KITCHEN_EN = (
    "The photo shows a small kitchen early in the morning. A kettle is steaming on the left burner of the stove. "
    "Next to it, a cutting board holds sliced tomatoes and a knife. "
    "Above the counter, an open shelf carries glass jars of rice, lentils, pasta and dried beans in neat rows. "
    "A calendar hangs beside the window. A striped towel is folded over the oven handle. "
    "Everything looks clean and ready for breakfast."
)
KITCHEN_SENTENCES = [
    "这张照片展示了清晨时分一间小巧的厨房。",
    "炉灶左边的灶眼上，一只水壶正冒着腾腾的热气。",
    "水壶旁边的砧板上放着切好的番茄片和一把菜刀。",
    "台面上方的开放式搁架上整整齐齐地摆着一排排玻璃罐，里面装着大米、扁豆、意面和干豆子。",
    "窗户旁边挂着一本日历。",
    "一条条纹毛巾叠好搭在烤箱的把手上。",
    "一切看上去都干净整洁，随时可以准备早餐了。",
]


def test_the_length_alignment_finds_a_dropped_middle_sentence_and_not_a_merge_or_a_split():
    ratio = 1.3  # this translator's Chinese runs 1.3 units per English unit (the set's median, in a real run)
    src, tgt = sentence_units(KITCHEN_EN, "".join(KITCHEN_SENTENCES))
    assert len(src) == len(tgt) == 7 and align_gap(src, tgt, ratio, 2.5) is None
    dropped = "".join(KITCHEN_SENTENCES[:3] + KITCHEN_SENTENCES[4:])
    assert align_gap(*sentence_units(KITCHEN_EN, dropped), ratio, 2.5) == 3
    merged = "".join(KITCHEN_SENTENCES[:4]) + "窗户旁边挂着一本日历，" + "".join(KITCHEN_SENTENCES[5:])
    assert align_gap(*sentence_units(KITCHEN_EN, merged), ratio, 2.5) is None
    towel_gone = "".join(KITCHEN_SENTENCES[:5] + KITCHEN_SENTENCES[6:])  # 0.89 of the length: the ratio rule passes it
    assert align_gap(*sentence_units(KITCHEN_EN, towel_gone), ratio, 2.5) == 5
    assert align_gap(*sentence_units(KITCHEN_EN, dropped), ratio, 100.0) is None  # below the margin: no claim
    assert align_gap((10.0, 12.0), (10.0,), 1.0, 0.0) is None  # two sentences: the ratio rule's case


def test_a_dropped_sentence_that_keeps_the_turn_length_is_caught_by_alignment(tmp_path):
    dropped = "".join(KITCHEN_SENTENCES[:5] + KITCHEN_SENTENCES[6:])  # the towel: 0.89 of the full length
    merged = "".join(KITCHEN_SENTENCES[:4]) + "窗户旁边挂着一本日历，" + "".join(KITCHEN_SENTENCES[5:])
    # the alignment needs the set's own ratio: 60 faithful copies give it (a set under min_turns has none)
    full = "".join(KITCHEN_SENTENCES)
    records = [
        rec(f"full{i}", ("描述这张图片。", "Describe this photo."), (full, KITCHEN_EN), image=None) for i in range(60)
    ]
    records += [
        rec("dropped", ("描述这张图片。", "Describe this photo."), (dropped, KITCHEN_EN), image=None),
        rec("merged", ("描述这张图片。", "Describe this photo."), (merged, KITCHEN_EN), image=None),
    ]
    out = tmp_path / "out"
    config = load_config()
    config["dedupe"]["answers"]["enabled"] = False
    clean(make_dir(tmp_path / "in", records), out, config)
    kept = [r["id"] for r in json.loads((out / "chat.json").read_text(encoding="utf-8"))]
    rejected = {json.loads(line)["id"]: json.loads(line) for line in (out / "rejected.jsonl").open()}
    assert kept[-1] == "merged" and len(kept) == 61 and rejected["dropped"]["reasons"] == ["omission.sentences"]
    assert rejected["dropped"]["detail"]["omission.sentences"] == (
        "turn 1: 7 sentences in the source, 6 here, and aligned by length one has no counterpart (about sentence 6)"
    )


# sentences_lost skips the English sentence regex when a character count already shows the translation has as
# many sentences: that count must never fall below the regex's, whatever the text.
_PIECES = [
    "Mr",
    "Dr",
    "e.g",
    "etc",
    "U.S",
    "A",
    "cat",
    "Tea",
    "3",
    "2.5",
    ".",
    "!",
    "?",
    "...",
    "?!",
    ". ",
    "\n",
    "\n\n",
    " ",
    '"',
    "”",
    "'",
    ")",
    "]",
    "(",
    "`x.`",
    "```\nprint('a.')\n```",
    "<image>",
    "TEXT:",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
@example("Mr. Lee left. ")
@example('He said "Go." ')
@example("e.g.")
@example("It is open.) Then")
def test_the_character_bound_never_undercounts_english_sentences(text):
    assert english_sentence_bound(text) >= sentence_count(text, False)


def test_sentences_lost_is_unchanged_by_the_bound():
    pairs = [
        ("The bus is red. It has two doors. A man waits.", "公交车是红色的。它有两扇门。"),  # one lost
        ("The bus is red. It has two doors.", "公交车是红色的，它有两扇门。"),  # joined with a comma
        ("The bus is red. It has two doors.", "公交车是红色的。它有两扇门。"),  # kept
        ("e.g. this. And that", "例如这个。"),  # the tail counts
        ("One sentence only.", ""),
    ]
    assert [sentences_lost(s, v) for s, v in pairs] == [(3, 2), (2, 1), None, (2, 1), None]

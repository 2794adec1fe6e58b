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
from zqvl.data.clean.omission import paragraphs_lost, sentences_lost
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

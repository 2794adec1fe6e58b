"""attach-source: an already-translated set gets its English turn by turn, by id; a translation that kept only
some rounds is lined up with the right ones; records that cannot be lined up are kept without source and listed;
with the source attached, clean's source-aware checks see what they could not before."""

from __future__ import annotations

import json

import pytest
from helpers.datadir import jpeg_bytes, make_dir

from zqvl.cli.data import _main as data_main
from zqvl.data.attach_source import align, attach_source, rounds
from zqvl.data.schema import parse_record
from zqvl.errors import UsageError


def conv(*pairs, image=True):
    turns = []
    for i, (q, a) in enumerate(pairs):
        turns += [
            {"from": "human", "value": ("<image>\n" if image and i == 0 else "") + q},
            {"from": "gpt", "value": a},
        ]
    return turns


EN_ROUNDS = [
    ("What is the man holding?", "The man is holding a red umbrella."),
    ("How many buses are in the picture?", "There are 3 buses parked along the street next to the station."),
    (
        "Describe the scene in detail.",
        "A busy city street on a rainy evening. Several people walk under umbrellas past shops with bright signs, "
        "while a man in a dark coat waits at the crossing. Three buses are parked along the curb near the station, "
        "and the wet road reflects the lights of the traffic.",
    ),
]
ZH_ROUNDS = [
    ("这个男人拿着什么？", "这个男人拿着一把红色的雨伞。"),
    ("图片里有几辆公交车？", "街道上车站旁边停着3辆公交车。"),
    (
        "请详细描述这个场景。",
        "一个下雨的傍晚，城市街道十分繁忙。几个人打着伞走过招牌明亮的商店，一个穿深色外套的男人在路口等待。"
        "三辆公交车停在车站附近的路边，湿漉漉的路面映出车流的灯光。",
    ),
]


@pytest.fixture
def dirs(tmp_path):
    en = [
        {"id": "000001", "image": "a.jpg", "conversations": conv(*EN_ROUNDS)},
        {"id": "000002", "image": "a.jpg", "conversations": conv(*EN_ROUNDS)},
        {"id": "000004", "image": "a.jpg", "conversations": conv(EN_ROUNDS[0])},
        {"id": "000005", "image": "a.jpg", "conversations": conv(EN_ROUNDS[0])},
        {"id": "GCC_7", "image": "a.jpg", "conversations": conv(("Describe the image briefly.", "sale 50% off today"))},
    ]
    zh = [
        {"id": "000001", "image": "a.jpg", "conversations": conv(*ZH_ROUNDS)},  # every round
        {"id": "000002", "image": "a.jpg", "conversations": conv(ZH_ROUNDS[0], ZH_ROUNDS[2])},  # middle round dropped
        {"id": "000003", "image": "a.jpg", "conversations": conv(ZH_ROUNDS[0])},  # no English with this id
        {"id": "000004", "image": "a.jpg", "conversations": conv(*ZH_ROUNDS[:2])},  # more rounds than the English
        {"id": "000005", "image": "a.jpg", "conversations": conv(ZH_ROUNDS[0], image=False)},  # lost its <image>
        {"id": "GCC_7", "image": "a.jpg", "conversations": conv(("简要描述这张图片。", "今天促销，5折优惠"))},
    ]
    images = {"a.jpg": jpeg_bytes()}
    return make_dir(tmp_path / "zh", zh, images), make_dir(tmp_path / "en", en, images), tmp_path / "out"


def test_sources_attached_by_id_and_round(dirs, capsys):
    zh, en, out = dirs
    code = data_main(["attach-source", str(zh), "--english", str(en), "--out", str(out)])
    assert code == 1  # some records were listed
    records = json.loads((out / "chat.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in records] == ["000001", "000002", "000003", "000004", "000005", "GCC_7"]  # none lost
    full = records[0]["conversations"]
    assert [t["source"] for t in full] == [t["value"] for t in conv(*EN_ROUNDS)]  # turn by turn, <image> tags included
    kept = records[1]["conversations"]  # rounds 1 and 3 kept: their English, not rounds 1 and 2
    assert [t["source"] for t in kept] == [t["value"] for t in conv(EN_ROUNDS[0], EN_ROUNDS[2])]
    for r in records[2:5]:
        assert all("source" not in t for t in r["conversations"])
    listed = [json.loads(line) for line in (out / "mismatches.jsonl").read_text().splitlines()]
    assert [(m["id"], m["reason"]) for m in listed] == [
        ("000003", "id.not_in_english"),
        ("000004", "turns.more_than_english"),
        ("000005", "image_tags.differ"),
    ]
    assert (out / "images" / "a.jpg").read_bytes() == (zh / "images" / "a.jpg").read_bytes()
    printed = capsys.readouterr()
    assert "3 of 6 record(s)" in printed.err and "mismatches.jsonl" in printed.err


def test_clean_sees_what_only_the_source_shows(dirs):
    """A changed number (3 buses -> 8) is invisible without the English; with it, clean rejects the record."""
    from zqvl.data.clean.config import load_config
    from zqvl.data.clean.runner import clean

    zh, en, out = dirs
    attach_source(zh, en, out)
    records = json.loads((out / "chat.json").read_text(encoding="utf-8"))
    records[0]["conversations"][3]["value"] = "街道上车站旁边停着8辆公交车。"  # 3 buses became 8
    (out / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    without = json.loads((zh / "chat.json").read_text(encoding="utf-8"))
    without[0]["conversations"][3]["value"] = "街道上车站旁边停着8辆公交车。"
    (zh / "chat.json").write_text(json.dumps(without, ensure_ascii=False), encoding="utf-8")
    with_source = clean(out, out.parent / "clean_with", load_config())
    no_source = clean(zh, out.parent / "clean_without", load_config())
    rejected = {d.id for d in with_source.decisions if not d.kept}
    assert "000001" in rejected and "000001" not in {d.id for d in no_source.decisions if not d.kept}


def test_alignment_prefers_the_kept_prefix_on_a_tie():
    en = parse_record({"id": "x", "conversations": conv(("Q?", "A."), ("Q?", "A."), ("Q?", "A."), image=False)}, 0)
    zh = parse_record({"id": "x", "conversations": conv(("问？", "答。"), ("问？", "答。"), image=False)}, 0)
    assert align(rounds(zh.turns), rounds(en.turns)) == [0, 1]


def test_refusals_are_one_line(dirs, tmp_path):
    zh, en, out = dirs
    with pytest.raises(UsageError, match="--english .*no chat.json"):
        attach_source(zh, tmp_path / "nowhere", out)
    with pytest.raises(UsageError, match="is the input directory"):
        attach_source(zh, en, zh)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError):
        attach_source(zh, en, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"

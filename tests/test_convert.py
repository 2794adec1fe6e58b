"""zqvl-data convert: each raw format round-trips into canonical records with images placed."""

import json

import pytest
from helpers.datadir import jpeg_bytes

from zqvl.cli.data import _main as data_main
from zqvl.data.convert import convert, split_textocr_caption
from zqvl.data.io import load_records
from zqvl.data.validate import validate_dir
from zqvl.errors import UsageError
from zqvl.ui import run_cli


@pytest.fixture
def raw(tmp_path):
    d = tmp_path / "raw"
    (d / "images" / "coco").mkdir(parents=True)
    for name in ("a.jpg", "coco/b.jpg"):
        (d / "images" / name).write_bytes(jpeg_bytes(colour=(len(name) * 20, 90, 30)))
    return d


def write(path, rows, jsonl=False):
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) if jsonl else json.dumps(rows, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def test_llava_round_trip_with_text_only_and_extra_keys(raw, tmp_path):
    rows = [
        {
            "id": "000000033471",
            "image": "coco/b.jpg",
            "conversations": [
                {"from": "human", "value": "What are the colors of the bus in the image?\n<image>"},
                {"from": "gpt", "value": "The bus in the image is white and red."},
            ],
            "dataset": "instruct150k",
        },
        {
            "id": "GCC_1",
            "image": "a.jpg",
            "conversations": [
                {"from": "human", "value": "<image>\n简要描述这张图片。"},
                {"from": "gpt", "value": "一只狗。"},
            ],
        },
        {"id": "text_only", "conversations": [{"from": "human", "value": "你好"}, {"from": "gpt", "value": "你好！"}]},
    ]
    out = tmp_path / "out"
    stats = convert("llava", write(raw / "chat.json", rows), out)
    assert (stats.read, stats.written, stats.skipped) == (3, 3, {})
    assert json.loads((out / "chat.json").read_text()) == rows  # canonical input comes back unchanged
    assert (out / "images" / "coco" / "b.jpg").read_bytes() == (raw / "images" / "coco" / "b.jpg").read_bytes()
    assert not validate_dir(out).issues


def test_linksoul_and_missing_images_are_accounted(raw, tmp_path):
    rows = [
        {
            "id": "ls1",
            "image": "a.jpg",
            "conversations": [
                {"from": "human", "value": "<image>\n图片里有什么？"},
                {"from": "gpt", "value": "一辆公共汽车。"},
            ],
        },
        {
            "id": "ls2",
            "image": "gone.jpg",
            "conversations": [{"from": "human", "value": "<image>\n？"}, {"from": "gpt", "value": "无"}],
        },
        {
            "id": "ls3",
            "image": "../a.jpg",
            "conversations": [{"from": "human", "value": "<image>\n？"}, {"from": "gpt", "value": "无"}],
        },
        {"id": "ls4", "image": "a.jpg", "conversations": "oops"},
    ]
    out = tmp_path / "out"
    stats = convert("linksoul", write(raw / "zh.json", rows), out, image_root=raw / "images")
    assert [r.id for r in load_records(out / "chat.json")] == ["ls1"]
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert [(s["id"], s["code"]) for s in skipped] == [
        ("ls2", "image.missing"),
        ("ls3", "image.unsafe_path"),
        ("ls4", "structure.missing_conversations"),
    ]
    assert stats.read == stats.written + len(skipped)


CAPTION = (
    "DESCRIPTION\nA storefront at night with a neon sign above the door.\n\n"
    'TEXT\nThe neon sign reads "OPEN 24 HOURS".\nThe door sticker says: "No Smoking / Prohibido fumar".'
)


def test_textocr_keeps_transcription_verbatim(raw, tmp_path):
    out = tmp_path / "out"
    write(raw / "train.jsonl", [{"filename": "a.jpg", "caption": CAPTION}], jsonl=True)
    convert("textocr-gpt4o", raw, out)
    [rec] = load_records(out / "chat.json")
    assert rec.id == "a" and rec.images == ["a.jpg"]
    assert rec.turns[0].value.startswith("<image>\n")
    answer = rec.turns[1].value
    assert answer.startswith("A storefront at night with a neon sign above the door.")
    assert answer.endswith(
        'The neon sign reads "OPEN 24 HOURS".\nThe door sticker says: "No Smoking / Prohibido fumar".'
    )
    assert "DESCRIPTION" not in answer
    assert split_textocr_caption("just a caption") == ("just a caption", None)
    assert split_textocr_caption("**DESCRIPTION:**\nd\n\n### TEXT\nt") == ("d", "t")


def test_sharegpt4o_role_content_layout(raw, tmp_path):
    rows = [
        {
            "image": "coco/b.jpg",
            "conversations": [
                {"role": "user", "content": "Describe the image."},
                {"role": "assistant", "content": "A bus."},
            ],
        }
    ]
    out = tmp_path / "out"
    convert("sharegpt-4o", write(raw / "gpt4o.jsonl", rows, jsonl=True), out)
    [rec] = load_records(out / "chat.json")
    assert rec.id == "b" and [t.role for t in rec.turns] == ["human", "gpt"]
    assert rec.turns[0].value == "<image>\nDescribe the image."  # the implied tag is made explicit
    assert not validate_dir(out).issues


def test_unknown_layout_lists_fields(raw, tmp_path):
    write(raw / "train.jsonl", [{"url": "x", "alt": "y"}], jsonl=True)
    with pytest.raises(UsageError, match="fields found: alt, url"):
        convert("textocr-gpt4o", raw / "train.jsonl", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_cli_refuses_to_overwrite(raw, tmp_path, capsys):
    write(
        raw / "chat.json",
        [{"id": "1", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}],
    )
    out = tmp_path / "out"
    assert run_cli(data_main, ["convert", "--format", "llava", str(raw / "chat.json"), "--out", str(out)]) == 0
    before = (out / "chat.json").read_bytes()
    assert run_cli(data_main, ["convert", "--format", "llava", str(raw / "chat.json"), "--out", str(out)]) == 2
    assert "pass --force" in capsys.readouterr().err and (out / "chat.json").read_bytes() == before


def test_images_are_hard_linked_or_copied_on_request_and_overwrite_swaps(raw, tmp_path):
    rows = [
        {
            "id": f"r{i}",
            "image": "a.jpg",
            "conversations": [{"from": "human", "value": "<image>\n?"}, {"from": "gpt", "value": "狗。"}],
        }
        for i in range(3)
    ]
    src = write(raw / "chat.json", rows)
    linked, copied = tmp_path / "linked", tmp_path / "copied"
    assert convert("llava", src, linked).images == 1  # one file for three records
    assert (linked / "images" / "a.jpg").samefile(raw / "images" / "a.jpg")
    convert("llava", src, copied, copy=True)
    assert not (copied / "images" / "a.jpg").samefile(raw / "images" / "a.jpg")
    assert (copied / "images" / "a.jpg").read_bytes() == (raw / "images" / "a.jpg").read_bytes()
    convert("llava", write(raw / "two.json", rows[:2]), copied, overwrite=True)
    assert [r.id for r in load_records(copied / "chat.json")] == ["r0", "r1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copied", "linked", "raw"]  # no temp or old dirs

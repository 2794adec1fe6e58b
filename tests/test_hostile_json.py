"""chat.json elements that are JSON but cannot be records — nested 100,000 deep, an integer of 5,000 digits, a
duplicate key, a lone surrogate — are skipped and named by every command; the records around them go on."""

from __future__ import annotations

import json

import pytest
from helpers.datadir import jpeg_bytes

from zqvl.cli.data import _main as data_main
from zqvl.data.io import iter_json_values
from zqvl.data.schema import Unparsable
from zqvl.ui import run_cli


def good(i: int) -> str:
    return json.dumps(
        {
            "id": f"ok{i}",
            "image": "a.jpg",
            "conversations": [
                {"from": "human", "value": "<image>\n这是什么颜色？", "source": "<image>\nWhat colour is this?"},
                {"from": "gpt", "value": "这是红色的。", "source": "It is red."},
            ],
        },
        ensure_ascii=False,
    )


HOSTILE = {
    "deep": '{"id": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "medium_deep": '{"id": "medium", "x": ' + "[" * 700 + "]" * 700 + "}",
    "huge_int": '{"id": "huge", "n": ' + "9" * 5000 + "}",
    "duplicate_key": '{"id": "dup", "conversations": [], "conversations": []}',
    "surrogate": '{"id": "sur", "conversations": [{"from": "human", "value": "\\ud83d"}]}',
}
WHY = {
    "deep": "nests deeper",
    "medium_deep": "nests deeper than 64",
    "huge_int": "digits",
    "duplicate_key": "duplicate key 'conversations'",
    "surrogate": "lone surrogate",
}


def hostile_dir(root, kind):
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.jpg").write_bytes(jpeg_bytes())
    (root / "chat.json").write_text("[" + ",\n".join([good(0), HOSTILE[kind], good(1)]) + "]", encoding="utf-8")
    return root


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_reader_yields_the_element_as_unparsable(tmp_path, kind):
    values = list(iter_json_values(hostile_dir(tmp_path / "d", kind) / "chat.json"))
    assert [v["id"] for v in (values[0], values[2])] == ["ok0", "ok1"]
    assert isinstance(values[1], Unparsable) and WHY[kind] in values[1].problem


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_command_skips_and_names_it(tmp_path, kind, capsys):
    src = hostile_dir(tmp_path / "d", kind)
    assert run_cli(data_main, ["validate", str(src), "--report", str(tmp_path / "v.jsonl")]) == 1
    issues = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert [(i["id"], i["code"]) for i in issues] == [("#1", "structure.bad_json")]

    assert run_cli(data_main, ["clean", str(src), "--out", str(tmp_path / "c")]) == 0
    rejected = [json.loads(line) for line in (tmp_path / "c" / "rejected.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reasons"]) for r in rejected] == [("#1", ["structure.bad_json"])]
    assert [r["id"] for r in json.loads((tmp_path / "c" / "chat.json").read_text())] == ["ok0", "ok1"]

    assert run_cli(data_main, ["shard", str(src), "--out", str(tmp_path / "s"), "--workers", "2"]) == 0
    skipped = [json.loads(line) for line in (tmp_path / "s" / "skipped.jsonl").read_text().splitlines()]
    assert [(s["id"], s["reason"]) for s in skipped] == [("#1", "structure.bad_json")]
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["samples"] == 2
    capsys.readouterr()


def test_whitespace_only_is_an_empty_file(tmp_path):
    from zqvl.errors import UsageError

    (tmp_path / "chat.json").write_text(" \n\t\n" * 1000)
    with pytest.raises(UsageError, match="empty file"):
        list(iter_json_values(tmp_path / "chat.json"))


def test_invalid_utf8_names_the_real_byte(tmp_path):
    from zqvl.errors import UsageError

    text = ("[" + ",".join(good(i) for i in range(5))).encode()
    (tmp_path / "chat.json").write_bytes(text + b"\xff" + b"]")
    with pytest.raises(UsageError, match=f"not UTF-8 text at byte {len(text)} "):
        list(iter_json_values(tmp_path / "chat.json"))


def test_a_value_spanning_chunks_still_parses(tmp_path, monkeypatch):
    import zqvl.data.io as zio

    monkeypatch.setattr(zio, "CHUNK", 7)  # every record crosses several chunk boundaries
    records = [json.loads(good(i)) for i in range(3)]
    (tmp_path / "chat.json").write_text(json.dumps(records, ensure_ascii=False) + "\n", encoding="utf-8")
    assert list(iter_json_values(tmp_path / "chat.json")) == records
    (tmp_path / "deep.json").write_text("[" + good(0) + "," + HOSTILE["deep"] + "," + good(1) + "]")
    values = list(iter_json_values(tmp_path / "deep.json"))
    assert isinstance(values[1], Unparsable) and values[2]["id"] == "ok1"


def test_a_nul_in_an_image_path_is_an_unsafe_path_not_an_abort(tmp_path, capsys):
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.jpg").write_bytes(jpeg_bytes())
    records = [json.loads(good(0)), {**json.loads(good(1)), "image": "a\u0000.jpg"}]
    (root / "chat.json").write_text(json.dumps(records), encoding="utf-8")
    assert run_cli(data_main, ["validate", str(root), "--report", str(tmp_path / "v.jsonl")]) == 1
    issues = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert [(i["id"], i["code"]) for i in issues] == [("ok1", "image.unsafe_path")]
    assert run_cli(data_main, ["shard", str(root), "--out", str(tmp_path / "s")]) == 0
    skipped = [json.loads(line) for line in (tmp_path / "s" / "skipped.jsonl").read_text().splitlines()]
    assert [(s["id"], s["reason"]) for s in skipped] == [("ok1", "image.unsafe_path")]
    capsys.readouterr()

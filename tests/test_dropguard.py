"""The drop guard: a command that drops most of its records exits 1 with the share, the top reasons and a hint;
past 20 % it warns; below it only reports."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers.datadir import jpeg_bytes

from zqvl.cli.data import _main as data_main
from zqvl.data.dropguard import Drops
from zqvl.ui import run_cli


def llava_set(root, n, with_images):
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        if i < with_images:
            (root / "images" / f"{i}.jpg").write_bytes(jpeg_bytes(colour=(i * 10 % 255, 80, 40)))
        rows.append(
            {
                "id": f"r{i}",
                "image": f"{i}.jpg",
                "conversations": [
                    {"from": "human", "value": "<image>\nWhat is this?"},
                    {"from": "gpt", "value": "A colour."},
                ],
            }
        )
    (root / "chat.json").write_text(json.dumps(rows))
    return root / "chat.json"


def test_convert_with_the_wrong_images_dir_fails_with_a_hint(tmp_path, capsys):
    src = llava_set(tmp_path / "raw", 16, with_images=1)
    code = run_cli(data_main, ["convert", "--format", "llava", str(src), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "convert dropped 15 of 16 records (94%): image.missing 15; check --images" in err
    assert "more than --max-drop 0.5" in err
    assert (tmp_path / "out" / "chat.json").is_file()  # what was kept is still written, and listed


def test_convert_warns_between_20_percent_and_max_drop(tmp_path, capsys):
    src = llava_set(tmp_path / "raw", 10, with_images=7)
    code = run_cli(data_main, ["convert", "--format", "llava", str(src), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0 and "warning: convert dropped 3 of 10 records (30%)" in err
    code = run_cli(
        data_main, ["convert", "--format", "llava", str(src), "--out", str(tmp_path / "o2"), "--max-drop", "0.25"]
    )
    assert code == 1


def test_shard_of_a_set_missing_most_images_fails_with_a_hint(tmp_path, capsys):
    llava_set(tmp_path / "d", 10, with_images=3)
    code = run_cli(data_main, ["shard", str(tmp_path / "d"), "--out", str(tmp_path / "s")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1 and "shard dropped 7 of 10 records (70%): image.missing 7; check --images" in err
    assert (tmp_path / "s" / "manifest.json").is_file()  # the 3 good samples are written and complete
    code = run_cli(data_main, ["shard", str(tmp_path / "d"), "--out", str(tmp_path / "s2"), "--max-drop", "0.8"])
    assert code == 0 and "warning: shard dropped 7 of 10" in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize(
    "reasons, verdict, hint",
    [
        (Counter({"untranslated.turn": 15}), "fail", "run `zqvl-data translate` first"),
        (Counter({"too_long": 3}), "warn", "raise --max-len"),
        (Counter({"dedupe.answer": 1}), None, ""),
    ],
)
def test_verdicts(reasons, verdict, hint):
    level, line = Drops("clean", 10 if verdict != "fail" else 16, reasons).verdict(0.5)
    assert level == verdict and hint in line


def test_nothing_dropped_says_nothing():
    assert Drops("shard", 5).verdict() == (None, "")

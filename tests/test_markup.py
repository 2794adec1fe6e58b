"""User data that looks like rich markup (`[/]`, `[bold]`) prints as itself and never breaks the error path."""

from __future__ import annotations

import json

from helpers.datadir import jpeg_bytes

from zqvl.cli.data import _main as data_main
from zqvl.ui import run_cli


def odd_dir(root):
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.jpg").write_bytes(jpeg_bytes())
    records = [
        {
            "id": "[/]",
            "image": "a.jpg",
            "conversations": [{"from": "human", "value": "<image>\n[bold]这是什么？"}, {"from": "gpt", "value": "[/]"}],
        },
        {
            "id": "[red]x",
            "image": "gone[/].jpg",
            "conversations": [{"from": "human", "value": "<image>\n什么？"}, {"from": "gpt", "value": "猫。"}],
        },
    ]
    (root / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return root


def test_validate_clean_and_shard_print_markup_as_text(tmp_path, capsys):
    src = odd_dir(tmp_path / "in[/]")
    assert run_cli(data_main, ["validate", str(src)]) == 1
    out = capsys.readouterr()
    assert "Error" not in out.err and "gone[/].jpg" in out.out and "[red]x" in out.out
    assert run_cli(data_main, ["clean", str(src), "--explain", "[/]"]) == 0
    out = capsys.readouterr()
    assert "[/]: " in out.out and "MarkupError" not in out.err
    assert run_cli(data_main, ["shard", str(src), "--out", str(tmp_path / "s[/]"), "--workers", "0"]) == 0
    out = capsys.readouterr()
    assert "MarkupError" not in out.out + out.err and "s[/]" in out.out

"""Mistyped commands, options and config keys get a 'did you mean' on one line, never a traceback."""

from __future__ import annotations

import pytest

from zqvl.cli.data import _main as data_main
from zqvl.cli.train import _main as train_main
from zqvl.ui import run_cli


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1]


def test_mistyped_command(capsys):
    assert run_cli(data_main, ["valdiate", "x"]) == 2
    assert one_error_line(capsys) == "zqvl-data: error: unknown command 'valdiate' (did you mean validate?)"


def test_mistyped_option(tmp_path, capsys):
    assert run_cli(data_main, ["validate", str(tmp_path), "--max-lne", "5"]) == 2
    assert "unrecognized arguments: --max-lne (did you mean --max-len?) 5" in one_error_line(capsys)


def test_mistyped_yaml_key(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("learning_rate: 1e-3\nmax_stpes: 10\n")
    code = run_cli(
        train_main,
        [
            "--stage",
            "2",
            "--model",
            str(tmp_path),
            "--shards",
            str(tmp_path),
            "--out",
            str(tmp_path / "run"),
            "--config",
            str(config),
        ],
    )
    assert code == 2
    line = one_error_line(capsys)
    assert "unknown option(s) learning_rate, max_stpes (did you mean max_steps?)" in line


@pytest.mark.parametrize("word, expected", [("lr", ""), ("max_step", " (did you mean max_steps?)")])
def test_did_you_mean(word, expected):
    from zqvl.errors import did_you_mean

    assert did_you_mean(word, ["max_steps", "epochs"]) == expected


def test_train_help_describes_every_option(capsys):
    from zqvl.cli.train import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "--lr FLOAT peak learning rate (default 2e-05; preset stage 1: 0.001, stages 2-3: 2e-05)" in text
    assert "--schedule {cosine,linear,constant}" in text and "--zero-stage {0,1,2,3}" in text
    for action in build_parser()._actions:
        assert action.help, f"{action.option_strings} has no help"

"""Checkpoint bookkeeping in-process (no DeepSpeed): which checkpoint `latest` picks, what `prune` keeps, and the
run-dir lock that stops two zqvl-train runs writing into one RUN."""

from __future__ import annotations

import json

import pytest

from zqvl.cli.train import _main as train_main
from zqvl.data.lock import LOCK_NAME, exclusive_dir
from zqvl.errors import UsageError
from zqvl.train import checkpoint
from zqvl.ui import run_cli


def make_checkpoints(root, complete, incomplete=()):
    for step in (*complete, *incomplete):
        path = root / checkpoint.tag_of(step)
        path.mkdir(parents=True)
        (path / "mp_rank_00_model_states.pt").write_bytes(b"x")
        if step in complete:
            (path / checkpoint.MARKER).write_text(json.dumps({"step": step, "world_size": 1}))


def test_latest_is_the_newest_complete_checkpoint(tmp_path):
    assert checkpoint.latest(tmp_path / "missing") is None
    make_checkpoints(tmp_path, complete=(5, 10, 100), incomplete=(200,))  # 200: crashed while saving
    assert checkpoint.latest(tmp_path) == "step-00000100"  # numeric order, not 'step-10' < 'step-5'
    assert checkpoint.complete_tags(tmp_path) == ["step-00000005", "step-00000010", "step-00000100"]


def test_prune_keeps_the_newest_complete_and_drops_crashed_saves(tmp_path):
    make_checkpoints(tmp_path, complete=(1, 2, 3, 4), incomplete=(5,))
    (tmp_path / "unrelated.txt").write_text("keep me")
    checkpoint.prune(tmp_path, keep_last=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000003", "step-00000004", "unrelated.txt"]
    checkpoint.prune(tmp_path, keep_last=1)
    assert checkpoint.complete_tags(tmp_path) == ["step-00000004"]


def test_prune_refuses_to_keep_nothing(tmp_path):
    make_checkpoints(tmp_path, complete=(1, 2))
    with pytest.raises(ValueError):
        checkpoint.prune(tmp_path, keep_last=0)
    assert checkpoint.complete_tags(tmp_path) == ["step-00000001", "step-00000002"]


def test_a_second_writer_of_one_dir_is_refused(tmp_path):
    with exclusive_dir(tmp_path / "run", "zqvl-train"):
        with pytest.raises(UsageError, match="another zqvl-train is writing here"):
            with exclusive_dir(tmp_path / "run", "zqvl-train"):
                pass
    with exclusive_dir(tmp_path / "run", "zqvl-train") as lock:  # released: the next run may start
        assert lock.name == LOCK_NAME


def test_train_refuses_a_run_dir_another_run_holds(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    run = tmp_path / "run"
    with exclusive_dir(run, "zqvl-train"):
        code = run_cli(
            train_main, ["--stage", "2", "--model", str(tmp_path), "--shards", str(tmp_path), "--out", str(run)]
        )
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run}: another zqvl-train is writing here" in err
    assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]  # nothing else was written

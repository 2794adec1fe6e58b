"""Validation during training: --eval-every logs the val split's answer-token loss at the right steps, a resumed
run keeps the same schedule, and the number equals zqvl-eval's loss of the saved model."""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers.train_helpers import make_shards, sample_dir, tiny_model, train_cmd

pytestmark = pytest.mark.slow  # DeepSpeed runs: `make test-fast` skips it

COMMON = [
    "--stage",
    "2",
    "--batch-size",
    "4",
    "--num-workers",
    "0",
    "--lr",
    "5e-3",
    "--save-every",
    "2",
    "--eval-every",
    "2",
    "--group-batches",
    "1",
]


def val_rows(run):
    rows = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    return [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]


def test_val_loss_logged_resumed_and_equal_to_zqvl_eval(tmp_path):
    model = tiny_model(tmp_path / "model")
    shards = make_shards(sample_dir(tmp_path / "data", n=24), tmp_path / "shards", val_fraction=0.3)
    run = tmp_path / "run"
    first = subprocess.run(
        train_cmd(*COMMON, "--model", model, "--shards", shards, "--out", run, "--max-steps", "4"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    assert [s for s, _ in val_rows(run)] == [2, 4]
    (run / "final").rename(tmp_path / "final_at_4")  # --resume continues from the step-2 checkpoint
    resumed = subprocess.run(
        train_cmd("--out", run, "--resume", "--max-steps", "6"), capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = val_rows(run)
    assert [s for s, _ in rows] == [2, 4, 6] and all(loss > 0 for _, loss in rows)
    summary = json.loads((run / "summary.json").read_text())
    assert [s for s, _ in summary["val_losses"]] == [4, 6] and summary["val_loss"] == rows[-1][1]

    from zqvl.infer.eval import EvalOptions, answer_loss, load_items
    from zqvl.model.build import load_model

    items, split = load_items([str(shards)])
    net, processor = load_model(run / "final")
    loss, _, _ = answer_loss(net.eval(), processor, items, EvalOptions(batch_size=4))
    assert split == "val" and abs(loss - rows[-1][1]) < 1e-5

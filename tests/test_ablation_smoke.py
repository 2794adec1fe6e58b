"""Smoke runs of `make ablation` and `make demo` (a tiny world, 2 steps per stage): files and keys, not quality."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL_KEYS = {"name", "loss", "exact_match", "chrf", "ended", "defects", "sampled_defects"}


def _run(script: str, *args: str) -> None:
    # the console scripts the tools call live beside this interpreter and import this checkout
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, str(REPO / script), *args], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL
    )


@pytest.mark.slow
def test_ablation_smoke_writes_results(tmp_path):
    out = tmp_path / "ablation"
    _run("tools/experiments/clean_ablation.py", "--smoke", "--out", str(out))
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(results) == ["stage2", "raw", "clean"]
    for model in results.values():
        assert MODEL_KEYS <= set(model)
        assert model["sampled_defects"], "sampled answers were asked for"
    table = (out / "results.md").read_text(encoding="utf-8")
    assert "| val loss |" in table and "defect rate, sampled" in table


@pytest.mark.slow
def test_demo_smoke_writes_eval(tmp_path):
    out = tmp_path / "demo"
    _run("tools/demo.py", "--smoke", "--out", str(out))
    scores = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert [m["name"] for m in scores["models"]] == ["stage1", "stage2", "stage3"]
    assert all(MODEL_KEYS <= set(m) for m in scores["models"])
    assert (out / "clean" / "chat.json").is_file()  # the data-tool steps ran on the bundled sample

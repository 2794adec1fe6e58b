"""tools/bench/gpu_train.py --smoke: the GPU benchmark's code path (model builds, synthetic data, zqvl-train with
packing, the seeds' recipe, the table) end to end on CPU with tiny shapes, so it does not rot between GPU runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_gpu_bench_smoke_runs_both_shapes_and_prints_ratios():
    done = subprocess.run(
        [sys.executable, str(REPO / "tools/bench/gpu_train.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=900,
        env={"COLUMNS": "200", **__import__("os").environ},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    assert "smoke (tiny shapes, CPU: not a speed figure)" in text
    for shapes in ("tiny-qwen-vl + seed-tiny-qwen2", "seed-tiny-clip + seed-tiny-qwen2"):
        line = next(ln for ln in text.splitlines() if shapes in ln and "zqvl-train" in ln)
        samples_s, tokens_s = re.findall(r"│\s*([\d,.]+)\s*", line)[:2]
        assert float(samples_s.replace(",", "")) > 0 and float(tokens_s.replace(",", "")) > 0
    ratios = next(ln for ln in text.splitlines() if "zqvl / seed" in ln)
    assert len(re.findall(r"\d+\.\d\dx", ratios)) >= 2  # samples/s and tokens/s against the seed recipe

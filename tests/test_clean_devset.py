"""Regression floors on the public dev set (a copy of ../shared/clean_devset lives in tests/data/): recall per defect class and false positives,
scored by the dev set's own score.py. The floors are what the filters achieve today; a change that loses a
caught defect or drops a good record fails here. (The tool is judged on unseen data too: the cases in
test_clean_cases.py are written independently of this set.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zqvl.data.clean.config import load_config
from zqvl.data.clean.runner import clean

DEVSET = Path(os.environ.get("ZQVL_CLEAN_DEVSET", Path(__file__).resolve().parent / "data" / "clean_devset"))
RECALL_FLOOR = {
    cls: 1.0
    for cls in (
        "markdown_broken",
        "near_duplicate",
        "numbers_changed",
        "ocr_translated",
        "placeholder",
        "preamble",
        "refusal",
        "repetition",
        "residue",
        "structure",
        "traditional",
        "truncated",
        "untranslated",
    )
}
MAX_FALSE_POSITIVES = 0  # of 90 clean records (hard negatives included)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    assert (DEVSET / "data" / "chat.json").is_file(), f"dev set not found at {DEVSET}"
    out = tmp_path_factory.mktemp("devset") / "out"
    clean(DEVSET / "data", out, load_config())
    run = subprocess.run([sys.executable, str(DEVSET / "score.py"), str(out)], capture_output=True, text=True)
    return out, run


def test_output_is_well_formed_for_the_scorer(scored):
    _, run = scored
    assert run.returncode == 0, run.stderr
    assert "MALFORMED" not in run.stderr


def test_recall_per_class_meets_floor(scored):
    _, run = scored
    recall = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+)\s+\d+\s+\d+\s+([\d.]+)", run.stdout, re.M)}
    assert set(recall) == set(RECALL_FLOOR)
    low = {c: r for c, r in recall.items() if r < RECALL_FLOOR[c]}
    assert not low, run.stdout


def test_false_positives_within_ceiling(scored):
    _, run = scored
    m = re.search(r"clean: (\d+)/(\d+) rejected", run.stdout)
    assert m and int(m.group(1)) <= MAX_FALSE_POSITIVES, run.stdout


def test_every_dev_record_accounted_for_once(scored):
    out, _ = scored
    labels = json.loads((DEVSET / "labels.json").read_text())
    kept = [r["id"] for r in json.loads((out / "chat.json").read_text(encoding="utf-8"))]
    rejected = [json.loads(line)["id"] for line in (out / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(kept + rejected) == sorted(labels)

"""`zqvl-data clean --workers N`: the per-record checks run in N processes, and nothing about the output may
depend on N — same kept records, same reasons in the same order, same images placed."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest

from zqvl.cli.data import main
from zqvl.data.checks import Reason
from zqvl.data.clean import examine
from zqvl.data.clean.examine import CHUNK

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from make_translated_set import generate  # noqa: E402


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    """Four chunks and a bit, so the pool really starts (the first two chunks are done before it would be up)."""
    root = tmp_path_factory.mktemp("workers") / "set"
    generate(root, 4 * CHUNK + 37, seed=3)
    return root


def _run(*argv: str) -> int:
    with pytest.raises(SystemExit) as e:
        main(["clean", *argv])
    return e.value.code


def _outputs(out: Path) -> dict[str, bytes]:
    files = {f: (out / f).read_bytes() for f in ("chat.json", "rejected.jsonl")}
    files["images"] = "\n".join(sorted(p.name for p in (out / "images").iterdir())).encode()
    return files


def test_outputs_are_byte_identical_whatever_the_workers(translated, tmp_path, capsys, monkeypatch):
    pools = []

    class CountedPool(examine.ProcessPoolExecutor):
        def __init__(self, workers, **kw):
            pools.append(workers)
            super().__init__(workers, **kw)

    monkeypatch.setattr(examine, "ProcessPoolExecutor", CountedPool)
    runs = {}
    for n in (1, 2, 3):
        out = tmp_path / f"w{n}"
        assert _run(str(translated), "--out", str(out), "--workers", str(n)) == 0
        runs[n] = _outputs(out)
    assert pools == [2, 3]  # --workers 1 runs in-process; the others really used a pool
    assert runs[1] == runs[2] == runs[3]
    rejected = runs[1]["rejected.jsonl"].decode().splitlines()
    assert len(rejected) > 50 and any('"dedupe.image"' in line for line in rejected)  # set-level checks ran too


def test_reasons_cross_processes_with_their_detail():
    r = pickle.loads(pickle.dumps(Reason("junk.json", "starts as JSON")))
    assert r == "junk.json" and r.detail == "starts as JSON" and r.family == "junk"


def test_workers_must_be_positive(translated, tmp_path, capsys):
    assert _run(str(translated), "--out", str(tmp_path / "o"), "--workers", "0") == 2
    err = capsys.readouterr().err
    assert "--workers 0" in err and "Traceback" not in err

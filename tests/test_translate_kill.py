"""kill -9 of a real `zqvl-data translate` process, twice, then resume: the result is byte-identical to an
uninterrupted run, nothing the cache holds is requested again, and the API key appears nowhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.fake_openai_server import FakeOpenAI
from helpers.translate_records import sample_records, write_chat_dir

from zqvl.cli.data import _main
from zqvl.data.translate.cache import TranslationCache
from zqvl.data.translate.runner import CACHE_NAME
from zqvl.data.translate.spans import mask
from zqvl.ui import run_cli

pytestmark = pytest.mark.slow  # trains or kills real processes: `make test-fast` skips it

KEY = "sk-kill-test-5f3c9a0e7b21-DO-NOT-LEAK"
FAULTS = {"zebra": ["429"], "poison": ["lost_placeholder"] * 99}  # 429 with Retry-After: 0


def zqvl_data_command() -> list[str]:
    script = Path(sys.executable).parent / "zqvl-data"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from zqvl.cli.data import main; main()"]


def translate_args(src: Path, out: Path, base_url: str) -> list[str]:
    return [
        "translate",
        str(src),
        "--out",
        str(out),
        "--base-url",
        base_url,
        "--model",
        "fake-mt",
        "--dedupe",
        "--api-key-env",
        "ZQVL_KILL_TEST_KEY",
        "--concurrency",
        "4",
        "--max-attempts",
        "3",
        "--pack-tokens",  # ~3 answers or ~14 questions a request: packs and singles both in flight at a kill
        "100",
    ]


def files_under(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_kill_9_then_resume_is_byte_identical_and_resends_nothing_cached(tmp_path, monkeypatch):
    src = write_chat_dir(tmp_path / "in", sample_records(240, ("dog", "cat", "zebra", "poison", "owl")))
    monkeypatch.setenv("ZQVL_KILL_TEST_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    reference = tmp_path / "reference"
    with FakeOpenAI(api_key=KEY, faults=FAULTS) as srv:
        assert run_cli(_main, translate_args(src, reference, srv.base_url) + ["--no-progress"]) == 1

    out = tmp_path / "out"
    outputs: list[bytes] = []
    with FakeOpenAI(api_key=KEY, faults=FAULTS, latency=0.01) as srv:
        command = zqvl_data_command() + translate_args(src, out, srv.base_url)
        cached_at_kill: list[tuple[int, set[str]]] = []
        for kill_after in (40, 130):
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while len(srv.log) < kill_after and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            assert proc.poll() is None, "the run ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            outputs += [stdout, stderr]
            time.sleep(0.05)  # requests the dead process had already sent may still land in the log
            assert not (out / "chat.json").exists()
            cache = TranslationCache(out / CACHE_NAME)
            cached_at_kill.append((len(srv.log), cache.sources()))
            cache.close()
        resumed = subprocess.run(command, capture_output=True, timeout=120)
        outputs += [resumed.stdout, resumed.stderr]
        assert resumed.returncode == 1, resumed.stderr.decode()

    # Each kill left answers behind, and none of them was ever requested again.
    (mark1, cached1), (mark2, cached2) = cached_at_kill
    assert 0 < len(cached1) < len(cached2) < 5 + 240
    for mark, cached in cached_at_kill:
        asked_later = {t for r in srv.log[mark:] for t in r.texts}
        assert not asked_later & {mask(s).body for s in cached}
    # Over all three runs every string was answered, and only requests in flight at a kill were repeated:
    # at most 4 workers' requests, each carrying at most the largest pack, per kill.
    assert srv.packed() and max(len(r.texts) for r in srv.log) > 1
    ok = [t for r in srv.log if r.status == 200 for t in r.texts if "poison" not in t]
    assert len(set(ok)) == 5 + 240 - 48
    assert len(ok) - len(set(ok)) <= 2 * 4 * max(len(r.texts) for r in srv.log)

    # Same bytes as the run that was never interrupted.
    ref_files, out_files = files_under(reference), files_under(out)
    for name in ("chat.json", "failed.jsonl"):
        assert out_files[name] == ref_files[name]
    assert sorted(n for n in out_files if n.startswith("images/")) == sorted(
        n for n in ref_files if n.startswith("images/")
    )
    assert out_files["failed.jsonl"].count(b"\n") == 48

    # The key is in no output stream and no file: chat, failed list, summary, cache (and its WAL).
    secret = KEY.encode()
    assert all(secret not in stream for stream in outputs)
    assert b"failed.jsonl" in outputs[-1] and b"requests" in outputs[-2]  # the warning; the summary table
    for files in (ref_files, out_files):
        assert any(name.startswith(CACHE_NAME) for name in files)
        assert [name for name, data in files.items() if secret in data] == []

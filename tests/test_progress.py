"""zqvl.progress: plain lines for logs (periodic, with a last one), silence for short jobs, a no-op default."""

from __future__ import annotations

import io

from zqvl.progress import NULL, LineProgress, open_progress


def test_lines_when_not_a_terminal():
    stream = io.StringIO()
    with open_progress("clean", None, "kept", stream=stream, every=0) as progress:
        assert isinstance(progress, LineProgress)
        progress.stage("scan", 4)
        progress.advance(2, kept=1)
        progress.advance(2, kept=2)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("clean: scan 2/4 (50%)") and "kept=1" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("clean: scan 4/4 (100%)") and lines[-1].endswith("kept=2 done")


def test_a_short_job_prints_nothing():
    stream = io.StringIO()
    with open_progress("validate", 10, stream=stream, every=3600) as progress:
        progress.advance(10)
    assert stream.getvalue() == ""


def test_disabled_and_null_are_silent():
    stream = io.StringIO()
    with open_progress("x", 3, stream=stream, enabled=False) as progress:
        assert progress is NULL
        progress.stage("a", 1)
        progress.advance(1, f=2)
        progress.update(1)
    assert stream.getvalue() == ""

"""One writer per output directory: an exclusive, non-blocking flock on DIR/.zqvl.lock.

The OS drops the lock when the process dies, even on SIGKILL, so a crashed run never blocks the next one; two
runs started together cannot both pass a "is --out empty?" check and then corrupt each other.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from zqvl.errors import UsageError

LOCK_NAME = ".zqvl.lock"


@contextmanager
def exclusive_dir(directory: str | Path, command: str) -> Iterator[Path]:
    """Hold the lock of `directory` (created if needed) for the block; UsageError if another process holds it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)   # empty: output stays byte-identical
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{directory}: another {command} is writing here; wait for it to finish") from None
        yield path
    finally:
        os.close(fd)


def is_only_lock(directory: Path) -> bool:
    """True when the directory holds nothing but (perhaps) the lock file: a fresh output."""
    return all(p.name == LOCK_NAME for p in directory.iterdir())

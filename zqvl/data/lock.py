"""One writer per output directory: an exclusive, non-blocking flock on DIR/.zqvl.lock.

The OS drops the lock when the process dies, even on SIGKILL, so a crashed run never blocks the next one; two
runs started together cannot both pass a "is --out empty?" check and then corrupt each other.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zqvl.errors import UsageError

LOCK_NAME = ".zqvl.lock"


@contextmanager
def exclusive_file(path: str | Path, busy: str, remove: bool = False) -> Iterator[Path]:
    """Hold an exclusive lock on `path` (created, empty) for the block; UsageError(busy) if another process holds
    it. `remove`: delete the lock file when done (for locks beside an output, which would be litter)."""
    path = Path(path)
    while True:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)  # empty: outputs holding it stay byte-identical
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(busy) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the file we locked was removed by its last holder meanwhile: lock the new one
    try:
        yield path
    finally:
        if remove:
            path.unlink(missing_ok=True)  # before unlocking, so a waiter never locks a removed file for good
        os.close(fd)


@contextmanager
def exclusive_dir(directory: str | Path, command: str) -> Iterator[Path]:
    """Hold the lock of `directory` (created if needed) for the block: for outputs written in place."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with exclusive_file(
        directory / LOCK_NAME, f"{directory}: another {command} is writing here; wait for it to finish"
    ) as path:
        yield path


def is_only_lock(directory: Path) -> bool:
    """True when the directory holds nothing but (perhaps) the lock file: a fresh output."""
    return all(p.name == LOCK_NAME for p in directory.iterdir())

"""Persistent translation cache: sqlite in WAL mode, one committed row per accepted answer.

Keyed by sha256(model, prompt version, variant, source text). `variant` is 0 for every string under
--dedupe; without it, the n-th repeat of a string is its own job (variant n), so repeats get their own
translation and still resume exactly. Each answer is committed the moment it is accepted, before it counts as
done: a SIGKILL at any instant loses at most the requests still in flight, never a committed answer, and WAL
keeps the file consistent however the process dies. synchronous=NORMAL is durable against a process crash
(the OS still holds the WAL); only a power cut may lose the last commits, never corrupt older ones.
Only accepted answers are stored: failures are retried by the next run. No secret is ever written here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from zqvl.errors import UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS translations (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    variant INTEGER NOT NULL,
    source TEXT NOT NULL,
    translation TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)"""


def cache_key(model: str, prompt_version: str, source: str, variant: int = 0) -> str:
    return hashlib.sha256(json.dumps([model, prompt_version, variant, source]).encode()).hexdigest()


class TranslationCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise _cache_error(self.path, e) from None

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT translation FROM translations WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def __contains__(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM translations WHERE key = ?", (key,)).fetchone() is not None

    def cached(self, keys: list[str]) -> set[str]:
        """Which of `keys` are cached, in one query (the request phase checks jobs in batches, not one by one)."""
        found: set[str] = set()
        for i in range(0, len(keys), 500):  # stay under sqlite's bound-parameter limit
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0] for row in self._db.execute(f"SELECT key FROM translations WHERE key IN ({marks})", chunk)
            )
        return found

    def put(
        self,
        key: str,
        *,
        model: str,
        prompt_version: str,
        variant: int,
        source: str,
        translation: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        """Commit one answer (autocommit: the row is in the WAL when this returns)."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    prompt_version,
                    variant,
                    source,
                    translation,
                    prompt_tokens,
                    completion_tokens,
                    time.time(),
                ),
            )
        except sqlite3.DatabaseError as e:
            raise _cache_error(self.path, e) from None

    def sources(self) -> set[str]:
        """Every cached source string (tests use it to prove nothing cached is requested again)."""
        return {row[0] for row in self._db.execute("SELECT source FROM translations")}

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def _cache_error(path: Path, error: sqlite3.DatabaseError) -> UsageError:
    """A full disk or an I/O error is not a damaged cache: say which, so the user frees space and reruns."""
    text = str(error).lower()
    if "full" in text or "i/o" in text or "readonly" in text or "unable to open" in text:
        return UsageError(
            f"{path}: cannot write the translation cache ({error}); answers already cached are "
            "kept: free space (or fix permissions) and rerun to continue"
        )
    return UsageError(f"{path}: not a usable translation cache ({error})")

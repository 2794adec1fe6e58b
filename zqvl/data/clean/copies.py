"""Answers copied from another record: the same Chinese answers as a kept record whose English says something else.

A translation reused under the wrong record (a cache keyed badly, a translator that repeated itself) reads as
perfect Chinese; MinHash (dedupe.py) misses it when the answer is short, as most captions are. Keep-first, like
the other indexes: a later record whose answers equal a kept one's while its English shares less than
`max_source_overlap` of its content words is the copy.
"""

from __future__ import annotations

import hashlib
import re

from zqvl.data.clean.dedupe import answer_text
from zqvl.data.schema import GPT, Record

_EN_WORD = re.compile(r"[a-z0-9]+")
_EN_STOP = frozenset("a an the of and or with on in at to is are was were it its this that for from by as be".split())


def copy_signature(record: Record, min_chars: int, text: str | None = None) -> tuple[bytes, str] | None:
    """(key of the normalised answers, the English behind them), or None when the answers are shorter than
    min_chars or a gpt turn has no source. `text` is answer_text(record) when the caller has it. Deterministic
    across processes (a worker computes it; the parent compares). The English is only split into words when
    two answers collide, which few do."""
    sources = [t.source for t in record.turns if t.role == GPT]
    text = answer_text(record) if text is None else text
    if len(text) < min_chars or not sources or any(s is None for s in sources):
        return None
    return hashlib.blake2b(text.encode(), digest_size=8).digest(), "\n".join(sources)


def _content_words(english: str) -> set[str]:
    return {w for w in _EN_WORD.findall(english.casefold()) if w not in _EN_STOP}


class CopiedAnswers:
    """Keep-first for answers copied from another record: the same Chinese answers (normalised) as a kept record
    whose English says something else (content-word Jaccard below `max_source_overlap`) — a translation reused
    under the wrong record, which MinHash misses when the answer is short. The same answer for the same English
    (two photos captioned alike) is not a copy. Memory: 8 bytes + the English per kept answer."""

    def __init__(self, min_chars: int, max_source_overlap: float):
        self.min_chars, self.max_source_overlap = min_chars, max_source_overlap
        self._pending: dict[int, tuple[bytes, str]] = {}
        self._kept: dict[bytes, tuple[int, str]] = {}

    def remember(self, key: int, signature: tuple[bytes, str] | None) -> None:
        if signature is not None:
            self._pending[key] = signature

    def pending(self, key: int) -> tuple[bytes, str] | None:
        return self._pending.get(key)

    def empty_copy(self) -> CopiedAnswers:
        return CopiedAnswers(self.min_chars, self.max_source_overlap)

    def lookup(self, key: int) -> tuple[int | None, bool]:
        """(the kept key holding the same answers as `key` or None, whether `key` is a copy of it: its English
        shares less than max_source_overlap of that record's content words)."""
        mine = self._pending.get(key)
        found = self._kept.get(mine[0]) if mine else None
        if found is None:
            return None, False
        a, b = _content_words(mine[1]), _content_words(found[1])
        overlap = len(a & b) / len(a | b) if a | b else 1.0
        return found[0], overlap < self.max_source_overlap

    def keep(self, key: int) -> None:
        mine = self._pending.pop(key, None)
        if mine is not None and mine[0] not in self._kept:
            self._kept[mine[0]] = (key, mine[1])

    def discard(self, key: int) -> None:
        self._pending.pop(key, None)


def copied_answers(config: dict) -> CopiedAnswers | None:
    """The copied-answer index the config's `dedupe.copies` asks for (None where disabled)."""
    copies = config["dedupe"]["copies"]
    return CopiedAnswers(copies["min_chars"], copies["max_source_overlap"]) if copies["enabled"] else None

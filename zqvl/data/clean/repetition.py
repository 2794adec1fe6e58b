"""repetition loop: a word, clause, sentence, list item or table row repeated far beyond the source.

Decoding loops ("非常非常非常…", a row printed eight times) are measured three ways: back-to-back repeats
of one unit, duplicated lines, duplicated sentences. Each is compared with the same measure on the source,
so repetition that is really there ("GO! GO! GO!" on a banner, a receipt line printed twice) passes.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import CACHE, CJK_CLASS, nfkc, nonempty_lines, sentences

TANDEM_RE = re.compile(r"(.{1,40}?)\1{2,}", re.S)
_MAX_UNIT = 40  # TANDEM_RE's longest unit
_VECTOR_MAX_CHARS = 20_000  # longer texts use the regex itself (the arrays grow as chars x units)
_PAD = np.uint32(0xFFFFFFFF)  # not a code point: never equal to a character
HAS_WORD = re.compile(f"[A-Za-z{CJK_CLASS}]")
HAS_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")


def _min_copies(unit: str) -> int:
    if not HAS_WORD.search(unit):  # digits and punctuation only: "1,000,000,000" repeats ",000" naturally
        return 5
    n = len(unit.strip()) or 1
    return 6 if n == 1 else 4 if n <= 3 else 3


@lru_cache(maxsize=CACHE)
def _four_grams(text: str) -> tuple[int, int]:
    """(total, distinct) character 4-grams of the text with whitespace removed."""
    t = "".join(text.split())  # _SPACE.sub("", text): \s is exactly str.isspace()
    total = len(t) - 3
    return (total, len({t[i : i + 4] for i in range(total)})) if total > 0 else (0, 0)


def _tandem_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, unit length, copies) of each TANDEM_RE.finditer(text) match, found with array operations.

    At each position the regex takes the shortest unit (1..40 characters) that two more copies follow, then
    as many copies as there are, and goes on after them. Here `run[i, L-1]` is how far the text keeps
    period L from position i (c[j] == c[j+L] for i <= j < i+run): three copies start at i iff run >= 2L,
    and the copies are (L + run) // L. The scan over match starts then follows the regex exactly; only the
    per-position search is vectorised (about half the regex's cost on texts that repeat something).
    """
    n = len(text)
    units = min(_MAX_UNIT, n // 3)
    if units < 1:
        return []
    if n > _VECTOR_MAX_CHARS:
        return [(m.start(), len(m.group(1)), len(m.group(0)) // len(m.group(1))) for m in TANDEM_RE.finditer(text)]
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    window = sliding_window_view(np.concatenate([codes, np.full(units, _PAD, dtype=np.uint32)]), units + 1)
    same = window[:, 1:] == window[:, :1]  # same[i, L-1]: c[i] == c[i+L]
    position = np.arange(n, dtype=np.int32)[:, None]
    breaks = np.minimum.accumulate(np.where(same, np.int32(n), position)[::-1], axis=0)[::-1]
    run = breaks - position  # next break of period L at or after i, minus i
    three = run >= 2 * np.arange(1, units + 1, dtype=np.int32)
    starts = np.flatnonzero(three.any(axis=1))
    spans, end = [], 0
    if len(starts):
        for start, shortest in zip(starts.tolist(), three[starts].argmax(axis=1).tolist()):
            if start >= end:
                unit = shortest + 1
                copies = (unit + int(run[start, shortest])) // unit
                spans.append((start, unit, copies))
                end = start + copies * unit
    return spans


@lru_cache(maxsize=CACHE)
def tandems(text: str) -> tuple[tuple[str, int], ...]:
    """(unit, copies) for every stretch where one unit repeats back to back at least 3 times."""
    # Every loop this module acts on repeats some 4-gram at least three times; most texts repeat none,
    # and counting distinct 4-grams is far cheaper than the back-reference regex.
    total, distinct = _four_grams(text)
    if total - distinct < 2:
        return ()
    found = []
    for start, length, copies in _tandem_spans(text):  # the matches of TANDEM_RE.finditer(text)
        unit = text[start : start + length]
        # Rules and separators ("|---|---|", "……") repeat by design; a unit needs a letter, character or digit.
        if HAS_WORD.search(unit) or (HAS_DIGIT.search(unit) and len(unit) >= 2):
            found.append((unit, copies))
    return tuple(found)


def _dup_excess(items: list[str]) -> int:
    return sum(c - 1 for c in Counter(items).values() if c > 1)


def _no_repeats(text: str) -> bool:
    # Two extra copies of a line (>= 3 characters) or sentence repeat at least two 4-grams.
    total, distinct = _four_grams(text)
    return total - distinct < 2


@lru_cache(maxsize=CACHE)
def line_excess(text: str) -> int:
    if _no_repeats(text):
        return 0
    return _dup_excess([_SPACE.sub(" ", ln.strip()) for ln in nonempty_lines(text) if len(ln.strip()) >= 3])


@lru_cache(maxsize=CACHE)
def sentence_excess(text: str) -> int:
    if _no_repeats(text):
        return 0
    return _dup_excess([s for s in sentences(text) if len(s) >= 6])


_CLAUSE_SPLIT = re.compile(r"(?:[，,；;。！？!?：:\n]|\.(?=\s|$))+")  # an English full stop, not a decimal point
_MIN_CLAUSE = 6  # characters (spaces left out): "是的，是的" and short list items repeat naturally


@lru_cache(maxsize=CACHE)
def clause_excess(text: str) -> int:
    """Copies of the most repeated clause beyond its first ("过桥后左转进入溪流步道，左转进入溪流步道，左转进入溪流步道。"
    is 2: the first copy may run on from the words before it, so a clause ending in another counts as a copy). A
    loop whose copies differ in their punctuation is no back-to-back repeat and no duplicated sentence."""
    if _no_repeats(text):
        return 0
    clauses = [c for c in ("".join(c.split()) for c in _CLAUSE_SPLIT.split(text)) if len(c) >= _MIN_CLAUSE]
    repeated = [c for c, n in Counter(clauses).items() if n > 1]
    return max((sum(other.endswith(c) for other in clauses) - 1 for c in repeated), default=0)


def repetition_score(text: str) -> float:
    """Share of repeated character 4-grams (spaces removed): ~0 for normal prose, →1 for a loop."""
    total, distinct = _four_grams(text)
    return 0.0 if total < 12 else 1.0 - distinct / total


def _loop(value: str, source: str | None) -> str | None:
    for unit, copies in tandems(value):
        if copies < _min_copies(unit):
            continue
        if source and (
            max((c for _, c in tandems(source)), default=1) >= copies - 1
            or nfkc(source).casefold().count(nfkc(unit).casefold().strip()) >= copies
        ):
            continue  # the source repeats as much (a chant on a banner, a receipt line)
        return f"{unit.strip()[:30]!r} × {copies}"
    return None


@register("repetition")
def check_repetition(record, params: dict) -> list[Reason]:
    """Back-to-back loops, and duplicated lines or sentences beyond what the source has."""
    out: dict[str, list[str]] = {}
    for i, turn in enumerate(record.turns):
        value, source = turn.value, turn.source
        loop = _loop(value, source)
        if loop:
            out.setdefault("repetition.loop", []).append(f"turn {i}: {loop}")
        if _no_repeats(value):  # no duplicated line, sentence or clause can be in it
            continue
        # Against a source one extra copy is already a defect: the source shows the text was there once.
        need = params["min_excess_with_source"] if source else params["min_excess"]
        for code, measure, extra in (
            ("repetition.lines", line_excess, 0),
            ("repetition.sentences", sentence_excess, 0),
            ("repetition.clauses", clause_excess, 1),  # a clause said twice can be emphasis: three times is a loop
        ):
            mine = measure(value)
            excess = mine - (measure(source) if source and mine >= need + extra else 0)
            if excess >= need + extra:
                out.setdefault(code, []).append(f"turn {i}: {excess} more duplicates than the source")
    if "repetition.loop" in out or "repetition.sentences" in out:
        out.pop("repetition.clauses", None)  # the same repeat, counted twice
    if "repetition.loop" in out:
        out.pop("repetition.sentences", None)
    return [Reason(code, "; ".join(hits)) for code, hits in out.items()]

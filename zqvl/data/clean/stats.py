"""Per-record measurements for the report's distributions and the set-level length check.

length ratio: target/source text units over all translated turns (a Chinese character ≈ 3 Latin letters);
Latin share: the share of the target's text units written in Latin script, protected spans included;
repetition score: the worst turn's share of repeated character 4-grams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from zqvl.data.clean.omission import sentence_units, sentences_lost
from zqvl.data.clean.repetition import repetition_score
from zqvl.data.clean.text import CACHE, strip_image_tags
from zqvl.data.clean.truncation import log_ratio, text_units, unit_counts
from zqvl.data.schema import Record


@dataclass(frozen=True, slots=True)
class RecordStats:
    length_ratio: float | None
    latin_share: float
    repetition: float
    turn_log_ratios: tuple[tuple[int, float], ...]  # (turn index, log ratio) for turns long enough to judge
    sentence_drops: tuple[tuple[int, int, int], ...] = ()  # (turn index, source, target sentences), of those
    # (turn index, source sentence lengths, target sentence lengths) of those drops with >= 3 source sentences
    sentence_lengths: tuple[tuple[int, tuple[float, ...], tuple[float, ...]], ...] = ()


@lru_cache(maxsize=CACHE)
def _turn_stats(value: str, source: str | None, min_source_units: float) -> tuple:
    """(CJK units, Latin units, repetition, source units, log ratio, sentences lost, their sentence lengths) of
    one turn: questions recur across a set ("Describe this image."), so each distinct turn is measured once."""
    c, n_alnum = unit_counts(strip_image_tags(value))
    if source is None:
        return c, n_alnum / 3.0, repetition_score(value), 0.0, None, None, None
    lr = log_ratio(source, value, min_source_units)
    lost = sentences_lost(source, value) if lr is not None else None
    lengths = sentence_units(source, value) if lost and lost[0] >= 3 else None  # for omission.align_gap
    return c, n_alnum / 3.0, repetition_score(value), text_units(strip_image_tags(source)), lr, lost, lengths


def record_stats(record: Record, min_source_units: float) -> RecordStats:
    src_units = tgt_units = latin = cjk = 0.0
    rep = 0.0
    turn_ratios, drops, lengths = [], [], []
    for i, turn in enumerate(record.turns):
        c, a, turn_rep, turn_src_units, lr, lost, units = _turn_stats(turn.value, turn.source, min_source_units)
        cjk += c
        latin += a
        rep = max(rep, turn_rep)
        if turn.source is not None:
            src_units += turn_src_units
            tgt_units += c + a
            if lr is not None:
                turn_ratios.append((i, lr))
                if lost:
                    drops.append((i, *lost))
                if units:
                    lengths.append((i, *units))
    ratio = tgt_units / src_units if src_units >= min_source_units else None
    share = latin / (latin + cjk) if latin + cjk else 0.0
    return RecordStats(ratio, share, rep, tuple(turn_ratios), tuple(drops), tuple(lengths))


def robust_center(values: list[float]) -> tuple[float, float]:
    """(median, 1.4826·MAD): a mean and SD that a few broken records cannot drag around."""
    xs = sorted(values)
    n = len(xs)
    med = (xs[n // 2] + xs[(n - 1) // 2]) / 2
    dev = sorted(abs(x - med) for x in xs)
    mad = (dev[n // 2] + dev[(n - 1) // 2]) / 2
    return med, max(1.4826 * mad, 1e-6)


def ratio_from_log(x: float) -> float:
    return math.exp(x)

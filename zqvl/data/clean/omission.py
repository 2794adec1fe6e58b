"""omission: part of the source is missing from the translation — a paragraph, or sentences in the middle.

Whole-turn length catches a translation that lost half its source, not one that lost one sentence of four.
So units are aligned: a paragraph the source has and the translation lacks is missing (translators keep
paragraphs: not one clean record of either dev set merges two), and a turn with fewer sentences than its
source *and* a length ratio well below the set's own median lost a sentence (merging two sentences with a
comma keeps the length; dropping one does not). The sentence rule needs the set's median, so it runs in the
runner (`set_checks.length_outlier.sentence_drop_ratio`); this module gives it the per-turn facts.

One sentence of seven can go while the rest, translated a little more freely, keeps the turn's length. Then
the sentences are aligned by length (Gale & Church): each source sentence maps to one target sentence, two
merge into one, one splits in two, or a source sentence maps to nothing. A target sentence is expected to be
the set's median ratio times its source's length, give or take a spread that grows with the length; when
the cheapest alignment leaves a source sentence untranslated and every alignment without such a gap costs
`sentence_align_margin` more, a sentence was dropped. On the clean turns of both dev sets and the bench set no
alignment leaves a gap; the turns where one does are defects.
"""

from __future__ import annotations

import math
from functools import lru_cache

from zqvl.data.clean.markdown import LIST_ITEM_RE, TABLE_ROW_RE
from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import (
    CACHE,
    english_sentence_bound,
    nonempty_lines,
    paragraphs,
    sentence_count,
    sentence_spans,
    strip_image_tags,
)
from zqvl.data.clean.truncation import text_units
from zqvl.data.schema import Record


@lru_cache(maxsize=CACHE)
def paragraphs_lost(source: str, value: str) -> tuple[int, int] | None:
    """(source, translation) paragraph counts when the translation has fewer blocks and fewer lines."""
    if "\n" not in source.strip():
        return None
    src, tgt = paragraphs(source), paragraphs(value)
    # Blocks joined by a single newline keep their lines: a layout change, not lost text.
    if len(src) >= 2 and len(tgt) < len(src) and len(nonempty_lines(value)) < len(nonempty_lines(source)):
        return len(src), len(tgt)
    return None


def sentences_lost(source: str, value: str) -> tuple[int, int] | None:
    """(source, translation) sentence counts when the translation has fewer; lists and tables are
    left to the markdown and truncation checks, which count their items."""
    if LIST_ITEM_RE.search(source) or TABLE_ROW_RE.search(source):
        return None
    source = strip_image_tags(source)
    # Most translations keep their sentences: a character count bounds the source's (its regex is the costly
    # one), and a translation with at least that many cannot have fewer.
    bound = english_sentence_bound(source)
    if bound < 2:
        return None
    tgt = sentence_count(strip_image_tags(value), True)
    if tgt >= bound:
        return None
    src = sentence_count(source, False)
    return (src, tgt) if src >= 2 and tgt < src else None


def sentence_units(source: str, value: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The length in text units of each sentence of a turn's source and translation, for align_gap."""
    src = sentence_spans(strip_image_tags(source), False)
    tgt = sentence_spans(strip_image_tags(value), True)
    return tuple(text_units(x) for x in src), tuple(text_units(x) for x in tgt)


# Gale & Church's priors for how source sentences map to target ones; a gap (1-0) costs as much as it is rare.
_MOVES = {(1, 1): 0.89, (2, 1): 0.0445, (1, 2): 0.0445, (2, 2): 0.011, (3, 1): 0.005, (1, 0): 0.005, (0, 1): 0.005}
_MOVE_COST = {move: -math.log(p) for move, p in _MOVES.items()}
# Variance of a target sentence's length around ratio x source length, per source unit: 0.41 on the clean
# turns of both dev sets with as many sentences as their source; wider here so free translations fit.
_SPREAD = 0.6


def _alignment_cost(src: tuple[float, ...], tgt: tuple[float, ...], ratio: float, gaps: bool) -> tuple[float, int]:
    """(cost, the source sentence left untranslated or -1) of the cheapest alignment, with or without gaps."""
    inf = math.inf
    n, m = len(src), len(tgt)
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    gap_at = [[-1] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            for (di, dj), move_cost in _MOVE_COST.items():
                if i < di or j < dj or (i, j) == (0, 0) or (dj == 0 and not gaps):
                    continue
                before = cost[i - di][j - dj]
                if before == inf:
                    continue
                step = move_cost
                if di and dj:
                    ls, lt = sum(src[i - di : i]), sum(tgt[j - dj : j])
                    deviation = abs(lt - ratio * ls) / math.sqrt(_SPREAD * max(ls, 1.0))
                    step -= math.log(max(math.erfc(deviation / math.sqrt(2)), 1e-300))  # two-sided normal tail
                if before + step < cost[i][j]:
                    cost[i][j] = before + step
                    gap_at[i][j] = i - 1 if dj == 0 and gap_at[i - di][j - dj] < 0 else gap_at[i - di][j - dj]
    return cost[n][m], gap_at[n][m]


def align_gap(src: tuple[float, ...], tgt: tuple[float, ...], ratio: float, margin: float) -> int | None:
    """The source sentence (index) the translation dropped, by length alignment; None when nothing clearly is."""
    if len(src) < 3 or len(tgt) >= len(src):
        return None
    best, gap = _alignment_cost(src, tgt, ratio, gaps=True)
    if gap < 0:
        return None
    return gap if _alignment_cost(src, tgt, ratio, gaps=False)[0] - best >= margin else None


@register("omission", needs_source=True)
def check_omission(record: Record, params: dict) -> list[Reason]:
    """A paragraph of the source is missing (the set-level check adds lost sentences)."""
    hits = []
    for i, turn in enumerate(record.turns):
        if turn.source is None:
            continue
        lost = paragraphs_lost(turn.source, turn.value)
        if lost:
            hits.append(f"turn {i}: {lost[0]} paragraphs in the source, {lost[1]} here")
    return [Reason("omission.paragraphs", "; ".join(hits))] if hits else []

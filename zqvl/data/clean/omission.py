"""omission: part of the source is missing from the translation — a paragraph, or sentences in the middle.

Whole-turn length catches a translation that lost half its source, not one that lost one sentence of four.
So units are aligned: a paragraph the source has and the translation lacks is missing (translators keep
paragraphs: not one clean record of either dev set merges two), and a turn with fewer sentences than its
source *and* a length ratio well below the set's own median lost a sentence (merging two sentences with a
comma keeps the length; dropping one does not). The sentence rule needs the set's median, so it runs in the
runner (`set_checks.length_outlier.sentence_drop_ratio`); this module gives it the per-turn facts.
"""

from __future__ import annotations

from functools import lru_cache

from zqvl.data.clean.markdown import LIST_ITEM_RE, TABLE_ROW_RE
from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import (
    CACHE,
    english_sentence_bound,
    nonempty_lines,
    paragraphs,
    sentence_count,
    strip_image_tags,
)
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

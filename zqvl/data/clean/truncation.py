"""truncation: the translation stops mid-sentence, or covers only part of its source.

Signals: ends on a comma, colon or opening bracket; an opened quote never closed; ends on a bare character
where the source ends a sentence; or is far shorter than the source. Length is measured in "units" on both
sides (a Chinese character ≈ three Latin letters or digits), so verbatim English and code weigh the same.
The runner adds a set-level check (`length_outlier`) on the same ratio against the set's own distribution.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from zqvl.data.clean.registry import Reason, per_turn, register
from zqvl.data.clean.text import (
    CACHE,
    CJK_RE,
    CLOSERS,
    CONTINUATION,
    TARGET_OCR_LABEL_RE,
    TERMINAL,
    alnum_count,
    cjk_count,
    last_visible,
    ocr_components,
    strip_image_tags,
    unclosed_quote,
)
from zqvl.data.schema import GPT, Record


@lru_cache(maxsize=CACHE)
def unit_counts(text: str) -> tuple[int, int]:
    """(Chinese characters, Latin letters and digits) in the text; the stats reuse them."""
    return cjk_count(text), alnum_count(text)


def text_units(text: str) -> float:
    cjk, alnum = unit_counts(text)
    return cjk + alnum / 3.0


@lru_cache(maxsize=CACHE)  # truncation and the stats ask for the same turn's ratio
def length_ratio(source: str, value: str, min_source_units: float) -> float | None:
    """Target/source length in units, or None when the source is too short for a ratio to mean anything."""
    src = text_units(strip_image_tags(source))
    if src < min_source_units:
        return None
    return text_units(strip_image_tags(value)) / src


def log_ratio(source: str, value: str, min_source_units: float) -> float | None:
    r = length_ratio(source, value, min_source_units)
    return None if r is None else math.log(max(r, 1e-3))


_LAST_WORD = re.compile(r"[A-Za-z0-9]+$")
# Words no Chinese sentence or caption ends on: conjunctions and prepositions that need what follows them.
# Single characters only where they cannot end a word (温和, 参与 and 方向 end sentences; "一只猫和" does not).
DANGLING_RE = re.compile(
    r"(?:以及|或者|并且|而且|但是|因为|所以|如果|虽然|沿着|关于|对于|包括|例如|比如"
    r"|(?<![温平缓暖柔随共总调附谦祥饱])和|(?<![参给赋])与)$"
)
# A caption cut after 的 ("一名骑行者沿着云层之上的") has a modifier with nothing to modify. Whole sentences end on
# 的 too — 是…的 ("这座桥是1990年建成的") and possessives or "one" ("我妈妈的", "一件新的") — so only a clause without
# 是, translating a source of several words that ends on none of those, counts.
_ENDS_ON_DE = re.compile(r"的[\s\"'”’）)]*$")
_EN_OWNER_RE = re.compile(r"(?:'s|s'|\b(?:one|ones|mine|yours|his|hers|ours|theirs|own))\W*$", re.I)
_CLAUSE_SPLIT = re.compile(r"[，,；;：:。！？!?\n]")
# ...unless the source itself stops on one ("a plate of cheese and").
_EN_DANGLING_RE = re.compile(r"\b(?:and|or|but|with|of|to|in|on|at|from|about|for|including|like|the|a|an)\W*$", re.I)
# List items, table rows and headings often drop the final full stop in Chinese; only prose must end one.
STRUCTURED_LINE_RE = re.compile(r"[ \t]*(?:[-*+•]|\d{1,3}[.)、]|\||#)")


def _section_dropped(source: str, value: str) -> str | None:
    """The source's TEXT: transcription section is gone entirely (no label, none of its pieces)."""
    pieces = ocr_components(source)
    if pieces and not TARGET_OCR_LABEL_RE.search(value) and not any(p in value for p in pieces):
        return "the source's TEXT: section is missing"
    return None


def _items_dropped(source: str, value: str) -> str | None:
    """List items or table rows lost while the rest of the list / table survived."""
    from zqvl.data.clean.markdown import LIST_ITEM_RE, TABLE_ROW_RE, _count

    for regex, what in ((LIST_ITEM_RE, "list items"), (TABLE_ROW_RE, "table rows")):
        src, tgt = _count(regex, source), _count(regex, value)
        if tgt >= 2 and tgt < src:
            return f"{src} {what} in the source, {tgt} here"
    return None


def _dangling_de(value: str, source: str, min_words: int) -> bool:
    if not _ENDS_ON_DE.search(value) or len(source.split()) < min_words or _EN_OWNER_RE.search(source):
        return False
    clause = _CLAUSE_SPLIT.split(value.rstrip())[-1]
    return "是" not in clause and len(clause) >= 6


def _cut_word(value: str, source: str) -> bool:
    """The target ends on a Latin fragment that is no whole word of the source ("…Canon EO" for "EOS")."""
    m = _LAST_WORD.search(value)
    return bool(m) and re.search(rf"(?<![A-Za-z0-9]){re.escape(m.group(0))}(?![A-Za-z0-9])", source) is None


@lru_cache(maxsize=CACHE)
def _turn_truncation(
    role: str, value: str, source: str | None, min_source_words: int, min_ratio: float, min_source_units: float
) -> tuple[tuple[str, str], ...]:
    """(code, detail) of each truncation sign in one turn; questions recur across a set, so this is cached."""
    value = strip_image_tags(value).strip()
    if not value:
        return ()  # `structure` reports empty turns
    source = strip_image_tags(source).strip() if source is not None else None
    found = []
    end = last_visible(value)
    src_end = last_visible(source) if source else ""
    if end in CONTINUATION and src_end not in CONTINUATION:
        found.append(("truncation.mid_sentence", f"ends with {value[-12:]!r}"))
    elif DANGLING_RE.search(value.rstrip("".join(CLOSERS))) and not (source and _EN_DANGLING_RE.search(source)):
        found.append(("truncation.mid_sentence", f"ends on a connective: {value[-12:]!r}"))
    elif source and _dangling_de(value, source, min_source_words):
        found.append(("truncation.mid_sentence", f"ends on 的 with nothing after it: {value[-12:]!r}"))
    elif (
        role == GPT
        and src_end in TERMINAL
        and len(source.split()) >= min_source_words
        and not STRUCTURED_LINE_RE.match(value.rsplit("\n", 1)[-1])
        and (CJK_RE.match(value[-1]) or _cut_word(value, source))
    ):
        found.append(("truncation.mid_sentence", f"ends with {value[-12:]!r} where the source ends its sentence"))
    opener = unclosed_quote(value)
    if opener and not (source and unclosed_quote(source)):
        found.append(("truncation.unclosed", f"{opener} never closed"))
    if source and ("\n" in source):
        dropped = _items_dropped(source, value) or _section_dropped(source, value)
        if dropped:
            found.append(("truncation.items_dropped", dropped))
    if source:
        ratio = length_ratio(source, value, min_source_units)
        if ratio is not None and ratio < min_ratio:
            found.append(("truncation.too_short", f"length ratio {ratio:.2f} < {min_ratio}"))
    return tuple(found)


@register("truncation")
def check_truncation(record: Record, params: dict) -> list[Reason]:
    """Mid-sentence endings, unclosed quotes, and translations far shorter than their source."""
    limits = params["min_source_words"], params["min_ratio"], params["min_source_units"]
    return per_turn(record, lambda turn: _turn_truncation(turn.role, turn.value, turn.source, *limits))

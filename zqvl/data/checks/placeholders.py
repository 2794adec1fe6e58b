"""Placeholders: one exact `<image>` per image, in questions, where the source has it, never a look-alike.

The tokenizer knows exactly one spelling, `<image>`; `<图像>`, `< image >`, `<IMAGE>` or `＜image＞` become
ordinary text and the image is never attended to (or the tag count no longer matches the image count).
"""

from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.checks.reason import Reason
from zqvl.data.schema import GPT, IMAGE_TAG, SYSTEM, Record

# Near-misses of <image> in any bracket a translator may produce; the exact tag itself is skipped.
MANGLED_RE = re.compile(
    r"(?:<|＜|〈|《|&lt;)\s*/?\s*(?:image|img|图像|图片|圖像|圖片|影像|照片|图)\s*/?\s*(?:>|＞|〉|》|&gt;)"
    r"|[\[【](?:image|img|图像|图片|圖像|圖片)[\]】]",
    re.I,
)
_OPENERS = ("<", "[", "&", "＜", "〈", "《", "【")  # every MANGLED_RE match starts with one of these


def _may_have_tag(text: str) -> bool:
    """A cheap test before the regex: most turns hold none of the openers."""
    return any(c in text for c in _OPENERS)


@lru_cache(maxsize=8192)
def _look_alikes(text: str) -> tuple[str, ...]:
    return tuple(s for m in MANGLED_RE.finditer(text) if (s := m.group(0)) != IMAGE_TAG)


def tag_look_alikes(text: str) -> tuple[str, ...]:
    """The look-alikes of `<image>` in `text` (questions recur, so cached)."""
    return _look_alikes(text) if _may_have_tag(text) else ()


def look_alikes(record: Record) -> list[Reason]:
    mangled = [(i, s) for i, t in enumerate(record.turns) for s in tag_look_alikes(t.value)]
    if not mangled:
        return []
    return [Reason("placeholder.mangled", "; ".join(f"turn {i}: {s!r}" for i, s in mangled))]


def tag_count(record: Record) -> list[Reason]:
    tags, n_images = record.image_tag_count(), len(record.images)
    if tags == n_images:
        return []
    return [Reason("placeholder.count", f"{tags} {IMAGE_TAG} tag(s) for {n_images} image(s)")]


def moved(record: Record) -> list[Reason]:
    """Turns whose tag count differs from their source's (turns without a source are not compared)."""
    turns = [
        str(i)
        for i, t in enumerate(record.turns)
        if t.source is not None and t.source.count(IMAGE_TAG) != t.value.count(IMAGE_TAG)
    ]
    if not turns:
        return []
    return [Reason("placeholder.moved", "tag count differs from the source in turn " + ", ".join(turns))]


def in_answer(record: Record) -> list[Reason]:
    """<image> belongs in a question: in an answer or the system prompt it would place image features where
    the model is told to speak, or before any question at all."""
    where = {GPT: "an answer", SYSTEM: "the system turn"}
    found = [(i, t.role) for i, t in enumerate(record.turns) if t.role in where and IMAGE_TAG in t.value]
    if not found:
        return []
    parts = [f"{where[role]} (turn {i})" for i, role in found]
    return [Reason("placeholder.in_answer", f"{IMAGE_TAG} inside " + ", ".join(parts))]

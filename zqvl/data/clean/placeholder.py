"""placeholder: the `<image>` tag went missing, was duplicated, moved or mangled by the translator.

The tokenizer knows exactly one spelling, `<image>`; `<图像>`, `< image >`, `<IMAGE>` or `＜image＞` become
ordinary text and the image is never attended to (or the tag count no longer matches the image count).
"""
from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import CACHE
from zqvl.data.schema import GPT, IMAGE_TAG, Record

MANGLED_RE = re.compile(
    r"(?:<|＜|〈|《|&lt;)\s*/?\s*(?:image|img|图像|图片|圖像|圖片|影像|照片|图)\s*/?\s*(?:>|＞|〉|》|&gt;)"
    r"|[\[【](?:image|img|图像|图片|圖像|圖片)[\]】]", re.I)


def _may_have_tag(text: str) -> bool:
    """Every MANGLED_RE match starts with one of these (a cheap test before the regex)."""
    return "<" in text or "[" in text or "&" in text or "＜" in text or "〈" in text or "《" in text or "【" in text


@lru_cache(maxsize=CACHE)
def _look_alikes(text: str) -> tuple[str, ...]:
    """Tag look-alikes in the text (questions recur, so cached)."""
    return tuple(s for m in MANGLED_RE.finditer(text) if (s := m.group(0)) != IMAGE_TAG)


@register("placeholder")
def check_placeholder(record: Record, params: dict) -> list[Reason]:
    """One exact `<image>` per image, in the same turns as the source, never a look-alike."""
    reasons: list[Reason] = []
    mangled = [(i, s) for i, t in enumerate(record.turns) if _may_have_tag(t.value) for s in _look_alikes(t.value)]
    if mangled:
        reasons.append(Reason("placeholder.mangled", "; ".join(f"turn {i}: {s!r}" for i, s in mangled)))
    counts = [t.value.count(IMAGE_TAG) for t in record.turns]
    n_images = len(record.images)
    if sum(counts) != n_images:
        reasons.append(Reason("placeholder.count", f"{sum(counts)} <image> tag(s) for {n_images} image(s)"))
    elif record.has_source:
        moved = [i for i, (t, c) in enumerate(zip(record.turns, counts))
                 if t.source is not None and t.source.count(IMAGE_TAG) != c]
        if moved:
            reasons.append(Reason("placeholder.moved", "tag count differs from the source in turn " +
                                  ", ".join(map(str, moved))))
    else:
        in_answer = [i for i, (t, c) in enumerate(zip(record.turns, counts)) if c and t.role == GPT]
        if in_answer:
            reasons.append(Reason("placeholder.moved", "<image> inside an answer (turn " +
                                  ", ".join(map(str, in_answer)) + ")"))
    return reasons

"""Content anchors: concrete English words (cat, umbrella, red, asleep) whose Chinese rendering is nearly fixed.

A faithful translation keeps nearly all of them: "The cat is asleep on a stack of old books" has 猫, 睡, 旧 and
书 in any fluent Chinese version. A turn that keeps few of its source's anchors says something else, such as a
gpt turn the translator replaced with its own answer ("这只猫正蹲在窗台上，盯着窗外的小鸟。"). The word list is
data (anchors.yaml); quoted text, code and URLs of the source are not looked at (they stay English), and an
anchor the translation keeps in English counts as kept (names such as "Blue Bottle Coffee").
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from zqvl.data.clean.text import CACHE, mask_protected, strip_image_tags

_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=1)
def lexicon() -> dict[str, tuple[str, ...]]:
    """English base form -> the Chinese strings one of which a translation of it contains."""
    import yaml

    text = resources.files("zqvl.data.clean").joinpath("anchors.yaml").read_text(encoding="utf-8")
    return {word: tuple(renderings) for word, renderings in yaml.safe_load(text).items()}


def _base_form(word: str, known: dict) -> str | None:
    """The lexicon entry of an inflected word: cats, buses, puppies, sitting, smiled, riding -> cat, bus, ..."""
    if word in known:
        return word
    stems = []
    if word.endswith("ies"):
        stems.append(word[:-3] + "y")
    if word.endswith("es"):
        stems.append(word[:-2])
    if word.endswith("s"):
        stems.append(word[:-1])
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            stems += [stem, stem + "e"]
            if len(stem) > 2 and stem[-1] == stem[-2]:  # sitting, running
                stems.append(stem[:-1])
    return next((s for s in stems if s in known), None)


@lru_cache(maxsize=CACHE)
def source_anchors(source: str) -> frozenset[str]:
    """The lexicon words of an English turn, outside quotes, code and URLs."""
    known = lexicon()
    words = _WORD.findall(mask_protected(strip_image_tags(source)).lower())
    return frozenset(b for b in (_base_form(w, known) for w in set(words)) if b is not None)


@lru_cache(maxsize=CACHE)
def anchors_lost(source: str, value: str) -> tuple[frozenset[str], int]:
    """(the source's anchors the translation has no rendering of, how many anchors the source has)."""
    anchors = source_anchors(source)
    if not anchors:
        return frozenset(), 0
    known, lower = lexicon(), value.lower()
    lost = frozenset(a for a in anchors if a not in lower and not any(r in value for r in known[a]))
    return lost, len(anchors)

"""Content anchors: concrete English words (cat, umbrella, red, asleep) whose Chinese rendering is nearly fixed.

A faithful translation keeps nearly all of them: "The cat is asleep on a stack of old books" has 猫, 睡, 旧 and
书 in any fluent Chinese version. A turn that keeps few of its source's anchors says something else, such as a
gpt turn the translator replaced with its own answer ("这只猫正蹲在窗台上，盯着窗外的小鸟。"). The word list is
data (anchors.yaml); quoted text, code and URLs of the source are not looked at (they stay English), and an
anchor the translation keeps in English counts as kept (names such as "Blue Bottle Coffee").
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from zqvl.data.clean.text import CACHE, URL_HINT_RE, has_quote, mask_protected

# Bytes with ASCII letters lower-cased and everything else a space: split() then gives a text's words, ~2x
# faster than the regex (the check runs on every turn).
_LETTERS = bytes(c if 97 <= c <= 122 else c + 32 if 65 <= c <= 90 else 32 for c in range(256))


@lru_cache(maxsize=1)
def lexicon() -> dict[str, tuple[str, ...]]:
    """English base form -> the Chinese strings one of which a translation of it contains."""
    return {word: renderings for section in _sections().values() for word, renderings in section.items()}


@lru_cache(maxsize=1)
def _sections() -> dict[str, dict[str, tuple[str, ...]]]:
    import yaml

    text = resources.files("zqvl.data.clean").joinpath("anchors.yaml").read_text(encoding="utf-8")
    return {name: {w: tuple(r) for w, r in words.items()} for name, words in yaml.safe_load(text).items()}


def _inflections(base: str, action: bool) -> list[str]:
    forms = [base + "s", base + "es"] + ([base[:-1] + "ies"] if base.endswith("y") else [])
    if action:
        stem = base[:-1] if base.endswith("e") else base
        forms += [stem + "ing", stem + "ed", base + base[-1] + "ing", base + base[-1] + "ed"]  # riding, swimming
    return forms


@lru_cache(maxsize=1)
def _forms() -> dict[str, str]:
    """Every matched English form, as ASCII bytes -> its base form (one dict lookup a word)."""
    sections = _sections()
    forms = {f: b for name, words in sections.items() for b in words for f in _inflections(b, name == "actions")}
    forms |= {b: b for b in lexicon()}  # a base form is never read as another's inflection
    return {f.encode(): b for f, b in forms.items()}


@lru_cache(maxsize=CACHE)
def source_anchors(source: str) -> frozenset[str]:
    """The lexicon words of an English turn, outside quotes, code and URLs."""
    forms = _forms()
    found = set(source.encode().translate(_LETTERS).split()) & forms.keys()
    if found and (has_quote(source) or "`" in source or URL_HINT_RE.search(source)):
        found = set(mask_protected(source).encode().translate(_LETTERS).split()) & forms.keys()
    return frozenset(forms[w] for w in found)


@lru_cache(maxsize=CACHE)
def anchors_lost(source: str, value: str, min_anchors: int, max_kept_share: float):
    """(anchors kept, anchors lost) when the source has at least `min_anchors` and the translation keeps at most
    `max_kept_share` of them; None otherwise. Counting stops as soon as enough are kept (the usual case)."""
    anchors = source_anchors(source)
    if len(anchors) < min_anchors:
        return None
    renderings, allowed, lower = lexicon(), int(len(anchors) * max_kept_share), None
    kept = set()
    for anchor in anchors:
        for rendering in renderings[anchor]:
            if rendering in value:
                break
        else:  # not in Chinese: kept in English, as a name?
            lower = value.lower() if lower is None else lower
            if anchor not in lower:
                continue
        kept.add(anchor)
        if len(kept) > allowed:
            return None
    return frozenset(kept), anchors - kept

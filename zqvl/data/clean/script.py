"""script: Traditional Chinese in a Simplified set (detected with OpenCC's Traditional→Simplified tables).

Characters that OpenCC would convert are counted; characters already present in the source (a quoted
Traditional sign) do not count. One converted character can be a variant or a name, so the default needs two.
"""

from __future__ import annotations

from functools import lru_cache

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import CACHE
from zqvl.data.schema import Record

_converter = None
_changed: frozenset[str] = frozenset()


def _t2s():
    """OpenCC's converter, and (once) the set of CJK characters it changes on their own."""
    global _converter, _changed
    if _converter is None:
        import opencc

        _converter = opencc.OpenCC("t2s")
        block = "".join(map(chr, range(0x3400, 0xA000)))
        _changed = (
            frozenset(a for a, b in zip(block, _converter.convert(block)) if a != b)
            if len(_converter.convert(block)) == len(block)
            else frozenset(c for c in block if _converter.convert(c) != c)
        )
    return _converter


@lru_cache(maxsize=CACHE)
def traditional_chars(text: str) -> str:
    """The characters of `text` that the Traditional→Simplified conversion changes."""
    converter = _t2s()
    if _changed.isdisjoint(text):  # fast path: no character that OpenCC would change on its own
        return ""
    converted = converter.convert(text)
    if len(converted) != len(text):  # a phrase-level rewrite; fall back to character by character
        converted = "".join(_t2s().convert(c) for c in text)
    return "".join(a for a, b in zip(text, converted) if a != b)


@register("script")
def check_script(record: Record, params: dict) -> list[Reason]:
    """At least `min_chars` Traditional-only characters (not in the source) in some turn."""
    hits = []
    for i, turn in enumerate(record.turns):
        chars = traditional_chars(turn.value)
        if turn.source and chars:
            chars = "".join(c for c in chars if c not in turn.source)
        if len(chars) >= params["min_chars"]:
            hits.append(f"turn {i}: {chars[:12]}")
    return [Reason("script.traditional", "Traditional characters: " + "; ".join(hits))] if hits else []

"""script: the wrong script in a Simplified set — Traditional characters, Japanese kana, Korean hangul, pinyin.

Traditional: characters that OpenCC's Traditional→Simplified tables would convert. Anything already present in
the source (a quoted Traditional sign, a Japanese title, the pinyin on a T-shirt) does not count. One converted
character can be a variant or a name, so the default needs two; so for kana and hangul. Pinyin is counted in
words carrying a tone mark ("nǚhái"), which no English or Chinese word has.
"""

from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.clean.registry import Reason, per_turn, register
from zqvl.data.clean.text import CACHE, cjk_count, mask_protected
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


# The katakana middle dot and long-vowel mark also appear in Chinese names (达・芬奇): not counted.
_KANA = re.compile(r"[\u3041-\u309f\u30a1-\u30fa]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3131-\u318e]")
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_PINYIN_WORD = re.compile(f"[A-Za-zü]*[{_TONED}][A-Za-zü{_TONED}]*")
# A word that is nothing but pinyin syllables (initial, vowels, n/ng/r): "nǚhái" is, "Rivière" is not.
_SYLLABLE = f"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?[aeiouü{_TONED}]{{1,3}}(?:ng|n|r)?"
_SYLLABLES = re.compile(f"(?:{_SYLLABLE})+", re.I)


# Any character that one of the three foreign-script rules could count: most turns have none.
_FOREIGN = re.compile(f"[\u3041-\u309f\u30a1-\u30fa\uac00-\ud7af\u1100-\u11ff\u3131-\u318e{_TONED}]")


def _new(found: list[str], source: str | None) -> list[str]:
    return [x for x in found if not source or x not in source]


def _pinyin_words(text: str) -> list[str]:
    return [w for w in _PINYIN_WORD.findall(text) if _SYLLABLES.fullmatch(w)]


# Pinyin without tones: five or more lowercase one-syllable words in a row ("bu guo yao liu yi na xie e"), two of
# them with an initial or a final English words of that shape do not have ("she can see the man" has none).
_LOWER_RUN = re.compile(r"(?<![A-Za-z'-])(?:[a-zü]{1,6} ){4,}[a-zü]{1,6}(?![A-Za-z'-])")
_ONE_SYLLABLE = re.compile(_SYLLABLE)  # the words come from _LOWER_RUN: no tone marks, no capitals
_PINYIN_ONLY = re.compile(r"^(?:x|q|zh)|uo|iu|ao|ui|iao|ian|uai|ü|^(?:wo|chi|shi|zi|ci|ri)$")


def _toneless_runs(text: str) -> list[str]:
    runs = []
    for m in _LOWER_RUN.finditer(text):
        words = m.group().split()
        if all(_ONE_SYLLABLE.fullmatch(w) for w in words) and sum(bool(_PINYIN_ONLY.search(w)) for w in words) >= 2:
            runs.append(m.group())
    return runs


@register("script")
def check_script(record: Record, params: dict) -> list[Reason]:
    """Traditional, kana or hangul characters (`min_chars`) or toned pinyin words the source does not have."""
    limits = params["min_chars"], params.get("min_pinyin_words", 2)
    return per_turn(record, lambda turn: _turn_script(turn.value, turn.source, *limits))


@lru_cache(maxsize=CACHE)
def _turn_script(value: str, source: str | None, min_chars: int, min_pinyin_words: int) -> tuple[tuple[str, str], ...]:
    """(code, the characters or words) for each foreign script in one turn; cached, as questions recur."""
    found = {"script.traditional": _new(list(traditional_chars(value)), source)}
    foreign = _FOREIGN.search(value) is not None
    # Without a source, quoted text (a Japanese title, a Korean sign) is taken as a citation.
    value = value if source or not foreign else mask_protected(value)
    if foreign:
        found["script.kana"] = _new(_KANA.findall(value), source)
        found["script.hangul"] = _new(_HANGUL.findall(value), source)
    hits = [(code, "".join(chars[:12])) for code, chars in found.items() if len(chars) >= min_chars]
    words = _new(_pinyin_words(value), source) if foreign else []
    if len(words) >= min_pinyin_words:
        hits.append(("script.pinyin", " ".join(words[:6])))
    elif value.count(" ") >= 4:  # five words in a row at least
        lower = (source or "").lower()
        runs = [r for r in _toneless_runs(value if source else mask_protected(value)) if r not in lower]
        if runs and cjk_count(value):  # inside Chinese text: an English turn is untranslated's business
            hits.append(("script.pinyin", runs[0][:40]))
    return tuple(hits)

"""Phrase rules: a pattern in the translation that is a defect unless the English source says the same thing.

"抱歉，我无法…" is a refusal when the source answered the question, and a faithful translation when the source
apologised too; so every rule pairs a target pattern with a source guard. Rules marked `mono` are specific
enough to apply when a record has no source at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from zqvl.data.clean.registry import Reason
from zqvl.data.clean.text import CACHE, mask_protected, strip_image_tags
from zqvl.data.schema import Record


@dataclass(frozen=True)
class Rule:
    code: str                  # reason code, e.g. "preamble.lead_in"
    target: re.Pattern         # what the translator added
    guard: re.Pattern | None   # English that, present in the source, makes the match a faithful translation
    mono: bool = False         # also applies to records without a source


def rx(pattern: str, flags: int = 0) -> re.Pattern:
    return re.compile(pattern, flags)


try:   # the standard library's regex parser (private; without it every rule just counts as script-neutral)
    from re import _parser as _sre_parse
except ImportError:   # Python < 3.11
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_LATIN = re.compile(r"(?i)[a-z]")    # what any ASCII letter of a pattern can match, case-insensitive look-alikes too


def _needs_latin(items) -> bool:
    """True when every match of the parsed pattern `items` contains an ASCII letter (or a look-alike that a
    case-insensitive letter matches). Conservative: False whenever unsure."""
    c = _sre_parse
    for op, av in items:
        if op is c.LITERAL and chr(av).isascii() and chr(av).isalpha():
            return True
        if op is c.IN and av and all(o is c.LITERAL and chr(a).isascii() and chr(a).isalpha() or
                                     o is c.RANGE and (65 <= a[0] <= a[1] <= 90 or 97 <= a[0] <= a[1] <= 122)
                                     for o, a in av):
            return True
        if op is c.SUBPATTERN and _needs_latin(av[-1]):
            return True
        if op is c.BRANCH and all(_needs_latin(alt) for alt in av[1]):
            return True
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1 and _needs_latin(av[2]):
            return True
    return False


def _latin_only(rule: Rule) -> bool:
    try:
        return _needs_latin(_sre_parse.parse(rule.target.pattern, rule.target.flags))
    except Exception:  # noqa: BLE001 - an unexpected parser shape only costs the shortcut
        return False


def _union(rules) -> re.Pattern | None:
    """One regex matching wherever any of the rules' target patterns would (None for no rules)."""
    if not rules:
        return None
    return re.compile("|".join(f"(?i:{r.target.pattern})" if r.target.flags & re.I else f"(?:{r.target.pattern})"
                               for r in rules))


_GATES: dict[int, tuple[re.Pattern | None, re.Pattern | None]] = {}


def _gates(rules: tuple[Rule, ...]) -> int:
    """A key for (union of the rules that may match without Latin letters, union of those that need one)."""
    key = id(rules)
    if key not in _GATES:
        latin = [_latin_only(r) for r in rules]
        _GATES[key] = (_union([r for r, lat in zip(rules, latin) if not lat]),
                       _union([r for r, lat in zip(rules, latin) if lat]))
    return key


@lru_cache(maxsize=CACHE)
def _may_match(gates: int, value: str) -> bool:
    """Whether any rule's target matches `value`, in one or two scans; questions recur, so it is cached.
    English-only rules (most of the cost: case-insensitive patterns have no fast prefix scan) are skipped
    when the text has no Latin letter, as in most Chinese answers."""
    other, latin = _GATES[gates]
    if other is not None and other.search(value):
        return True
    return latin is not None and _LATIN.search(value) is not None and latin.search(value) is not None


def apply_rules(record: Record, rules: tuple[Rule, ...], roles: tuple[str, ...] | None = None) -> list[Reason]:
    found: dict[str, list[str]] = {}
    gates = _gates(rules)
    note = " (not in the source)" if record.has_source else ""
    for i, turn in enumerate(record.turns):
        if roles and turn.role not in roles:
            continue
        value = strip_image_tags(turn.value).strip()
        if not _may_match(gates, value):
            continue
        # Quoted text is what the image says; an apology printed on a sign is not the translator's.
        source = mask_protected(turn.source) if turn.source is not None else None
        for rule in rules:
            if source is None and not rule.mono:
                continue
            m = rule.target.search(value)
            if not m or (source is not None and rule.guard is not None and rule.guard.search(source)):
                continue
            found.setdefault(rule.code, []).append(f"turn {i}: {m.group(0)[:60]!r}")
    return [Reason(code, "; ".join(hits) + note) for code, hits in found.items()]

"""Phrase rules: a pattern in the translation that is a defect unless the English source says the same thing.

"抱歉，我无法…" is a refusal when the source answered the question, and a faithful translation when the source
apologised too; so every rule pairs a target pattern with a source guard. Rules marked `mono` are specific
enough to apply when a record has no source at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from zqvl.data.clean.prefilter import Prefilter
from zqvl.data.clean.registry import Reason
from zqvl.data.clean.text import CACHE, mask_protected, strip_image_tags
from zqvl.data.schema import Record


@dataclass(frozen=True)
class Rule:
    code: str  # reason code, e.g. "preamble.lead_in"
    target: re.Pattern  # what the translator added
    guard: re.Pattern | None  # English that, present in the source, makes the match a faithful translation
    mono: bool = False  # also applies to records without a source


def rx(pattern: str, flags: int = 0) -> re.Pattern:
    return re.compile(pattern, flags)


_TURN_HITS: dict[int, Callable[[str, str | None], tuple[tuple[str, str], ...]]] = {}


def _turn_hits(rules: tuple[Rule, ...]) -> Callable[[str, str | None], tuple[tuple[str, str], ...]]:
    """`(value, source) -> ((code, matched text), ...)` for a rule set, cached: questions recur across a set.

    One regex matching wherever any rule's target pattern would, and the literals it cannot match without,
    come first: most turns contain none of them and skip even the single scan."""
    key = id(rules)
    if key not in _TURN_HITS:
        any_rule = re.compile(
            "|".join(f"(?i:{r.target.pattern})" if r.target.flags & re.I else f"(?:{r.target.pattern})" for r in rules)
        )
        prefilter = Prefilter([r.target for r in rules])

        @lru_cache(maxsize=CACHE)
        def hits(value: str, source: str | None) -> tuple[tuple[str, str], ...]:
            value = strip_image_tags(value).strip()
            if not prefilter.may_match(value) or not any_rule.search(value):
                return ()
            # Quoted text is what the image says; an apology printed on a sign is not the translator's.
            source = mask_protected(source) if source is not None else None
            found = []
            for rule in rules:
                if source is None and not rule.mono:
                    continue
                m = rule.target.search(value)
                if not m or (source is not None and rule.guard is not None and rule.guard.search(source)):
                    continue
                found.append((rule.code, m.group(0)[:60]))
            return tuple(found)

        _TURN_HITS[key] = hits
    return _TURN_HITS[key]


def apply_rules(record: Record, rules: tuple[Rule, ...], roles: tuple[str, ...] | None = None) -> list[Reason]:
    found: dict[str, list[str]] = {}
    turn_hits = _turn_hits(rules)
    note = " (not in the source)" if record.has_source else ""
    for i, turn in enumerate(record.turns):
        if roles and turn.role not in roles:
            continue
        for code, matched in turn_hits(turn.value, turn.source):
            found.setdefault(code, []).append(f"turn {i}: {matched!r}")
    return [Reason(code, "; ".join(hits) + note) for code, hits in found.items()]

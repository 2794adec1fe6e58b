"""Phrase rules: a pattern in the translation that is a defect unless the English source says the same thing.

"抱歉，我无法…" is a refusal when the source answered the question, and a faithful translation when the source
apologised too; so every rule pairs a target pattern with a source guard. Rules marked `mono` are specific
enough to apply when a record has no source at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zqvl.data.clean.prefilter import Prefilter
from zqvl.data.clean.registry import Reason
from zqvl.data.clean.text import mask_protected, strip_image_tags
from zqvl.data.schema import Record


@dataclass(frozen=True)
class Rule:
    code: str  # reason code, e.g. "preamble.lead_in"
    target: re.Pattern  # what the translator added
    guard: re.Pattern | None  # English that, present in the source, makes the match a faithful translation
    mono: bool = False  # also applies to records without a source


def rx(pattern: str, flags: int = 0) -> re.Pattern:
    return re.compile(pattern, flags)


_ANY: dict[int, tuple[re.Pattern, Prefilter]] = {}


def _any_of(rules: tuple[Rule, ...]) -> tuple[re.Pattern, Prefilter]:
    """One regex matching wherever any rule's target pattern would, and the literals it cannot match without:
    most turns contain none of them and skip even the single scan."""
    key = id(rules)
    if key not in _ANY:
        _ANY[key] = (
            re.compile(
                "|".join(
                    f"(?i:{r.target.pattern})" if r.target.flags & re.I else f"(?:{r.target.pattern})" for r in rules
                )
            ),
            Prefilter([r.target for r in rules]),
        )
    return _ANY[key]


def apply_rules(record: Record, rules: tuple[Rule, ...], roles: tuple[str, ...] | None = None) -> list[Reason]:
    found: dict[str, list[str]] = {}
    any_rule, prefilter = _any_of(rules)
    note = " (not in the source)" if record.has_source else ""
    for i, turn in enumerate(record.turns):
        if roles and turn.role not in roles:
            continue
        value = strip_image_tags(turn.value).strip()
        if not prefilter.may_match(value) or not any_rule.search(value):
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

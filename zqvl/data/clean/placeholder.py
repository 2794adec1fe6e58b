"""placeholder: the `<image>` tag went missing, was duplicated, moved or mangled by the translator; or a template
token of the source (`%d`, `{user_name}`, `{{title}}`, `{0}`) did not come through character for character.

The `<image>` checks themselves are zqvl.data.checks.placeholders (validate and training run the same ones).
Template tokens appear where a source quotes a format string off a screenshot or a prompt template; a
translator that writes `％d` or `{用户名}` breaks them, and NFKC-normalised comparisons (OCR) would not notice.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from zqvl.data.checks import Reason, in_answer, look_alikes, moved, tag_count
from zqvl.data.clean.registry import per_turn, register
from zqvl.data.clean.text import CACHE
from zqvl.data.schema import Record

# printf conversions (not "50% of": no space flag, and no letter right after), and {name} / {{name}} / {0} fields.
FORMAT_TOKEN_RE = re.compile(
    r"(?<![\w%])%(?:\d+\$)?[-+#0]?\d*(?:\.\d+)?[sdifxXeEgGcu](?![A-Za-z])"
    r"|\{\{\s*[A-Za-z_][\w.]*\s*\}\}|\{[A-Za-z_][\w.]*\}|\{\d+\}"
)


@lru_cache(maxsize=CACHE)
def format_tokens_lost(source: str, value: str) -> tuple[str, ...]:
    """The source's template tokens that the translation holds fewer times (exactly, no normalisation)."""
    if "%" not in source and "{" not in source:
        return ()
    wanted = Counter(FORMAT_TOKEN_RE.findall(source))
    if not wanted:
        return ()
    return tuple(t for t, n in wanted.items() if value.count(t) < n)


def _turn_tokens(turn):
    if turn.source is not None:
        lost = format_tokens_lost(turn.source, turn.value)
        if lost:
            yield "placeholder.format_token", "template token(s) not kept as they are: " + ", ".join(map(repr, lost))


@register("placeholder")
def check_placeholder(record: Record, params: dict) -> list[Reason]:
    """One exact `<image>` per image, in the same turns as the source (in questions without one), no look-alike;
    every template token of the source kept as it is."""
    placement = tag_count(record) or (moved(record) if record.has_source else in_answer(record))
    tokens = any(t.source and ("%" in t.source or "{" in t.source) for t in record.turns)
    return look_alikes(record) + placement + (per_turn(record, _turn_tokens) if tokens else [])

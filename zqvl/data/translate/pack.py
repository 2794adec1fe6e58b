"""Request packing: several short strings in one request, each answered and checked on its own.

A CC3M caption is ~11 tokens; the system prompt is ~290. Sent one per request, ~96 % of the bill is the prompt
and the rate limit counts captions, not tokens. Packed, the prompt is paid once per ~50 strings.

In: the system prompt plus the pack rules (prompts/pack-v1.txt), and a user message of numbered items

    [[1]]
    first masked text
    [[2]]
    second masked text

Out: the same `[[n]]` lines in order, each followed by its translation. `split_reply` accepts a reply only
when its numbering is exactly 1..n; anything else (an item merged into its neighbour, one skipped, renumbered)
sends every item of the pack back alone. Each item is checked exactly as a single answer is, and one that
fails goes back alone with the single path's retries and feedback. The cache stays keyed per string under the
single prompt's version, so packing never changes what a rerun pays or what a string that passed becomes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from importlib.resources import files
from typing import TypeVar

from zqvl.data.translate.prompt import SYSTEM_PROMPT, completion_budget

PACK_RULES = (files("zqvl.data.translate") / "prompts" / "pack-v1.txt").read_text("utf-8").strip()
MARKER = re.compile(r"^[ \t]*\[\[(\d+)\]\][ \t]*$", re.M)
MAX_ITEMS = 50  # more items per request saves little once the prompt is shared, and risks more on a bad reply
ITEM_MAX_TOKENS = 200  # longer strings go alone: the prompt is a small share of their bill already
DEFAULT_PACK_TOKENS = 1000  # content per packed request (estimated tokens); 0 turns packing off

J = TypeVar("J")


def content_tokens(body: str) -> int:
    """A cheap token estimate for grouping (~4 characters per token, as the rate limiter estimates)."""
    return len(body) // 4 + 1


def packable(text: str, pack_tokens: int) -> bool:
    return pack_tokens > 0 and content_tokens(text) <= min(ITEM_MAX_TOKENS, pack_tokens) and not MARKER.search(text)


def pack_jobs(jobs: Iterable[J], text_of: Callable[[J], str], pack_tokens: int) -> Iterator[list[J]]:
    """Group jobs into requests by their source text: short ones up to `pack_tokens` of content (and
    MAX_ITEMS) each, long ones alone. A group of one is sent as a plain single request. The dry run groups
    with this same function, so its request count is the run's."""
    group: list[J] = []
    used = 0
    for job in jobs:
        text = text_of(job)
        if not packable(text, pack_tokens):
            yield [job]
            continue
        n = content_tokens(text)
        if group and (used + n > pack_tokens or len(group) >= MAX_ITEMS):
            yield group
            group, used = [], 0
        group.append(job)
        used += n
    if group:
        yield group


def pack_messages(bodies: list[str]) -> list[dict[str, str]]:
    user = "\n".join(f"[[{i}]]\n{body}" for i, body in enumerate(bodies, 1))
    return [{"role": "system", "content": f"{SYSTEM_PROMPT}\n\n{PACK_RULES}"}, {"role": "user", "content": user}]


def pack_budget(bodies: list[str], cap: int) -> int:
    """max_tokens for a pack: every item's single budget plus its marker line, at most `cap`."""
    return min(cap, sum(completion_budget(b, cap) + 8 for b in bodies))


def split_reply(reply: str, n: int) -> list[str] | None:
    """The n item answers in order, or None when the reply's numbering is not exactly [[1]] .. [[n]]."""
    marks = list(MARKER.finditer(reply))
    if [int(m.group(1)) for m in marks] != list(range(1, n + 1)):
        return None
    ends = [m.start() for m in marks[1:]] + [len(reply)]
    return [reply[m.end() : end].strip() for m, end in zip(marks, ends)]


def share(total: int, weights: list[int]) -> list[int]:
    """Split a pack's token count over its items by their length (the cache keeps tokens per string)."""
    whole = sum(weights) or 1
    parts = [total * w // whole for w in weights]
    parts[-1] += total - sum(parts)
    return parts

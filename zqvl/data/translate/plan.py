"""First pass over the input: which strings need the model, how often each occurs, and the job list.

Only strings are kept (first-seen order), never records: chat.json is streamed again when the output is
written. A job is (source, variant): with --dedupe every string is one job (variant 0); without, the n-th
turn carrying a string is job (string, n), so repeats are translated separately and resume stays exact.
Turns that already carry `source` are kept as they are; turns with nothing to translate (only `<image>`,
numbers, protected text) are copied without a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from zqvl.data.io import iter_records
from zqvl.data.schema import HUMAN, Turn
from zqvl.data.translate.spans import mask
from zqvl.data.translate.stats import Stats


def wants_translation(turn: Turn) -> bool:
    return turn.source is None


@dataclass
class Plan:
    dedupe: bool
    counts: dict[str, int] = field(default_factory=dict)  # source -> turns carrying it
    passthrough: set[str] = field(default_factory=set)
    asked: set[str] = field(default_factory=set)  # sources some human turn carries (checked as a request too)

    def jobs(self) -> Iterator[tuple[str, int]]:
        for source, n in self.counts.items():
            for variant in range(1 if self.dedupe else n):
                yield source, variant

    @property
    def n_jobs(self) -> int:
        return len(self.counts) if self.dedupe else sum(self.counts.values())


def build_plan(chat_path: Path, dedupe: bool, stats: Stats, limit: int | None = None) -> Plan:
    """`limit`: only the first N values of chat.json (--limit), as the output pass will write them."""
    plan = Plan(dedupe)
    for record in iter_records(chat_path, errors=[]):  # bad records are reported by the output pass
        if limit is not None and record.index >= limit:
            break
        stats.records_seen += 1
        for turn in record.turns:
            if not wants_translation(turn):
                stats.turns_kept += 1
                continue
            stats.turns += 1
            text = turn.value
            if turn.role == HUMAN:
                plan.asked.add(text)
            if text in plan.counts:
                plan.counts[text] += 1
            elif text in plan.passthrough:
                stats.turns_passthrough += 1
            elif mask(text).needs_model:
                plan.counts[text] = 1
            else:
                plan.passthrough.add(text)
                stats.turns_passthrough += 1
    stats.distinct = len(plan.counts)
    stats.jobs = plan.n_jobs
    return plan


class VariantCounter:
    """Gives each turn the same (source, variant) as Plan.jobs did, when the records are read again."""

    def __init__(self, dedupe: bool):
        self.dedupe = dedupe
        self._seen: dict[str, int] = {}

    def next(self, source: str) -> int:
        if self.dedupe:
            return 0
        n = self._seen.get(source, 0)
        self._seen[source] = n + 1
        return n

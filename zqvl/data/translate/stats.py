"""Counts for one translate run: the progress fields, the summary table and DIR2/translate_summary.json."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field


@dataclass
class Stats:
    dedupe: bool = False
    records_in: int = 0
    records_seen: int = 0  # parseable records the plan read (within --limit)
    records_written: int = 0
    records_failed: int = 0
    turns: int = 0  # turns without `source`, i.e. to translate
    turns_kept: int = 0  # turns that already had `source`: left as they are
    turns_passthrough: int = 0  # nothing to translate in them (only <image>, numbers, protected text)
    distinct: int = 0  # distinct source strings among the turns that need the model
    jobs: int = 0  # strings to obtain: distinct with --dedupe, else one per turn
    cache_hits: int = 0
    requests: int = 0  # HTTP requests sent, retries included
    translated: int = 0  # strings newly translated in this run
    failed_strings: int = 0
    packs: int = 0  # requests that carried several strings (--pack-tokens)
    packed_strings: int = 0  # strings accepted from such a request
    pack_fallbacks: int = 0  # strings of a pack sent again alone (their item failed, or the reply did not split)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    problems: Counter = field(default_factory=Counter)  # every retried or failed attempt, by reason
    script_converted: int = 0  # answers repaired from Traditional script with opencc
    images_linked: int = 0
    images_missing: int = 0
    request_seconds: float = 0.0  # wall time of the request phase
    seconds: float = 0.0

    @property
    def model_turns(self) -> int:
        return self.turns - self.turns_passthrough

    @property
    def dedupe_saving(self) -> int:
        """Requests that translating each distinct string once saves (or would save, without --dedupe)."""
        return self.model_turns - self.distinct

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.request_seconds if self.request_seconds > 0 else 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        d["problems"] = dict(sorted(self.problems.items()))
        d["dedupe_saving"] = self.dedupe_saving
        d["requests_per_second"] = round(self.requests_per_second, 2)
        d["request_seconds"] = round(self.request_seconds, 3)
        d["seconds"] = round(self.seconds, 3)
        return d

    def rows(self) -> list[list[object]]:
        pct = f"{100 * self.dedupe_saving / self.model_turns:.0f}%" if self.model_turns else "0%"
        if self.dedupe:
            dedupe = f"saved {self.dedupe_saving} requests ({pct})"
        else:
            dedupe = f"off (would save {self.dedupe_saving} requests, {pct})"
        rows: list[list[object]] = [
            ["records in", self.records_in],
            ["records written", self.records_written],
            ["records failed (failed.jsonl)", self.records_failed],
            ["turns to translate", self.turns],
            ["  nothing to translate", self.turns_passthrough],
            ["  already translated, kept", self.turns_kept],
            ["distinct strings", self.distinct],
            ["dedupe", dedupe],
            ["strings from cache", self.cache_hits],
            ["strings translated now", self.translated],
            ["strings failed", self.failed_strings],
            ["requests sent (with retries)", self.requests],
            ["  packed: strings / requests", f"{self.packed_strings} / {self.packs}"],
            ["  packed strings sent again alone", self.pack_fallbacks],
            ["requests/s", f"{self.requests_per_second:.1f}"],
            ["tokens prompt / completion", f"{self.prompt_tokens:,} / {self.completion_tokens:,}"],
        ]
        rows += [[f"  attempt problem: {reason}", n] for reason, n in sorted(self.problems.items())]
        rows += [
            ["Traditional -> Simplified (opencc)", self.script_converted],
            ["images linked / missing", f"{self.images_linked} / {self.images_missing}"],
            ["time", f"{self.seconds:.1f} s"],
        ]
        return rows

"""`zqvl-data translate --dry-run`: what a run would send and cost, sending nothing and writing nothing.

The plan is the run's own (the same records, --limit, --dedupe and passthrough rules); strings the cache
already holds cost nothing. Prompt tokens are exact for one attempt of each request (the caller's tokenizer
counts the real messages: system prompt plus masked text, chat template included; short strings packed as
the run packs them); completion tokens are an
estimate (the Chinese answer taken as long, in tokens, as its English source). Retries cost extra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zqvl.data.io import chat_json
from zqvl.data.translate.cache import TranslationCache, cache_key
from zqvl.data.translate.pack import DEFAULT_PACK_TOKENS, pack_jobs, pack_messages
from zqvl.data.translate.plan import build_plan
from zqvl.data.translate.prompt import PROMPT_VERSION, messages
from zqvl.data.translate.spans import mask
from zqvl.data.translate.stats import Stats

PER_MILLION = 1_000_000


@dataclass
class Estimate:
    records: int
    turns: int
    distinct: int
    requests: int  # one attempt per request: a string alone or a pack of short ones, none for cached strings
    cached: int
    prompt_tokens: int
    completion_tokens: int
    source_tokens: int  # the masked text alone: what prompt tokens would be with no instructions at all

    def cost(self, price_in: float | None, price_out: float | None) -> float | None:
        """At prices per 1M tokens; None when no price was given."""
        if price_in is None and price_out is None:
            return None
        return (self.prompt_tokens * (price_in or 0.0) + self.completion_tokens * (price_out or 0.0)) / PER_MILLION

    def rows(self, price_in: float | None = None, price_out: float | None = None) -> list[list]:
        rows = [
            ["records", self.records],
            ["turns to translate", self.turns],
            ["distinct strings", self.distinct],
            ["in the cache already", self.cached],
            ["requests (one attempt each)", self.requests],
            ["  requests per distinct string", f"{self.requests / max(1, self.distinct):.3f}"],
            ["prompt tokens", f"{self.prompt_tokens:,}"],
            ["  of which the text itself", f"{self.source_tokens:,}"],
            ["  prompt tokens per text token", f"{self.prompt_tokens / max(1, self.source_tokens):.2f}"],
            ["completion tokens (estimate)", f"{self.completion_tokens:,}"],
        ]
        cost = self.cost(price_in, price_out)
        if cost is not None:
            rows.append(["cost (estimate)", f"{cost:,.2f}" if cost >= 1 else f"{cost:.4f}"])
        return rows


def estimate(
    in_dir: str | Path,
    model: str,
    *,
    dedupe: bool,
    limit: int | None,
    cache_path: Path | None,
    pack_tokens: int = DEFAULT_PACK_TOKENS,
    count_messages: Callable[[list[dict]], int],
    count_text: Callable[[str], int],
) -> Estimate:
    source = chat_json(Path(in_dir))
    stats = Stats(dedupe=dedupe)
    plan = build_plan(source, dedupe, stats, limit=limit)
    cache = TranslationCache(cache_path) if cache_path is not None and cache_path.is_file() else None
    requests = cached = prompt = completion = text = 0
    todo: list[str] = []
    try:
        for string, variant in plan.jobs():
            if cache is not None and cache.get(cache_key(model, PROMPT_VERSION, string, variant)) is not None:
                cached += 1
            else:
                todo.append(string)
    finally:
        if cache is not None:
            cache.close()
    for group in pack_jobs(todo, lambda string: string, pack_tokens):  # the run's own grouping
        bodies = [mask(string).body for string in group]
        requests += 1
        prompt += count_messages(messages(bodies[0]) if len(bodies) == 1 else pack_messages(bodies))
        for body in bodies:
            n = count_text(body)
            completion += n
            text += n
    return Estimate(stats.records_seen, stats.turns, stats.distinct, requests, cached, prompt, completion, text)

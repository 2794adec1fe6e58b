"""`translate_dir`: plan -> request phase (bounded concurrency, cache first) -> write DIR2.

The request phase is one asyncio loop with `concurrency` workers pulling requests from a shared iterator that
skips what the cache already holds and packs short strings several to a request (pack.py). A worker commits each accepted answer to the cache before taking the
next job, which is what makes a SIGKILL at any moment cheap: the re-run finds every committed answer and
re-sends only what was in flight. A fatal endpoint error (refused key, unknown model) stops all workers and
exits 2; everything answered so far stays cached.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from zqvl.data.io import atomic_open, chat_json, dumps
from zqvl.data.lock import exclusive_dir
from zqvl.data.outdir import claim, write_mark
from zqvl.data.translate.cache import TranslationCache, cache_key
from zqvl.data.translate.client import CallError, Endpoint, public_url
from zqvl.data.translate.output import write_outputs
from zqvl.data.translate.pack import DEFAULT_PACK_TOKENS, pack_jobs
from zqvl.data.translate.plan import Plan, build_plan
from zqvl.data.translate.prompt import PROMPT_VERSION
from zqvl.data.translate.ratelimit import RateLimiter
from zqvl.data.translate.stats import Stats
from zqvl.data.translate.translator import Outcome, RetryPolicy, Translator
from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress

CACHE_NAME = "translate-cache.sqlite"
OUTPUTS = ("chat.json", "failed.jsonl", "translate_summary.json")


@dataclass
class TranslateOptions:
    base_url: str
    model: str
    api_key: str = field(default="", repr=False)  # never in a repr, a log line or a file
    dedupe: bool = False
    concurrency: int = 16
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 120.0
    max_tokens: int = 4096
    temperature: float = 0.2
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    cache_path: Path | None = None
    force: bool = False  # write into an --out that holds something else (see zqvl.data.outdir)
    limit: int | None = None  # only the first N records (--limit): look at quality before paying for the rest
    pack_tokens: int = DEFAULT_PACK_TOKENS  # short strings share a request up to this much content; 0: off


def uncached_jobs(
    plan: Plan, cache: TranslationCache, model: str, on_hit: Callable[[], None]
) -> Iterator[tuple[str, str, int]]:
    """(cache key, source, variant) of every job of the plan the cache does not hold, in plan order; `on_hit`
    for each it does. Checked a batch at a time: one sqlite query per 256 jobs, not one each."""
    batch: list[tuple[str, str, int]] = []
    for source, variant in itertools.chain(plan.jobs(), [(None, 0)]):
        if source is not None:
            batch.append((cache_key(model, PROMPT_VERSION, source, variant), source, variant))
            if len(batch) < 256:
                continue
        done = cache.cached([key for key, _, _ in batch])
        for key, src, var in batch:
            if key in done:
                on_hit()
            else:
                yield key, src, var
        batch = []


async def _request_phase(
    plan: Plan, cache: TranslationCache, opts: TranslateOptions, stats: Stats, progress: Progress
) -> dict[str, Outcome]:
    endpoint = Endpoint(opts.base_url, opts.model, opts.api_key, opts.timeout)
    translator = Translator(
        endpoint,
        RateLimiter(opts.rpm, opts.tpm),
        stats,
        policy=opts.retry,
        max_tokens=opts.max_tokens,
        temperature=opts.temperature,
    )
    failures: dict[str, Outcome] = {}
    started = time.monotonic()
    progress.stage("requests", plan.n_jobs)
    shown = [0.0]

    def refresh(force: bool = False) -> None:
        now = time.monotonic()
        if force or now - shown[0] > 0.25:
            shown[0] = now
            progress.update(
                **{
                    "req/s": f"{stats.requests / max(now - started, 1e-9):.1f}",
                    "tokens": stats.prompt_tokens + stats.completion_tokens,
                    "cache_hits": stats.cache_hits,
                }
            )

    def hit() -> None:
        stats.cache_hits += 1
        progress.advance()

    groups = pack_jobs(uncached_jobs(plan, cache, opts.model, hit), lambda job: job[1], opts.pack_tokens)

    async def worker() -> None:
        for group in groups:
            if len(group) == 1:
                outcomes = [await translator.translate(group[0][1], group[0][1] in plan.asked)]
            else:
                outcomes = await translator.translate_pack(
                    [source for _, source, _ in group], [source in plan.asked for _, source, _ in group]
                )
            for (key, source, variant), out in zip(group, outcomes):
                if out is None:  # its pack item failed: alone, with the single path's retries and feedback
                    out = await translator.translate(source, source in plan.asked)
                if out.translation is not None:
                    cache.put(
                        key,
                        model=opts.model,
                        prompt_version=PROMPT_VERSION,
                        variant=variant,
                        source=source,
                        translation=out.translation,
                        prompt_tokens=out.prompt_tokens,
                        completion_tokens=out.completion_tokens,
                    )
                    stats.translated += 1
                else:
                    failures[key] = out
                    stats.failed_strings += 1
                progress.advance()
                refresh()

    tasks = [asyncio.create_task(worker()) for _ in range(max(1, opts.concurrency))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            t.result()
    except CallError as e:
        raise UsageError(e.detail) from None
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await endpoint.close()
        stats.request_seconds = time.monotonic() - started
        refresh(force=True)
    return failures


COMMAND = "zqvl-data translate"


@contextmanager
def owned_output(in_dir: str | Path, out_dir: str | Path, force: bool) -> Iterator[tuple[Path, Path]]:
    """(input chat.json, input DIR) while holding DIR2: claimed for translate (its own output of this input is
    resumed; anything else needs `force`), marked, locked against a second writer. The live run and the Batch
    API's submit and collect all write DIR2 under this."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    source = chat_json(in_dir)
    in_dir = source.parent
    if out_dir.resolve() == in_dir.resolve():
        raise UsageError(f"--out {out_dir} is the input directory; translate never writes over its input")
    claim(out_dir, COMMAND, input_dir=in_dir, resumable=True, force=force)
    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_dir(out_dir, COMMAND):
        write_mark(out_dir, COMMAND, in_dir)
        yield source, in_dir


def translate_dir(
    in_dir: str | Path,
    out_dir: str | Path,
    opts: TranslateOptions,
    progress: Progress = NULL,
    summary_extra: dict | None = None,
) -> Stats:
    """Translate DIR into DIR2 (see the package docstring). Returns the run's Stats; raises UsageError.
    `summary_extra` goes into translate_summary.json as well (the Batch API's collect adds its counts)."""
    started = time.monotonic()
    out_dir = Path(out_dir)
    stats = Stats(dedupe=opts.dedupe)
    with owned_output(in_dir, out_dir, opts.force) as (source, in_dir):
        for stale in [p for name in OUTPUTS for p in out_dir.glob(f".{name}.*.tmp")]:
            stale.unlink()  # left by a killed run; we hold the lock, so no live run owns them
        cache = TranslationCache(opts.cache_path or out_dir / CACHE_NAME)
        try:
            plan = build_plan(source, opts.dedupe, stats, limit=opts.limit)
            failures = asyncio.run(_request_phase(plan, cache, opts, stats, progress)) if plan.n_jobs else {}
            write_outputs(
                source, in_dir, out_dir, plan, cache, failures, opts.model, PROMPT_VERSION, stats, limit=opts.limit
            )
        finally:
            cache.close()
        stats.seconds = time.monotonic() - started
        summary = {
            "model": opts.model,
            "base_url": public_url(opts.base_url),
            "prompt_version": PROMPT_VERSION,
            **stats.to_json(),
            **(summary_extra or {}),
        }
        with atomic_open(out_dir / "translate_summary.json") as fh:
            fh.write(dumps(summary) + "\n")
    return stats

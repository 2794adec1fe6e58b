"""An optional LLM judge for `zqvl-data clean`: is each Chinese turn a faithful, complete translation?

Rules cannot see that "What is the cat doing?" came back as a different answer, or that a clause is missing from
a caption. A model can. Each record that passed every rule is sent once to an OpenAI-compatible endpoint with its
turns as English/Chinese pairs (prompts/judge-v1.txt) and must answer with a strict JSON verdict. The verdict is
committed to a sqlite cache (translate's, keyed by model + prompt version + the record's content) the moment it
is accepted, so a rerun, or a run after a SIGKILL, never sends a record twice. A reply that is not a valid verdict
is retried; one that never becomes valid rejects the record as `judge.no_verdict` — a verdict is never assumed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from zqvl.data.checks import Reason
from zqvl.data.schema import Record
from zqvl.data.translate.cache import TranslationCache, cache_key
from zqvl.data.translate.client import CallError, Endpoint
from zqvl.data.translate.translator import RetryPolicy
from zqvl.errors import UsageError

JUDGE_PROMPT = (files("zqvl.data.translate") / "prompts" / "judge-v1.txt").read_text("utf-8").strip()
JUDGE_VERSION = "judge-v1-" + hashlib.sha256(JUDGE_PROMPT.encode()).hexdigest()[:10]
VERDICTS = ("ok", "answered_instead", "omission", "addition", "meaning_changed")
MAX_TOKENS = 200


def record_prompt(record: Record) -> str:
    """The record as numbered English/Chinese pairs (what the judge reads; also the cache's content key)."""
    parts = []
    for i, turn in enumerate(record.turns, 1):
        parts.append(f"Turn {i} ({turn.role})\nEnglish: {turn.source}\nChinese: {turn.value}")
    return "\n\n".join(parts)


def parse_verdict(text: str, turns: int) -> tuple[str, int | None, str]:
    """(verdict, turn, why) from a strict JSON reply; ValueError for anything else (a code fence is tolerated)."""
    t = text.strip()
    if t.startswith("```"):
        t = t.strip("`").removeprefix("json").strip()
    data = json.loads(t)
    if not isinstance(data, dict) or data.get("verdict") not in VERDICTS:
        raise ValueError(f"not a verdict: {text[:80]!r}")
    turn = data.get("turn")
    if data["verdict"] != "ok" and not (isinstance(turn, int) and 1 <= turn <= turns):
        raise ValueError(f"verdict {data['verdict']!r} names no turn of the record: {turn!r}")
    why = data.get("why")
    return data["verdict"], (turn if data["verdict"] != "ok" else None), why if isinstance(why, str) else ""


@dataclass
class JudgeOptions:
    base_url: str
    model: str
    api_key: str = ""
    cache: Path = Path("judge-cache.sqlite")
    concurrency: int = 8
    timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class JudgeStats:
    judged: int = 0
    cached: int = 0
    requests: int = 0
    no_verdict: int = 0
    verdicts: dict = field(default_factory=dict)


def _reason(verdict: str, turn: int | None, why: str) -> Reason | None:
    if verdict == "ok":
        return None
    return Reason(f"judge.{verdict}", f"turn {turn - 1}: {why}" if turn else why)


def judge(records: Iterable[tuple[int, Record]], options: JudgeOptions) -> tuple[dict[int, Reason], JudgeStats]:
    """Verdicts for (key, record) pairs: the reason for each record the judge finds unfaithful."""
    return asyncio.run(_judge_all(list(records), options))


async def _judge_all(records: list[tuple[int, Record]], options: JudgeOptions):
    cache, stats, found = TranslationCache(options.cache), JudgeStats(), {}
    endpoint = Endpoint(options.base_url, options.model, options.api_key, options.timeout)
    gate = asyncio.Semaphore(options.concurrency)

    async def one(key: int, record: Record) -> None:
        content = record_prompt(record)
        ck = cache_key(options.model, JUDGE_VERSION, content)
        cached = cache.get(ck)
        if cached is not None:
            stats.cached += 1
            verdict = parse_verdict(cached, len(record.turns))
        else:
            async with gate:
                verdict = await _ask(endpoint, content, len(record.turns), options.retry, stats)
            if verdict is None:
                stats.no_verdict += 1
                found[key] = Reason("judge.no_verdict", f"no valid verdict after {options.retry.max_attempts} tries")
                return
            cache.put(
                ck,
                model=options.model,
                prompt_version=JUDGE_VERSION,
                variant=0,
                source=content,
                translation=json.dumps(
                    {"verdict": verdict[0], "turn": verdict[1], "why": verdict[2]}, ensure_ascii=False
                ),
            )
        stats.judged += 1
        stats.verdicts[verdict[0]] = stats.verdicts.get(verdict[0], 0) + 1
        reason = _reason(*verdict)
        if reason is not None:
            found[key] = reason

    try:
        await asyncio.gather(*(one(k, r) for k, r in records))
    finally:
        await endpoint.close()
        cache.close()
    return found, stats


async def _ask(endpoint: Endpoint, content: str, turns: int, retry: RetryPolicy, stats: JudgeStats):
    messages = [{"role": "system", "content": JUDGE_PROMPT}, {"role": "user", "content": content}]
    failures = 0
    while failures < retry.max_attempts:
        stats.requests += 1
        try:
            completion = await endpoint.complete(messages, MAX_TOKENS, 0.0)
            return parse_verdict(completion.content, turns)
        except CallError as e:
            if e.fatal:
                raise UsageError(f"judge endpoint {endpoint.base_url}: {e.detail}") from None
            if not e.retryable:
                return None
            retry_after = e.retry_after
            failures += 1
            if failures < retry.max_attempts:
                await asyncio.sleep(retry.delay(failures, retry_after))
        except ValueError:
            failures += 1  # not a verdict: ask again at once (the endpoint is fine, the reply was not)
    return None

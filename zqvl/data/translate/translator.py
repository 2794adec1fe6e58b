"""One source string -> one verified translation, or a failure with its reason, in a bounded number of tries.

Mask once; then per attempt wait for the rate limiter, call the endpoint, and on
  transport trouble (429, 5xx, timeout, dropped connection) -> back off (Retry-After wins) and retry;
  finish_reason "length" -> retry at once with double max_tokens (a cut-off answer is never accepted);
  a rejected answer (what clean would drop, e.g. preamble.lead_in, or a lost placeholder) -> retry with
  feedback and a higher temperature;
  a bad request (400) -> fail this string only; a refused key, an unknown model, or an endpoint that has
  never answered anything -> CallError(fatal), which stops the whole run.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from zqvl.data.translate.check import check_answer, feedback
from zqvl.data.translate.client import CallError, Completion, Endpoint
from zqvl.data.translate.pack import PACK_RULES, pack_budget, pack_messages, share, split_reply
from zqvl.data.translate.prompt import completion_budget, estimate_tokens, messages
from zqvl.data.translate.ratelimit import RateLimiter
from zqvl.data.translate.spans import Masked, mask
from zqvl.data.translate.stats import Stats

MAX_RETRY_AFTER = 600.0  # honour Retry-After up to 10 minutes; beyond that something is wrong upstream
TRANSPORT = {"connection", "timeout", "server_error", "rate_limited", "bad_response"}


@dataclass
class Outcome:
    translation: str | None
    reason: str = ""
    detail: str = ""
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def accept_reply(
    masked: list[Masked], reply: Completion, stats: Stats, asked: list[bool] | None = None
) -> list[Outcome | None]:
    """What one answered request yields, item by item: an Outcome for each answer that passes its checks, None
    for each that must be asked again alone. Several masked texts mean a pack, whose reply is split by its
    numbering. Shared by the live path (packs) and the Batch API's collect (packs and single strings). `asked`:
    per item, whether a human turn carries it (check_answer)."""
    n = len(masked)
    parts = None
    if reply.finish_reason != "stop":
        single = {"length": "truncated"}.get(reply.finish_reason, reply.finish_reason)
        stats.problems[f"pack.{reply.finish_reason}" if n > 1 else single] += 1
    elif n == 1:
        parts = [reply.content]
    else:
        parts = split_reply(reply.content, n)
        if parts is None:
            stats.problems["pack.numbering"] += 1
    if parts is None:
        return [None] * n
    weights = [len(m.body) for m in masked]
    prompt_shares = share(reply.prompt_tokens, weights)
    completion_shares = share(reply.completion_tokens, weights)
    outcomes: list[Outcome | None] = []
    for i, (m, part) in enumerate(zip(masked, parts)):
        verdict = check_answer(m, part, bool(asked and asked[i]))
        if not verdict.ok:
            stats.problems[verdict.code] += 1
            outcomes.append(None)
            continue
        stats.script_converted += verdict.script_converted
        outcomes.append(Outcome(m.restore(verdict.text), "", "", 1, prompt_shares[i], completion_shares[i]))
    return outcomes


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 0.5  # seconds before the first transport retry; doubles each time
    backoff_cap: float = 30.0

    def delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        # Full jitter keeps many workers that failed together from retrying in lockstep.
        return min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)


class Translator:
    def __init__(
        self,
        endpoint: Endpoint,
        limiter: RateLimiter,
        stats: Stats,
        *,
        policy: RetryPolicy,
        max_tokens: int,
        temperature: float,
    ):
        self.endpoint, self.limiter, self.stats, self.policy = endpoint, limiter, stats, policy
        self.max_tokens, self.temperature = max_tokens, temperature
        self.answered = 0  # completions received; while 0, a string that exhausts its tries ends the run

    async def _attempt(self, msgs: list[dict], budget: int, temperature: float, estimate: int):
        """One request under the rate limiter: the reply, or the CallError it ended in (fatal ones raise)."""
        await self.limiter.acquire(estimate)
        self.stats.requests += 1
        try:
            reply = await self.endpoint.complete(msgs, budget, temperature)
        except CallError as e:
            self.limiter.settle(estimate, 0)
            self.stats.problems[e.kind] += 1
            if e.fatal:
                raise
            if e.kind == "rate_limited" and e.retry_after is not None:
                self.limiter.pause(min(e.retry_after, MAX_RETRY_AFTER))
            return None, e
        self.answered += 1
        self.limiter.settle(estimate, reply.prompt_tokens + reply.completion_tokens)
        self.stats.prompt_tokens += reply.prompt_tokens
        self.stats.completion_tokens += reply.completion_tokens
        return reply, None

    async def translate_pack(self, sources: list[str], asked: list[bool] | None = None) -> list[Outcome | None]:
        """Several short strings in one request (see pack.py): an Outcome for each item accepted, None for
        each that must go alone (its check failed, or the reply as a whole could not be split)."""
        masked = [mask(s) for s in sources]
        bodies = [m.body for m in masked]
        msgs, budget = pack_messages(bodies), pack_budget(bodies, self.max_tokens)
        estimate = estimate_tokens("\n".join(bodies) + PACK_RULES, budget)
        self.stats.packs += 1
        reply = None
        for attempt in range(1, self.policy.max_attempts + 1):
            reply, error = await self._attempt(msgs, budget, self.temperature, estimate)
            if reply is not None or not error.retryable:
                break
            if attempt < self.policy.max_attempts:
                await asyncio.sleep(self.policy.delay(attempt, error.retry_after))
        outcomes = [None] * len(sources) if reply is None else accept_reply(masked, reply, self.stats, asked)
        self.stats.pack_fallbacks += outcomes.count(None)
        self.stats.packed_strings += len(outcomes) - outcomes.count(None)
        return outcomes

    async def translate(self, source: str, asked: bool = False) -> Outcome:
        masked = mask(source)
        budget = completion_budget(masked.body, self.max_tokens)
        temperature, note = self.temperature, None
        out = Outcome(None)
        transport_failures = 0
        for attempt in range(1, self.policy.max_attempts + 1):
            out.attempts = attempt
            estimate = estimate_tokens(masked.body, budget)
            reply, error = await self._attempt(messages(masked.body, note), budget, temperature, estimate)
            if error is not None:
                out.reason, out.detail = error.kind, error.detail
                if not error.retryable:
                    return out
                transport_failures += 1
                if attempt < self.policy.max_attempts:
                    await asyncio.sleep(self.policy.delay(transport_failures, error.retry_after))
                continue
            out.prompt_tokens += reply.prompt_tokens
            out.completion_tokens += reply.completion_tokens
            if reply.finish_reason == "length" and budget < self.max_tokens:
                self.stats.problems["truncated"] += 1
                out.reason, out.detail = "truncated", f"answer cut off at max_tokens={budget}"
                budget = min(self.max_tokens, budget * 2)
                continue
            if reply.finish_reason == "length":
                # Already at the ceiling: most likely a degenerate loop; try again, hotter, with feedback.
                code, detail = "truncated", f"answer cut off even at max_tokens={budget}"
            elif reply.finish_reason == "content_filter":
                code, detail = "content_filter", "the endpoint's content filter stopped the answer"
            else:
                verdict = check_answer(masked, reply.content, asked)
                if verdict.ok:
                    self.stats.script_converted += verdict.script_converted
                    out.translation = masked.restore(verdict.text)
                    out.reason = out.detail = ""
                    return out
                code, detail = verdict.code, verdict.detail
            self.stats.problems[code] += 1
            out.reason, out.detail = code, detail
            note = feedback(code, detail)
            temperature = min(1.0, temperature + 0.3)
        if out.reason in TRANSPORT and not self.answered:
            # Nothing has ever answered: a wrong URL or a server that is down, not a bad string. Stop now
            # instead of marking every record failed after hours of backoff.
            raise CallError(
                out.reason,
                f"{self.endpoint.base_url} never answered ({out.detail}, {out.attempts} attempts)",
                retryable=False,
                fatal=True,
            )
        out.detail = f"{out.detail} (gave up after {out.attempts} attempts)"
        return out

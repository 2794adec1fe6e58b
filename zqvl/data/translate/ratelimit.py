"""Client-side pacing: --rpm / --tpm token buckets and a shared pause after a 429's Retry-After.

Each bucket refills continuously at limit/60 per second and holds at most one second's worth, so requests are
spread out instead of bursting a whole minute's budget at the start (which is what earns 429s). A request
larger than one second's tokens waits for a full bucket and then runs into debt: the long-run rate is exact.
The token estimate made before a request is corrected with the real usage afterwards (`settle`).
"""

from __future__ import annotations

import asyncio
import time


class _Bucket:
    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self, amount: float, now: float) -> float:
        self._refill(now)
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount


class RateLimiter:
    def __init__(self, rpm: float | None = None, tpm: float | None = None):
        self._requests = _Bucket(rpm) if rpm else None
        self._tokens = _Bucket(tpm) if tpm else None
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every new request for `seconds` (a 429 says the whole client is over the limit)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, tokens: int) -> None:
        while True:
            now = time.monotonic()
            delay = self._paused_until - now
            if self._requests:
                delay = max(delay, self._requests.wait(1, now))
            if self._tokens:
                delay = max(delay, self._tokens.wait(tokens, now))
            if delay <= 0:
                if self._requests:
                    self._requests.take(1)
                if self._tokens:
                    self._tokens.take(tokens)
                return
            await asyncio.sleep(delay)

    def settle(self, estimated: int, actual: int) -> None:
        """Replace a request's estimated tokens by what it really used (a refund or more debt)."""
        if self._tokens:
            self._tokens.level += estimated - actual

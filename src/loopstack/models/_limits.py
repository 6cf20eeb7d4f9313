"""Per-provider concurrency and requests/tokens-per-minute limits.

Asyncio primitives belong to one event loop, so limiter state is kept per running loop: a CLI that
calls ``asyncio.run`` twice, or an eval and a test in different loops, each get their own.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _Bucket:
    """A token bucket refilled continuously at ``per_minute / 60`` per second.

    Capacity is ten seconds' worth (at least one request's need), so a burst can start at once but the
    minute's budget is spread out instead of spent in the first second.
    """

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 6.0)
        self.level = self.capacity
        self.stamp = time.monotonic()
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, amount: float) -> None:
        async with self.lock:  # FIFO: the first waiter is served first
            amount = min(amount, self.capacity)
            self._refill()
            while self.level < amount:
                await asyncio.sleep((amount - self.level) / self.rate)
                self._refill()
            self.level -= amount

    def give_back(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class Limiter:
    """Concurrency slots plus optional request and token budgets for one provider key."""

    def __init__(self, max_concurrency: int, rpm: float | None, tpm: float | None) -> None:
        self.slots = asyncio.Semaphore(max_concurrency)
        self.requests = _Bucket(rpm) if rpm else None
        self.tokens = _Bucket(tpm) if tpm else None

    @asynccontextmanager
    async def acquire(self, estimated_tokens: int) -> AsyncIterator[None]:
        """Wait for a slot and budget; held for the duration of one attempt."""
        async with self.slots:
            if self.requests is not None:
                await self.requests.take(1)
            if self.tokens is not None:
                await self.tokens.take(estimated_tokens)
            yield

    def settle(self, estimated_tokens: int, actual_tokens: int) -> None:
        """Return the over-estimate of a finished call to the token budget."""
        if self.tokens is not None and actual_tokens < estimated_tokens:
            self.tokens.give_back(estimated_tokens - actual_tokens)


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Limiter]] = (
    weakref.WeakKeyDictionary()
)


def limiter_for(key: str, max_concurrency: int, rpm: float | None, tpm: float | None) -> Limiter:
    """The limiter of ``key`` in the running loop, created with these limits on first use."""
    loop = asyncio.get_running_loop()
    limiters = _per_loop.setdefault(loop, {})
    limiter = limiters.get(key)
    if limiter is None:
        limiter = limiters[key] = Limiter(max_concurrency, rpm, tpm)
    return limiter

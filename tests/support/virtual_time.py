"""A virtual clock for tests and benchmarks: sleeping moves time forward at once.

Production code takes its clocks and its sleep as constructor arguments (`clock`, `monotonic`,
`sleep`); tests and `bench/broadcast.py` pass this object's instead::

    vt = VirtualTime()
    broadcasts = BroadcastEngine(..., clock=vt, monotonic=vt.monotonic, sleep=vt.sleep)
    vt.track(broadcasts.limiter_for("telegram"))
    service = OutreachService(..., broadcasts, clock=vt, monotonic=vt.monotonic)

or the whole app: ``Jingtu(settings, clock=vt, monotonic=vt.monotonic, sleep=vt.sleep)``.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import UTC, datetime, timedelta

from bot.delivery.ratelimit import RateLimiter


class VirtualTime:
    """A clock whose sleep returns at once, having moved time forward (tests and benchmarks).

    `monotonic()` gives seconds for rate limits, calling the object gives the matching aware
    datetime, so one virtual timeline drives both the limiter and the database timestamps.
    Time stands still while a tracked limiter has a send in flight: a sleeper first waits for
    the platform's answers, so requests take no virtual time (a zero-latency platform) and the
    figures measure the limiter, not how the event loop happened to interleave.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
        self.seconds = 0.0
        self.slept = 0.0
        self._limiters: weakref.WeakSet[RateLimiter] = weakref.WeakSet()

    def track(self, limiter: RateLimiter) -> RateLimiter:
        """Hold time still while `limiter` has a send in flight; returns the limiter."""
        self._limiters.add(limiter)
        return limiter

    def monotonic(self) -> float:
        return self.seconds

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    async def sleep(self, seconds: float) -> None:
        """Advance time by `seconds`; or, if a send is in flight, wait for it and return
        without advancing (an early wake-up: callers re-check their condition, as they must)."""
        busy = [limiter for limiter in self._limiters if limiter.in_flight]
        if busy:
            for limiter in busy:
                await limiter.idle()
            return
        if seconds > 0:
            self.seconds += seconds
            self.slept += seconds
        await asyncio.sleep(0)

    def advance(self, **delta: float) -> datetime:
        self.seconds += timedelta(**delta).total_seconds()
        return self()

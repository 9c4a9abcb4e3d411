"""Send-rate limits for broadcasts: a global rate and at most one message a second per chat.

The algorithm is a sliding-window log (the shape of Telegram's flood limits) with strict
accounting: a send occupies its window from the moment it starts until one window *after its
response arrived*. The platform stamps a message somewhere between those two moments, so however
long the request takes and whatever the clock does meanwhile, no window the platform looks at ever
holds more than the limit. Starts are also spaced evenly (1/rate apart) so the limiter never
bursts. `retry_after` from a 429 pauses one chat, or everything when the chat had no recent send
(Telegram then means the bot as a whole); "recent" is three per-chat windows.

Time is injected (`monotonic` and `sleep`, constructor arguments), so tests and benchmarks run
the limiter on a virtual clock whose sleep moves time forward at once. Memory is bounded by the
rate, not by the number of chats: per-chat entries are dropped once their window has passed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Protocol

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Added to every computed wake-up time so that float rounding can never make us a hair early.
MARGIN = 1e-6


def window_of(per_second: float) -> tuple[int, float]:
    """(capacity, window seconds): ≥ 1/s as N per second, below that one per 1/rate seconds."""
    if per_second <= 0:
        raise ValueError("rate must be positive")
    if per_second >= 1:
        return int(per_second), 1.0
    return 1, 1.0 / per_second


class RateLimiter:
    def __init__(
        self,
        per_second: float,
        *,
        per_chat_per_second: float = 1.0,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self.capacity, self.window = window_of(per_second)
        self.interval = 1.0 / per_second
        self.chat_window = 1.0 / per_chat_per_second
        # A 429 for a chat written to this recently is taken to be about that chat.
        self.recent = 3 * self.chat_window
        self.monotonic = monotonic
        self.sleep = sleep
        self._ended: deque[float] = deque()  # end times of finished sends still in the window
        self._in_flight = 0
        self._next_start = -math.inf
        self._paused_until = -math.inf
        self._chat_ended: OrderedDict[str, float] = OrderedDict()  # oldest end first
        self._chat_busy: set[str] = set()
        self._chat_paused: dict[str, float] = {}
        self._released = asyncio.Event()
        self.throttled = 0  # 429s seen
        self.paused_globally = 0

    # -- the two calls a sender makes ----------------------------------------------------------

    async def acquire(self, chat: str) -> None:
        """Wait until a message may be sent to `chat` now; pair with `release`."""
        while True:
            now = self.monotonic()
            wait = self._wait_time(chat, now)
            if wait == 0.0:
                self._in_flight += 1
                self._chat_busy.add(chat)
                self._next_start = max(now, self._next_start) + self.interval
                return
            if wait is None:  # the window is full of sends still in flight
                released = self._released
                await released.wait()
            else:
                await self.sleep(wait)

    def release(self, chat: str, *, retry_after: float | None = None) -> None:
        """The send to `chat` finished (successfully or not); `retry_after` from a 429."""
        now = self.monotonic()
        if retry_after is not None:
            self.throttled += 1
            previous = self._chat_ended.get(chat)
            if previous is not None and previous + self.recent > now:
                self._chat_paused[chat] = now + retry_after
            else:
                self._paused_until = max(self._paused_until, now + retry_after)
                self.paused_globally += 1
        self._in_flight -= 1
        self._chat_busy.discard(chat)
        self._ended.append(now)
        self._chat_ended[chat] = now
        self._chat_ended.move_to_end(chat)
        self._forget_old_chats(now)
        released, self._released = self._released, asyncio.Event()
        released.set()

    # -- internals -----------------------------------------------------------------------------

    def _wait_time(self, chat: str, now: float) -> float | None:
        """0 to go now, seconds to sleep, or None to wait for a send in flight to finish."""
        waits = [self._next_start - now, self._paused_until - now]
        paused = self._chat_paused.get(chat)
        if paused is not None:
            if paused <= now:
                del self._chat_paused[chat]
            else:
                waits.append(paused - now)
        ended = self._chat_ended.get(chat)
        if ended is not None:
            waits.append(ended + self.chat_window + MARGIN - now)
        limit = self.window + MARGIN
        while self._ended and self._ended[0] + limit <= now:
            self._ended.popleft()
        if len(self._ended) + self._in_flight >= self.capacity:
            if not self._ended:
                return None
            waits.append(self._ended[0] + limit - now)
        if chat in self._chat_busy:
            return None
        wait = max(waits)
        # Below a nanosecond is float noise; MARGIN already keeps us clear of the boundary.
        return wait if wait > 1e-9 else 0.0

    def _forget_old_chats(self, now: float) -> None:
        horizon = now - self.recent - MARGIN
        while self._chat_ended:
            chat, ended = next(iter(self._chat_ended.items()))
            if ended > horizon:
                break
            del self._chat_ended[chat]
        if len(self._chat_paused) > 4 * self.capacity:
            for chat, until in list(self._chat_paused.items()):
                if until <= now:
                    del self._chat_paused[chat]

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def idle(self) -> None:
        """Return once no send is in flight."""
        while self._in_flight:
            released = self._released
            await released.wait()

    @property
    def tracked_chats(self) -> int:
        """How many chats the limiter remembers (bounded by the rate, for tests)."""
        return len(self._chat_ended) + len(self._chat_paused)


class SharedBudget(Protocol):
    """A send budget shared with other processes (one per bot token): `take` waits for a slot.

    Channels call it before every request that sends a message; the composition root gives
    them one on PostgreSQL (`bot.services.shared.DatabaseSendBudget`)."""

    async def take(self) -> None: ...

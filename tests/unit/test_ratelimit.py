"""The broadcast rate limiter against the fake Bot API's own sliding windows, on virtual time."""

from __future__ import annotations

import asyncio
import itertools
import random

from bot.delivery.ratelimit import RateLimiter
from tests.fakes.telegram_api import _SlidingWindow
from tests.support.virtual_time import VirtualTime


class FakePlatform:
    """Telegram's flood rules as FakeBotApi applies them, without HTTP: counts would-be 429s."""

    def __init__(self, vt: VirtualTime, per_second: float, per_chat: float = 1.0) -> None:
        self.vt = vt
        self.global_window = _SlidingWindow(per_second)
        self.per_chat = per_chat
        self.chats: dict[str, _SlidingWindow] = {}
        self.sent: list[tuple[float, str]] = []
        self.refused = 0

    async def send(self, chat: str, latency_steps: int = 0) -> None:
        for _ in range(latency_steps):  # the request travels; other tasks run meanwhile
            await asyncio.sleep(0)
        now = self.vt.monotonic()
        window = self.chats.setdefault(chat, _SlidingWindow(self.per_chat))
        if self.global_window.wait_time(now) > 0 or window.wait_time(now) > 0:
            self.refused += 1
            return
        self.global_window.record(now)
        window.record(now)
        self.sent.append((now, chat))


async def blast(
    limiter: RateLimiter,
    platform: FakePlatform,
    chats: list[str],
    *,
    workers: int,
    latency: int = 0,
) -> None:
    queue = list(reversed(chats))

    async def work() -> None:
        while queue:
            chat = queue.pop()
            await limiter.acquire(chat)
            try:
                await platform.send(chat, latency)
            finally:
                limiter.release(chat)

    await asyncio.gather(*(work() for _ in range(workers)))


def limiter_on(vt: VirtualTime, rate: float) -> RateLimiter:
    return vt.track(RateLimiter(rate, monotonic=vt.monotonic, sleep=vt.sleep))


async def test_thirty_per_second_is_reached_and_never_exceeded():
    vt = VirtualTime()
    platform = FakePlatform(vt, 30)
    await blast(limiter_on(vt, 30), platform, [f"c{i}" for i in range(900)], workers=8, latency=3)
    assert platform.refused == 0
    assert len(platform.sent) == 900
    assert 899 / 30 - 0.01 <= vt.seconds <= 899 / 30 * 1.01


async def test_a_thousand_per_second_holds_with_many_sends_in_flight():
    vt = VirtualTime()
    platform = FakePlatform(vt, 1000)
    chats = [f"c{i}" for i in range(5000)]
    await blast(limiter_on(vt, 1000), platform, chats, workers=64, latency=5)
    assert platform.refused == 0
    assert vt.seconds <= 5000 / 1000 * 1.01


async def test_one_chat_gets_at_most_one_message_a_second():
    vt = VirtualTime()
    platform = FakePlatform(vt, 30)
    await blast(limiter_on(vt, 30), platform, ["same"] * 5 + ["other"] * 5, workers=4)
    assert platform.refused == 0
    same = [t for t, chat in platform.sent if chat == "same"]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(same))


async def test_a_random_mix_of_chats_and_latencies_never_breaks_either_limit():
    rng = random.Random(5)
    for _ in range(5):
        vt = VirtualTime()
        rate = rng.choice([3, 30, 100])
        platform = FakePlatform(vt, rate)
        chats = [f"c{rng.randrange(40)}" for _ in range(300)]
        limiter = limiter_on(vt, rate)
        await blast(
            limiter, platform, chats, workers=rng.randrange(1, 12), latency=rng.randrange(6)
        )
        assert platform.refused == 0


async def test_retry_after_without_a_recent_send_to_that_chat_pauses_everything():
    vt = VirtualTime()
    limiter = limiter_on(vt, 30)
    await limiter.acquire("a")
    limiter.release("a", retry_after=5)
    await limiter.acquire("b")
    assert vt.seconds >= 5


async def test_retry_after_on_a_chat_just_written_to_pauses_only_that_chat():
    vt = VirtualTime()
    limiter = limiter_on(vt, 30)
    await limiter.acquire("a")
    limiter.release("a")
    await limiter.acquire("a")
    limiter.release("a", retry_after=5)  # the per-chat limit: Telegram means this chat
    before = vt.seconds
    await limiter.acquire("b")
    limiter.release("b")
    assert vt.seconds - before < 0.1
    await limiter.acquire("a")
    assert vt.seconds - before >= 5


async def test_the_limiter_forgets_chats_once_their_second_has_passed():
    vt = VirtualTime()
    limiter = limiter_on(vt, 30)
    platform = FakePlatform(vt, 30)
    await blast(limiter, platform, [f"c{i}" for i in range(3000)], workers=4)
    assert limiter.tracked_chats <= 3 * 30 + 1


async def test_virtual_sleep_waits_for_sends_in_flight_instead_of_moving_time():
    vt = VirtualTime()
    limiter = limiter_on(vt, 30)
    await limiter.acquire("a")
    sleeper = asyncio.create_task(vt.sleep(10))
    await asyncio.sleep(0)
    assert vt.seconds == 0 and not sleeper.done()
    limiter.release("a")
    await sleeper
    assert vt.seconds == 0  # woken early: the caller re-checks before sleeping again
    await vt.sleep(10)
    assert vt.seconds == 10

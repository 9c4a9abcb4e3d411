import asyncio
import random

from bot.channels.lanes import ChatLanes


async def test_each_chats_jobs_run_in_order_even_when_the_slots_are_contended():
    # Few slots, many chats, jobs that yield at random points: the situation in which waking
    # order of a semaphore could reorder one chat's updates.
    lanes = ChatLanes(concurrency=3, max_pending=1000)
    rng = random.Random(7)
    done: dict[str, list[int]] = {}

    def job(chat: str, n: int):
        async def run() -> None:
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
            done.setdefault(chat, []).append(n)

        return run

    submitted: dict[str, list[int]] = {}
    for n in range(400):
        chat = f"c{rng.randint(0, 9)}"
        submitted.setdefault(chat, []).append(n)
        await lanes.submit(chat, job(chat, n))
    await lanes.drain()
    assert done == submitted


async def test_a_slow_chat_does_not_hold_up_another():
    lanes = ChatLanes(concurrency=4)
    slow_may_finish = asyncio.Event()
    fast_done = asyncio.Event()
    order: list[str] = []

    async def slow() -> None:
        await slow_may_finish.wait()
        order.append("slow")

    async def fast() -> None:
        order.append("fast")
        fast_done.set()

    await lanes.submit("a", slow)
    await lanes.submit("b", fast)
    await asyncio.wait_for(fast_done.wait(), timeout=10)
    assert order == ["fast"]
    slow_may_finish.set()
    await lanes.drain()
    assert order == ["fast", "slow"]


async def test_a_failing_job_is_logged_and_the_chats_next_job_still_runs(caplog):
    lanes = ChatLanes()
    ran: list[str] = []

    async def boom() -> None:
        raise RuntimeError("boom")

    async def after() -> None:
        ran.append("after")

    await lanes.submit("a", boom)
    await lanes.submit("a", after)
    await lanes.drain()
    assert ran == ["after"]
    assert "work for chat a failed" in caplog.text


async def test_submit_waits_when_too_much_work_is_queued():
    lanes = ChatLanes(concurrency=1, max_pending=2)
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()

    await lanes.submit("a", blocked)
    await lanes.submit("b", blocked)
    third = asyncio.create_task(lanes.submit("c", blocked))
    await asyncio.sleep(0)
    assert not third.done() and lanes.pending == 2
    gate.set()
    await asyncio.wait_for(third, timeout=10)
    await lanes.drain()
    assert lanes.pending == 0

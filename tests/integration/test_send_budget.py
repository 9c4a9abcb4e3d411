"""The send budget every process shares on PostgreSQL: a slot is used on time or not at all.

The slots are spaced on the database's clock; this process's clock and its sleep are fakes, so a
sender can be made to wake late (kept off a busy CPU) without a real sleep.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import event

from bot.services.shared import ARRIVAL_SPREAD, DatabaseClock, DatabaseSendBudget
from bot.storage.db import Database

postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


class SleepyClock:
    """A monotonic clock that moves only when slept on; each sleep overruns by the next of
    `overruns` (a process that gets the CPU back late)."""

    def __init__(self, *overruns: float) -> None:
        self.now = 1000.0
        self.overruns = list(overruns)
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds + (self.overruns.pop(0) if self.overruns else 0.0)


def budget(database: Database, clock: SleepyClock) -> DatabaseSendBudget:
    # One slot a second: the test's own few milliseconds of real time do not move a slot.
    return DatabaseSendBudget(database, "telegram:1", 1.0, monotonic=clock, sleep=clock.sleep)


@postgres_only
async def test_a_sender_that_wakes_late_for_its_slot_gives_it_up_and_sends_in_a_fresh_one(
    database: Database,
):
    clock = SleepyClock(0.5)  # the first wait overruns by half a second
    sender = budget(database, clock)
    await sender.take()  # the first slot is now
    await sender.take()  # the next is a second away; it wakes 0.5 s after it
    assert sender.given_up == 1
    # It slept for its slot, then for the fresh one two seconds after the first slot, and
    # returned at that slot, not half a second after the one it missed.
    assert clock.slept == [pytest.approx(1.0, abs=0.25), pytest.approx(2.0, abs=0.25)]


@postgres_only
async def test_a_sender_that_wakes_within_the_tolerance_uses_its_slot(database: Database):
    clock = SleepyClock(0.01)
    sender = budget(database, clock)
    await sender.take()
    await sender.take()
    assert sender.given_up == 0
    assert clock.slept == [pytest.approx(1.0, abs=0.25)]


@postgres_only
async def test_two_senders_share_the_slots_and_a_slot_given_up_is_nobody_s(database: Database):
    """Web replies and the leader's broadcast take from one row: a late wake in one process
    never hands its stale slot to the other."""
    web_clock, leader_clock = SleepyClock(), SleepyClock(0.5)
    web, leader = budget(database, web_clock), budget(database, leader_clock)
    await web.take()  # slot 0
    await leader.take()  # slot 1, woken late: gives it up and takes slot 2
    await web.take()  # slot 3
    assert (web.given_up, leader.given_up) == (0, 1)
    assert leader_clock.slept == [pytest.approx(1.0, abs=0.25), pytest.approx(2.0, abs=0.25)]
    assert web_clock.slept == [pytest.approx(3.0, abs=0.25)]


@postgres_only
async def test_a_slot_whose_answer_came_back_after_it_had_passed_is_not_used(database: Database):
    """The database answers 200 ms after reading its clock (a busy sender reads the answer
    late): the slot it named has passed by then, so it is given up, and the fresh one is asked
    for far enough ahead to be known in time, rather than stale again."""
    clock = SleepyClock()

    def answered_late(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith("UPDATE send_budgets"):
            clock.now += 0.2

    event.listen(database.engine.sync_engine, "after_cursor_execute", answered_late)
    # 100 a second: the next slot after a missed one would be only 10 ms on, long gone again
    # by the time its answer is read.
    sender = DatabaseSendBudget(database, "telegram:1", 100.0, monotonic=clock, sleep=clock.sleep)
    async with asyncio.timeout(10):  # a safety net: without the lead it would never return
        await sender.take()
    assert sender.given_up == 1


@postgres_only
async def test_any_rate_consecutive_requests_leave_room_for_late_departures_and_bunching(
    database: Database,
):
    """The platform counts arrivals: requests that leave up to LATE_AFTER late and reach it up
    to ARRIVAL_SPREAD bunched must still be at most `rate` in any second there, so the request
    `rate` places after any other leaves at least 1 s plus ARRIVAL_SPREAD after it (plus
    LATE_AFTER, less the first one's own lateness). Real clock and sleep: a slow machine only
    makes requests leave later, further apart."""
    rate = 50
    sender = DatabaseSendBudget(database, "telegram:1", float(rate))
    departures = []
    for _ in range(2 * rate + 1):
        await sender.take()
        departures.append(time.monotonic())
    spans = [later - earlier for earlier, later in zip(departures, departures[rate:], strict=False)]
    assert min(spans) >= 1.0 + ARRIVAL_SPREAD, spans


def test_the_database_clock_is_placed_by_the_fastest_answer_and_an_old_estimate_gives_way():
    clock = DatabaseClock()
    clock.observe(100.0, asked=0.0, answered=0.2)
    assert clock.local(100.0) == pytest.approx(0.1)
    clock.observe(100.5, asked=0.3, answered=0.31)  # faster: placed within 5 ms
    assert clock.local(100.5) == pytest.approx(0.305)
    clock.observe(101.0, asked=1.0, answered=1.4)  # slower: says less, ignored
    assert clock.local(100.5) == pytest.approx(0.305)
    # Twenty minutes on, the fast answer's estimate is doubted more than a slow fresh one.
    clock.observe(1300.0, asked=1200.0, answered=1200.2)
    assert clock.local(1300.0) == pytest.approx(1200.1)

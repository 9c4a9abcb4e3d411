"""The deadline sweep on a real database: batches are all-or-nothing and safe to run twice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.config import Settings
from bot.domain.cases import replay
from bot.domain.grid import GridIndex
from bot.services.sweep import DeadlineSweep
from bot.storage.db import Database
from bot.storage.models import (
    Case,
    CaseEvent,
    CaseReporter,
    OutboxMessage,
    Person,
    Supervisor,
    SupervisorCell,
)

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
VILLAGE, TOWNSHIP = "540202006005", "540202006"
LOCALES = ["en", "bo", "zh-Hans", None]


class Crash(Exception):
    pass


@pytest.fixture
def database(sample_database: Database) -> Database:
    return sample_database


@pytest.fixture
def grid(sample_grid: GridIndex) -> GridIndex:
    return sample_grid


async def seed_late_cases(database: Database, count: int) -> None:
    """`count` cases in one village, a day late to be acknowledged, one reporter each."""
    async with database.transaction() as s:
        for i in range(count):
            person = Person(
                channel="console",
                channel_user_id=f"r{i}",
                chat_id=f"console:r{i}",
                locale=LOCALES[i % len(LOCALES)],
            )
            s.add(person)
            await s.flush()
            case = Case(
                number=f"2026-{i + 1:05d}",
                category="noise",
                description="Generators all night",
                status="assigned",
                lat=29.267,
                lon=88.881,
                origin_cell_code=VILLAGE,
                cell_code=VILLAGE,
                reporter_id=person.id,
                created_at=NOW - timedelta(days=2),
                ack_due_at=NOW - timedelta(hours=1),
                resolve_due_at=NOW + timedelta(days=13),
            )
            s.add(case)
            await s.flush()
            s.add(CaseReporter(case_id=case.id, person_id=person.id, original=True))
        # The township's roster supervisor has a chat, so the level above hears of it.
        boss = Person(
            channel="console", channel_user_id="boss", chat_id="console:boss", locale="en"
        )
        s.add(boss)
        await s.flush()
        township_supervisors = select(SupervisorCell.supervisor_id).where(
            SupervisorCell.cell_code == TOWNSHIP
        )
        await s.execute(
            update(Supervisor)
            .where(Supervisor.id.in_(township_supervisors))
            .values(person_id=boss.id)
        )


async def count(database: Database, model, *where) -> int:
    async with database.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def sweeper(database: Database, grid: GridIndex, **kwargs) -> DeadlineSweep:
    return DeadlineSweep(database, Settings(), lambda: grid, clock=lambda: NOW, **kwargs)


async def test_a_crash_after_the_first_batch_loses_nothing_and_duplicates_nothing(
    database: Database, grid: GridIndex
):
    await seed_late_cases(database, 5)

    async def crash_in_second_batch(kind: str, batch: int) -> None:
        if batch == 2:
            raise Crash("killed before the second batch committed")

    with pytest.raises(Crash):
        await sweeper(database, grid, batch_size=2, hook=crash_in_second_batch).run()
    assert await count(database, Case, Case.escalation_level == 1) == 2
    assert await count(database, CaseEvent, CaseEvent.kind == "escalate") == 2
    assert await count(database, OutboxMessage, OutboxMessage.chat_id != "console:boss") == 2
    assert await count(database, OutboxMessage, OutboxMessage.chat_id == "console:boss") == 1

    stats = await sweeper(database, grid, batch_size=2).run()
    assert stats.escalated == 3
    assert (await sweeper(database, grid).run()).escalated == 0  # and then nothing is left

    assert await count(database, Case, Case.escalation_level == 1) == 5
    assert await count(database, CaseEvent, CaseEvent.kind == "escalate") == 5
    async with database.reader() as s:
        rows = (await s.execute(select(OutboxMessage.chat_id, OutboxMessage.payload))).all()
    reporter_texts = {chat: p["text"] for chat, p in rows if chat != "console:boss"}
    assert len(reporter_texts) == 5 == len([c for c, _ in rows if c != "console:boss"])
    # Each reporter hears of their own case, in their own language.
    assert "Case 2026-00001" in reporter_texts["console:r0"]
    assert "township supervisors" in reporter_texts["console:r0"]
    assert "2026-00002" in reporter_texts["console:r1"] and "ཤང་" in reporter_texts["console:r1"]
    assert "2026-00003" in reporter_texts["console:r2"] and "乡镇" in reporter_texts["console:r2"]
    assert "乡镇" in reporter_texts["console:r3"]  # no locale chosen: the default, Chinese
    boss = sorted(p["text"] for chat, p in rows if chat == "console:boss")
    assert len(boss) == 3  # one message per batch, each listing that batch's cases
    listed = " ".join(boss)
    assert all(listed.count(f"2026-0000{i}") == 1 for i in range(1, 6))


async def test_a_swept_case_replays_to_what_is_stored(database: Database, grid: GridIndex):
    await seed_late_cases(database, 1)
    async with database.transaction() as s:
        case = (await s.scalars(select(Case))).one()
        s.add_all(
            [
                CaseEvent(
                    case_id=case.id,
                    kind="created",
                    actor_kind="resident",
                    to_status="new",
                    to_cell=VILLAGE,
                ),
                CaseEvent(
                    case_id=case.id,
                    kind="assigned",
                    actor_kind="system",
                    to_status="assigned",
                    to_cell=VILLAGE,
                ),
            ]
        )
    await sweeper(database, grid).run()
    async with database.reader() as s:
        case = (await s.scalars(select(Case))).one()
        history = (await s.scalars(select(CaseEvent).order_by(CaseEvent.id))).all()
    state = replay(history)
    assert (
        (state.status.value, state.cell_code, state.escalation_level)
        == (
            case.status,
            case.cell_code,
            case.escalation_level,
        )
        == ("assigned", VILLAGE, 1)
    )
    assert case.ack_due_at == NOW + timedelta(hours=24)


async def test_sweeps_in_two_processes_at_once_escalate_each_case_once(
    database: Database, grid: GridIndex, backend: str
):
    if backend != "postgres":
        pytest.skip("SQLite has one writer: concurrent sweeps are serialised, not interleaved")
    await seed_late_cases(database, 40)
    other = Database.from_url(str(database.engine.url.render_as_string(hide_password=False)))
    try:
        first, second = await asyncio.gather(
            sweeper(database, grid, batch_size=3).run(),
            sweeper(other, grid, batch_size=3).run(),
        )
    finally:
        await other.dispose()
    assert first.escalated + second.escalated == 40
    assert await count(database, CaseEvent, CaseEvent.kind == "escalate") == 40
    assert await count(database, Case, Case.escalation_level == 1) == 40


async def test_working_day_deadlines_after_escalation_follow_the_holiday_calendar(
    database: Database, grid: GridIndex
):
    await seed_late_cases(database, 1)
    before_holiday = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    async with database.transaction() as s:
        await s.execute(update(Case).values(ack_due_at=before_holiday - timedelta(minutes=1)))
    settings = replace(Settings(), working_days=True)
    await DeadlineSweep(database, settings, lambda: grid, clock=lambda: before_holiday).run()
    async with database.reader() as s:
        case = (await s.scalars(select(Case))).one()
    assert case.ack_due_at == datetime(2026, 10, 8, 2, 0, tzinfo=UTC)

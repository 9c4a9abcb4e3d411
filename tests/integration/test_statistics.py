"""The statistics' counts and medians, worked out by the database, on SQLite and PostgreSQL.

Seven cases received in November 2026 over two counties, a county's own cell and the city's,
and one received in October that no figure may include; each with the events the case rules
write, so every count and median below is known by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.domain.grid import GridIndex
from bot.services.desk import OPERATOR
from bot.services.statistics import Figures, Statistics, statistics
from bot.storage.db import Database
from bot.storage.models import Case, CaseEvent, Person

SAMZHUBZE, SAMZHUBZE_VILLAGE = "540202", "540202001001"
GYANTSE = "540222"
GYANTSE_VILLAGE = "540222002003"
SHIGATSE = "540200"  # the city: no county above it, so its cases count in its own code
RECEIVED = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)

# number, cell, category, status, hours to acknowledge, hours to resolve, events (kind, data)
CASES: list[tuple[int, str, str, str, float | None, float | None, list[tuple[str, Any]]]] = [
    (1, SAMZHUBZE_VILLAGE, "noise", "closed", 1, 10, [("resolve", {}), ("close", {"fixed": True})]),
    (
        2,
        SAMZHUBZE_VILLAGE,
        "noise",
        "reopened",
        3,
        None,  # reopening clears resolved_at: resolved once, but no hours to resolve
        [
            ("overdue", {"reason": "ack"}),
            ("resolve", {}),
            ("reopen", {"fixed": False}),
            ("escalate", {"level": 1, "reason": "reopened", "reached": 1}),
        ],
    ),
    (
        3,
        SAMZHUBZE_VILLAGE,
        "water-river",
        "closed",
        2,
        30,
        [
            ("escalate", {"level": 1, "reason": "resolve", "reached": 1}),
            ("resolve", {}),
            ("close", {"fixed": None}),
        ],
    ),
    (
        4,
        SAMZHUBZE_VILLAGE,
        "water-river",
        "assigned",
        None,
        None,
        [("escalate", {"level": 1, "reason": "ack", "reached": 1})],
    ),
    (5, GYANTSE_VILLAGE, "noise", "acknowledged", 5, None, []),
    (6, GYANTSE, "water-river", "resolved", 4.2, 8, [("resolve", {})]),
    (7, SHIGATSE, "noise", "new", None, None, []),
]


async def seed(database: Database) -> None:
    async with database.transaction() as session:
        person = Person(channel="console", channel_user_id="r", chat_id="r")
        session.add(person)
        await session.flush()
        rows = [(*c, RECEIVED) for c in CASES]
        # Received in October: outside the period, whatever its events say.
        october = RECEIVED - timedelta(days=40)
        rows.append(
            (
                8,
                SAMZHUBZE_VILLAGE,
                "noise",
                "closed",
                100,
                200,
                [("close", {"fixed": True})],
                october,
            )
        )
        for number, cell, category, status, ack, resolve, events, received in rows:
            case = Case(
                number=f"2026-{number:05d}",
                category=category,
                description="x",
                status=status,
                lat=29.0,
                lon=88.0,
                origin_cell_code=cell,
                cell_code=cell,
                reporter_id=person.id,
                created_at=received,
                acknowledged_at=received + timedelta(hours=ack) if ack is not None else None,
                resolved_at=received + timedelta(hours=resolve) if resolve is not None else None,
            )
            session.add(case)
            await session.flush()
            session.add_all(
                CaseEvent(case_id=case.id, kind=kind, actor_kind="system", data=data, at=received)
                for kind, data in events
            )


async def november(database: Database, grid: GridIndex) -> Statistics:
    await seed(database)
    async with database.reader() as session:
        return await statistics(
            session,
            grid,
            OPERATOR,
            since=date(2026, 11, 1),
            until=date(2026, 11, 30),
            tz="Asia/Shanghai",
        )


def counts(f: Figures) -> tuple[int, ...]:
    return (
        f.received,
        f.acknowledged,
        f.acknowledged_in_time,
        f.resolved,
        f.resolved_in_time,
        f.closed,
        f.escalations,
        f.fixed,
        f.not_fixed,
        f.silent,
    )


async def test_each_count_of_the_period_per_county_category_and_in_total(
    sample_database, sample_grid
):
    stats = await november(sample_database, sample_grid)
    # received, acknowledged (in time), resolved (in time), closed, escalations,
    # follow-up answers fixed / not fixed / silent
    assert counts(stats.total) == (7, 5, 4, 4, 3, 2, 3, 1, 1, 1)
    assert {k: counts(v) for k, v in stats.by_county.items()} == {
        SAMZHUBZE: (4, 3, 2, 3, 2, 2, 3, 1, 1, 1),
        GYANTSE: (2, 2, 2, 1, 1, 0, 0, 0, 0, 0),
        SHIGATSE: (1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    }
    assert {k: counts(v) for k, v in stats.by_category.items()} == {
        "noise": (4, 3, 2, 2, 2, 1, 1, 1, 1, 0),
        "water-river": (3, 2, 2, 2, 1, 1, 2, 0, 0, 1),
    }
    # reopened / resolved: the one reopened case over the cases ever resolved
    assert stats.total.reopen_rate == 0.25
    assert [stats.by_county[c].reopen_rate for c in (SAMZHUBZE, GYANTSE, SHIGATSE)] == [
        0.333,
        0.0,
        None,
    ]
    assert [stats.by_category[c].reopen_rate for c in ("noise", "water-river")] == [0.5, 0.0]


async def test_medians_take_the_middle_value_or_the_mean_of_the_middle_two(
    sample_database, sample_grid
):
    stats = await november(sample_database, sample_grid)

    def medians(f: Figures) -> tuple[float | None, float | None]:
        return f.median_ack_hours, f.median_resolve_hours

    assert medians(stats.total) == (3.0, 10.0)  # of 1, 2, 3, 4.2, 5 and of 8, 10, 30
    assert {k: medians(v) for k, v in stats.by_county.items()} == {
        SAMZHUBZE: (2.0, 20.0),  # of 1, 2, 3 and of 10, 30
        GYANTSE: (4.6, 8.0),  # of 4.2, 5 and of 8
        SHIGATSE: (None, None),  # nothing acknowledged or resolved
    }
    assert {k: medians(v) for k, v in stats.by_category.items()} == {
        "noise": (3.0, 10.0),  # of 1, 3, 5 and of 10 (case 2's resolution was undone)
        "water-river": (3.1, 19.0),  # of 2, 4.2 and of 8, 30
    }


async def test_a_period_without_cases_has_no_medians_and_no_rows(sample_database, sample_grid):
    async with sample_database.reader() as session:
        stats = await statistics(
            session,
            sample_grid,
            OPERATOR,
            since=date(2026, 11, 1),
            until=date(2026, 11, 30),
            tz="Asia/Shanghai",
        )
    assert stats.total == Figures()
    assert (stats.by_county, stats.by_category) == ({}, {})

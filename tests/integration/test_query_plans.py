"""The periodic jobs, and the desk's map, reach their rows through indexes on SQLite, statistics
or not.

The deadline sweep runs every minute and the outbox drain every second, on the event loop's
thread. Once SQLite has statistics (ANALYZE, or the `PRAGMA optimize` its documentation
recommends) that say each status covers a large share of the table, its planner preferred to
walk the whole table in id order for these queries, however few rows were due. These tests
give SQLite the statistics of a 100,000-row database, run the real claims, and ask SQLite how
it would execute each statement they sent.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.config import Settings
from bot.delivery.outbox import OutboxDispatcher
from bot.domain.grid import GridIndex
from bot.services.desk import OPERATOR, load_by_cell
from bot.services.housekeeping import Housekeeping
from bot.services.statistics import statistics
from bot.services.sweep import DeadlineSweep
from bot.storage.db import Database

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

# What ANALYZE recorded on the benchmark's database (bench/escalation.py: 100,000 open cases)
# and on an outbox of 100,000 sent messages.
STATISTICS = [
    ("cases", None, "100000"),
    ("cases", "ix_cases_status_ack_due", "100000 50000 33334"),
    ("cases", "ix_cases_status_resolve_due", "100000 50000 33334"),
    ("cases", "ix_cases_cell_load", "100000 60 30 30 1 1"),
    ("cases", "ix_cases_origin_cell_code", "100000 60"),
    ("cases", "ix_cases_period", "100000 1 1 1 1 1 1"),
    ("outbox", None, "100000"),
    ("outbox", "ix_outbox_status_next_attempt", "100000 100000 100000"),
    ("processed_updates", None, "100000"),
    ("processed_updates", "ix_processed_updates_processed_at", "100000 2"),
]


def with_statistics(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "analyzed.db"
    shutil.copyfile(template, path)
    with sqlite3.connect(path) as conn:
        conn.execute("ANALYZE")  # creates sqlite_stat1
        conn.execute("DELETE FROM sqlite_stat1")
        conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", STATISTICS)
    return path


def plans(
    path: Path, statements: list[tuple[str, Any]], table: str, verb: str = "SELECT"
) -> list[str]:
    """SQLite's plan for each captured statement (a SELECT, or `verb`) that reads `table`."""
    found = []
    with sqlite3.connect(path) as conn:
        for sql, params in statements:
            if sql.lstrip().upper().startswith(verb) and f"FROM {table}" in sql:
                rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                found.append("\n".join(str(row[-1]) for row in rows))
    return found


def capture(database: Database) -> list[tuple[str, Any]]:
    sent: list[tuple[str, Any]] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        sent.append((sql, params))

    return sent


async def statements_of(
    template: Path, tmp_path: Path, work: Callable[[Database], Awaitable[object]]
) -> tuple[Path, list[tuple[str, Any]]]:
    """Run `work` on a copy of the template with the benchmark's statistics; the copy, and every
    statement `work` sent."""
    path = with_statistics(template, tmp_path)
    database = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        sent = capture(database)
        await work(database)
    finally:
        await database.dispose()
    return path, sent


async def test_the_sweep_claims_through_the_deadline_indexes(sqlite_template: Path, tmp_path: Path):
    async def sweep(database: Database) -> None:
        await DeadlineSweep(
            database, Settings(), lambda: GridIndex.build([]), clock=lambda: NOW
        ).run()

    path, sent = await statements_of(sqlite_template, tmp_path, sweep)
    claims = plans(path, sent, "cases")
    assert len(claims) == 3  # late cases, follow-ups due, follow-up answers overdue
    for plan in claims:
        assert "SCAN cases" not in plan, plan
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan


async def test_the_outbox_drain_claims_through_its_index(sqlite_template: Path, tmp_path: Path):
    class Nowhere:
        async def send(self, chat_id: str, payload: dict[str, Any], parts: Any = None) -> None:
            raise AssertionError("nothing is due")

    async def drain(database: Database) -> None:
        dispatcher = OutboxDispatcher(database, {"telegram": Nowhere()}, clock=lambda: NOW)
        assert await dispatcher.claim_due() == []

    path, sent = await statements_of(sqlite_template, tmp_path, drain)
    (plan,) = plans(path, sent, "outbox")
    assert "SCAN outbox" not in plan, plan
    assert "ix_outbox_status_next_attempt" in plan, plan


async def test_housekeeping_finds_what_to_forget_through_indexes(
    sqlite_template: Path, tmp_path: Path
):
    async def housekeeping(database: Database) -> None:
        await Housekeeping(database, 30, clock=lambda: NOW).run()

    path, sent = await statements_of(sqlite_template, tmp_path, housekeeping)
    (updates,) = plans(path, sent, "processed_updates", verb="DELETE")
    (outbox,) = plans(path, sent, "outbox", verb="DELETE")
    assert "SCAN processed_updates" not in updates, updates
    assert "ix_processed_updates_processed_at" in updates, updates
    assert "SCAN outbox" not in outbox, outbox
    assert "ix_outbox_status_next_attempt" in outbox, outbox


async def test_the_map_counts_open_cases_per_cell_from_the_index_alone(
    sqlite_template: Path, tmp_path: Path
):
    # Every map request counts the open and overdue cases of every cell: read from the table,
    # that count took 220-290 ms at 100,000 open cases; from a covering index, no table reads.
    async def count(database: Database) -> None:
        async with database.reader() as session:
            await load_by_cell(session, GridIndex.build([]), OPERATOR, None, now=NOW)

    path, sent = await statements_of(sqlite_template, tmp_path, count)
    (plan,) = plans(path, sent, "cases")
    assert "USING COVERING INDEX ix_cases_cell_load" in plan, plan


async def test_the_statistics_read_a_period_from_the_index_alone(
    sqlite_template: Path, tmp_path: Path
):
    # The statistics read every case received in the period: through the category index and the
    # table that was 250-280 ms at 100,000 cases; from a covering index, one range and no table.
    async def figures(database: Database) -> None:
        async with database.reader() as session:
            await statistics(
                session,
                GridIndex.build([]),
                OPERATOR,
                since=date(2026, 11, 1),
                until=date(2026, 11, 30),
                tz="Asia/Shanghai",
            )

    path, sent = await statements_of(sqlite_template, tmp_path, figures)
    (cases,) = plans(path, sent, "cases")
    (events,) = plans(path, sent, "case_events")
    assert "USING COVERING INDEX ix_cases_period (created_at>? AND created_at<?)" in cases, cases
    assert "USING COVERING INDEX ix_cases_period" in events, events
    assert "ix_case_events_case_id" in events, events

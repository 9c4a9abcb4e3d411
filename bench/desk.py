"""Desk benchmark: p95 latency of the desk's heavy reads, each beside the bare SQL it needs.

Run ``.venv/bin/python bench/desk.py`` (100,000 cases; loading them takes most of the time) or
``--quick`` (10,000). ``--backend sqlite|postgres`` runs one only; PostgreSQL uses a scratch
database ``jingtu_bench_<pid>_desk`` on ``--postgres-url`` (default the test server), dropped at
the end. The data is bench/escalation.py's: the Shigatse sample grid and open cases spread over
its villages.

Timed, ``--runs`` times each (default 20), p95 reported:

1. ``list`` — ``desk.list_cases``: open cases of one category, first page, as the dashboard asks;
   bare: the same COUNT and page SELECT as plain SQL text;
2. ``stats`` — ``statistics.statistics`` over the last 30 days, every county and category;
   bare: its two SELECTs (the cases, their events) as plain SQL text, rows fetched;
3. ``geojson`` — ``desk.cells_geojson`` of all levels in one request (``?level=all``), so all
   1,910 cells with their open and overdue counts; bare: the cells' geometry SELECT and the
   per-cell count of open and overdue cases, as plain SQL text;
4. ``counts`` — the same GeoJSON beside only the per-cell count: since the geometry's GeoJSON is
   built once per grid load, the count is all the SQL it still needs.

Each read is timed in alternation with its bare query. Printed: the two p95s, their ratio, and
the median of the per-run ratios (the steadier figure on a shared machine).

Targets: each within 3× of its bare query, and a p95 under 300 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import escalation
from sqlalchemy import text

from bot.services import desk, statistics
from bot.services.desk import OPERATOR, CaseFilter
from bot.services.grid import load_grid_index
from bot.storage import migrate
from bot.storage.db import Database

NOW = escalation.NOW
TZ = "Asia/Shanghai"
CATEGORY = "noise"

BARE_LIST_COUNT = text(
    "SELECT count(*) FROM cases WHERE status IN ('new','assigned','acknowledged','reopened') "
    "AND category = :category"
)
BARE_LIST_PAGE = text(
    "SELECT id, number, category, status, cell_code, escalation_level, urgent, reporter_count, "
    "created_at, lat, lon, description FROM cases "
    "WHERE status IN ('new','assigned','acknowledged','reopened') AND category = :category "
    "ORDER BY created_at DESC, id DESC LIMIT 50"
)
BARE_STATS_CASES = text(
    "SELECT id, cell_code, category, status, created_at, acknowledged_at, resolved_at "
    "FROM cases WHERE created_at >= :start AND created_at < :end"
)
BARE_STATS_EVENTS = text(
    "SELECT e.case_id, e.kind, e.data FROM case_events e JOIN cases c ON c.id = e.case_id "
    "WHERE c.created_at >= :start AND c.created_at < :end "
    "AND e.kind IN ('escalate','overdue','reopen','close','resolve')"
)
BARE_CELLS = text("SELECT code, geometry_wkb FROM grid_cells")
# The map's count per cell: open cases, and of them the overdue (`case_queries.overdue_expression`).
BARE_LOAD = text(
    "SELECT cell_code, count(*), sum(CASE WHEN escalation_level > 0 "
    "OR (status IN ('assigned','reopened') AND ack_due_at <= :now) OR resolve_due_at <= :now "
    "THEN 1 ELSE 0 END) FROM cases "
    "WHERE status IN ('new','assigned','acknowledged','reopened') GROUP BY cell_code"
)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def paired(
    runs: int, app: Callable[[], Awaitable[object]], bare: Callable[[], Awaitable[object]]
) -> tuple[float, float, float]:
    """p95 of the desk's read and of its bare query, and the median of their per-run ratios.

    The two are timed in alternation, each run beside its bare run, so that a stretch of noise
    on this shared machine falls on both rather than on whichever was timed through it.
    """
    await app()  # warm: statement caches, the grid's chains
    await bare()
    app_ms: list[float] = []
    bare_ms: list[float] = []
    for _ in range(runs):
        for work, samples in ((app, app_ms), (bare, bare_ms)):
            started = time.perf_counter()
            await work()
            samples.append((time.perf_counter() - started) * 1000)
    ratios = sorted(a / b for a, b in zip(app_ms, bare_ms, strict=True))
    return p95(app_ms), p95(bare_ms), ratios[len(ratios) // 2]


def as_naive(moment: datetime) -> datetime:
    """The stored form: UTC without a zone (plain SQL text binds bypass the column type)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


async def measure(backend: str, url: str, runs: int) -> list[tuple[str, float, float, float]]:
    database = Database.from_url(url)
    grid = await load_grid_index(database)
    today = NOW.date()
    since = today - timedelta(days=29)
    start = desk.local_day_start(since, TZ)
    end = desk.local_day_start(today + timedelta(days=1), TZ)
    bounds = {"start": as_naive(start), "end": as_naive(end)}

    async def app_list() -> object:
        async with database.reader() as s:
            return await desk.list_cases(
                s, grid, OPERATOR, CaseFilter(status="open", category=CATEGORY), now=NOW, tz=TZ
            )

    async def bare_list() -> object:
        async with database.reader() as s:
            await s.execute(BARE_LIST_COUNT, {"category": CATEGORY})
            return (await s.execute(BARE_LIST_PAGE, {"category": CATEGORY})).all()

    async def app_stats() -> object:
        async with database.reader() as s:
            return await statistics.statistics(s, grid, OPERATOR, since=since, until=today, tz=TZ)

    async def bare_stats() -> object:
        async with database.reader() as s:
            a = (await s.execute(BARE_STATS_CASES, bounds)).all()
            return a, (await s.execute(BARE_STATS_EVENTS, bounds)).all()

    async def app_geojson() -> str:
        async with database.reader() as s:
            return await desk.cells_geojson(s, grid, OPERATOR, None, now=NOW, locale="zh-Hans")

    async def bare_geojson() -> object:
        async with database.reader() as s:
            load = (await s.execute(BARE_LOAD, {"now": as_naive(NOW)})).all()
            return load, (await s.execute(BARE_CELLS)).all()

    async def bare_counts() -> object:
        async with database.reader() as s:
            return (await s.execute(BARE_LOAD, {"now": as_naive(NOW)})).all()

    features = len(json.loads(await app_geojson())["features"])
    assert features == len(grid), f"{features} features for {len(grid)} cells"
    figures = [
        ("list", *await paired(runs, app_list, bare_list)),
        ("stats", *await paired(runs, app_stats, bare_stats)),
        ("geojson", *await paired(runs, app_geojson, bare_geojson)),
        ("counts", *await paired(runs, app_geojson, bare_counts)),
    ]
    await database.dispose()
    return figures


async def main_async(args: argparse.Namespace) -> None:
    cases = 10_000 if args.quick else args.cases
    backends = [args.backend] if args.backend else ["sqlite", "postgres"]
    print(f"desk benchmark: {cases:,} cases, p95 of {args.runs} runs per figure")
    print(
        f"{'backend':<9} {'read':<8} {'desk p95':>10} {'bare p95':>10} {'ratio':>6} "
        f"{'run ratio':>9}"
    )
    for backend in backends:
        if backend == "sqlite":
            folder = tempfile.mkdtemp(prefix="jingtu-bench-desk-")
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            drop = None
        else:
            name, url = await escalation.postgres_scratch(args.postgres_url, "desk")
            drop = (args.postgres_url, name)
        try:
            database = Database.from_url(url)
            await migrate.upgrade(database)
            print(f"  {backend}: loading {cases:,} cases …", file=sys.stderr, flush=True)
            await escalation.seed(database, cases, 0.10)
            await database.dispose()
            for read, app_ms, bare_ms, run_ratio in await measure(backend, url, args.runs):
                ratio = app_ms / bare_ms if bare_ms else float("inf")
                print(
                    f"{backend:<9} {read:<8} {app_ms:>8.1f}ms {bare_ms:>8.1f}ms {ratio:>5.2f}× "
                    f"{run_ratio:>8.2f}×"
                )
        finally:
            if drop is not None:
                await escalation.postgres_drop(*drop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 cases")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

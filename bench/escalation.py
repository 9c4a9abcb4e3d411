"""Escalation sweep benchmark: one sweep of the late cases against a bare SELECT of them.

Run ``.venv/bin/python bench/escalation.py`` (100,000 open cases, 10% late; a few minutes, most
of it loading the data) or ``--quick`` for a smoke run (10,000 cases). ``--backend sqlite`` or
``--backend postgres`` runs one only. Each backend gets a scratch database of its own: a temporary
SQLite file, and on PostgreSQL (``--postgres-url``, default the test server) a database named
``jingtu_bench_<pid>``, created here and dropped at the end.

The data: the Shigatse sample grid (1,910 cells) with its synthetic roster, every supervisor given
a Telegram chat; 5,000 residents in the three languages; open cases spread over the villages,
60% waiting to be acknowledged and 40% acknowledged; 10% of them late (the acknowledged ones late
to be resolved), one reporter each.

Before timing, the process is put in the state of a serving one: the grid index loaded, the
message catalogs read, and what startup built frozen out of the garbage collector's sight
(``freeze_startup_heap``, as ``python -m bot run`` does; otherwise a full collection that walks
the grid index can land inside the sweep and add ~100 ms to it, at random).

Timed, in the same process and run:

1. ``SELECT`` — the plain indexed SELECT of the late rows (the columns the sweep reads, with the
   sweep's WHERE clause), all rows fetched; the median of 5 runs;
2. ``sweep`` — ``DeadlineSweep.run()`` escalating all of them (batches of 5,000, each one
   transaction: UPDATEs, CaseEvents, one outbox row per reporter, one digest per supervisor
   chat). Destructive, so each round runs it on a fresh copy of the seeded database (a file copy
   on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL).

Three rounds per backend (``--rounds``); the table shows the round with the median ratio, so one
unlucky moment on a shared machine neither makes nor breaks the figure.

The target is the sweep within 5× of the SELECT. The script checks that every late case was
escalated exactly once and prints the figures; it always exits 0 unless the checks fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import String, cast, func, insert, literal, select, text, update

from bot.app import freeze_startup_heap
from bot.commands.grid import load_sample
from bot.config import Settings
from bot.domain.grid import Level
from bot.services.grid import load_grid_index
from bot.services.sweep import LATE_COLUMNS, DeadlineSweep, overdue_condition
from bot.storage import migrate
from bot.storage.db import Database
from bot.storage.models import (
    Case,
    CaseEvent,
    CaseReporter,
    OutboxMessage,
    Person,
    Supervisor,
)
from messages import Translator

SEED = 2026
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TARGET = 5.0
BATCH = 5_000  # the sweep's default batch size
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CATEGORIES = ["noise", "air-dust", "air-construction", "water-outfall", "waste-household"]
LOCALES = ["zh-Hans", "bo", "en"]


@dataclass
class Result:
    backend: str
    cases: int
    late: int
    select_ms: float
    select_rows: int
    sweep_ms: float
    escalated: int
    events: int
    outbox: int

    @property
    def ratio(self) -> float:
        return self.sweep_ms / self.select_ms if self.select_ms else float("inf")


async def seed(database: Database, cases: int, late_share: float) -> int:
    await load_sample(database)
    rng = random.Random(SEED)
    async with database.transaction() as s:
        await s.execute(
            update(Supervisor).values(
                telegram_chat_id=literal("sv", String) + cast(Supervisor.id, String)
            )
        )
    grid = await load_grid_index(database)
    villages = [c.code for c in grid.at_level(Level.VILLAGE)]
    people = [
        {
            "channel": "telegram",
            "channel_user_id": str(100_000 + i),
            "chat_id": str(100_000 + i),
            "display_name": f"resident {i}",
            "locale": LOCALES[i % 3],
            "reachable": True,
            "created_at": NOW,
        }
        for i in range(5_000)
    ]
    async with database.transaction() as s:
        await s.execute(insert(Person), people)
        first_person = int(await s.scalar(select(func.min(Person.id))) or 1)
    late = 0
    chunk = 10_000
    for start in range(0, cases, chunk):
        rows = []
        for i in range(start, min(start + chunk, cases)):
            is_late = rng.random() < late_share
            late += is_late
            acknowledged = rng.random() < 0.4
            created = NOW - timedelta(days=rng.uniform(1, 14))
            rows.append(
                {
                    "id": i + 1,
                    "number": f"2026-{i + 1:06d}",
                    "category": rng.choice(CATEGORIES),
                    "description": "synthetic benchmark case",
                    "urgent": False,
                    "status": "acknowledged" if acknowledged else "assigned",
                    "lat": 29.0,
                    "lon": 88.0,
                    "location_source": "gps",
                    "origin_cell_code": (cell := rng.choice(villages)),
                    "cell_code": cell,
                    "escalation_level": 0,
                    "reporter_id": first_person + rng.randrange(len(people)),
                    "anonymous": True,
                    "reporter_count": 1,
                    "created_at": created,
                    "updated_at": created,
                    "ack_due_at": None
                    if acknowledged
                    else NOW + (timedelta(hours=-1) if is_late else timedelta(hours=5)),
                    "resolve_due_at": NOW
                    + (timedelta(hours=-1) if is_late and acknowledged else timedelta(days=5)),
                    "version": 1,
                }
            )
        async with database.transaction() as s:
            await s.execute(insert(Case), rows)
            await s.execute(
                insert(CaseReporter),
                [
                    {
                        "case_id": r["id"],
                        "person_id": r["reporter_id"],
                        "anonymous": True,
                        "original": True,
                        "joined_at": r["created_at"],
                    }
                    for r in rows
                ],
            )
    async with database.engine.begin() as conn:
        if database.is_postgres:
            await conn.execute(text("SELECT setval('cases_id_seq', :n)"), {"n": cases})
        await conn.execute(text("ANALYZE"))
    return late


async def time_select(database: Database) -> tuple[float, int]:
    timings, rows = [], 0
    dialect = database.engine.dialect.name
    query = select(*LATE_COLUMNS).where(overdue_condition(NOW, dialect)).order_by(Case.id)
    for _ in range(5):
        async with database.reader() as s:
            started = time.perf_counter()
            rows = len((await s.execute(query)).all())
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), rows


async def count(database: Database, model: type, *where: object) -> int:
    async with database.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def seed_database(backend: str, url: str, cases: int) -> int:
    """Migrate and load the scratch database that every round copies; returns the late count."""
    database = Database.from_url(url)
    try:
        await migrate.upgrade(database)
        print(f"  {backend}: loading {cases:,} cases …", file=sys.stderr, flush=True)
        return await seed(database, cases, 0.10)
    finally:
        await database.dispose()


async def measure(backend: str, url: str, cases: int, late: int) -> Result:
    """One round on a fresh copy of the seeded data: the SELECT, then the sweep, then checks."""
    database = Database.from_url(url)
    try:
        grid = await load_grid_index(database)
        for locale in LOCALES:  # a running process has its message catalogs loaded already
            Translator(locale)("rp-escalated", number="", reason="ack", level="township")
        freeze_startup_heap()  # and has frozen what startup built, as `python -m bot run` does
        select_ms, select_rows = await time_select(database)
        sweep = DeadlineSweep(
            database, Settings(), lambda: grid, clock=lambda: NOW, batch_size=BATCH
        )
        started = time.perf_counter()
        stats = await sweep.run()
        sweep_ms = (time.perf_counter() - started) * 1000
        events = await count(database, CaseEvent, CaseEvent.kind == "escalate")
        outbox = await count(database, OutboxMessage)
        escalated = await count(database, Case, Case.escalation_level == 1)
        if not (select_rows == late == stats.escalated == events == escalated):
            raise SystemExit(
                f"{backend}: MISMATCH late={late} selected={select_rows} "
                f"swept={stats.escalated} events={events} escalated={escalated}"
            )
        return Result(
            backend, cases, late, select_ms, select_rows, sweep_ms, events, events, outbox
        )
    finally:
        await database.dispose()


def median_round(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.ratio)[len(results) // 2]


def fresh_copy(seeded: Path, scratch: Path) -> None:
    """The seeded database file (and its WAL, if any) copied over the previous round's."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        if Path(f"{seeded}{suffix}").exists():
            shutil.copyfile(f"{seeded}{suffix}", f"{scratch}{suffix}")


async def run_sqlite(cases: int, rounds: int) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        seeded, scratch = Path(tmp) / "seeded.db", Path(tmp) / "round.db"
        late = await seed_database("sqlite", f"sqlite+aiosqlite:///{seeded}", cases)
        results = []
        for _ in range(rounds):
            fresh_copy(seeded, scratch)
            results.append(await measure("sqlite", f"sqlite+aiosqlite:///{scratch}", cases, late))
        return median_round(results)


async def run_postgres(admin_url: str, cases: int, rounds: int) -> Result:
    seeded, seeded_url = await postgres_scratch(admin_url, "seed")
    try:
        late = await seed_database("postgres", seeded_url, cases)
        results = []
        for _ in range(rounds):
            copy, copy_url = await postgres_scratch(admin_url, "round", template=seeded)
            try:
                results.append(await measure("postgres", copy_url, cases, late))
            finally:
                await postgres_drop(admin_url, copy)
        return median_round(results)
    finally:
        await postgres_drop(admin_url, seeded)


async def postgres_scratch(
    admin_url: str, role: str, template: str | None = None
) -> tuple[str, str]:
    import asyncpg

    name = f"jingtu_bench_{os.getpid()}_{role}"
    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        copy = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return name, admin_url.rpartition("/")[0] + "/" + name


async def postgres_drop(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def table(results: list[Result]) -> str:
    lines = [
        f"{'backend':<10} {'open cases':>10} {'late':>7} {'SELECT ms':>10} {'sweep ms':>9} "
        f"{'ratio':>6} {'target':>7} {'events':>7} {'outbox':>7}",
    ]
    for r in results:
        verdict = "ok" if r.ratio <= TARGET else "MISSED"
        lines.append(
            f"{r.backend:<10} {r.cases:>10,} {r.late:>7,} {r.select_ms:>10.1f} {r.sweep_ms:>9.1f} "
            f"{r.ratio:>5.1f}x {'≤5x ' + verdict:>7} {r.events:>7,} {r.outbox:>7,}"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    cases = 10_000 if args.quick else 100_000
    results: list[Result] = []
    if args.backend in {"all", "sqlite"}:
        results.append(await run_sqlite(cases, args.rounds))
    if args.backend in {"all", "postgres"}:
        try:
            results.append(await run_postgres(args.postgres_url, cases, args.rounds))
        except OSError as exc:  # no server: report it and carry on with what we have
            print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(
        f"Escalation sweep vs bare SELECT — Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; sweep batches of {BATCH:,}; "
        f"median of {args.rounds} rounds"
    )
    print(table(results))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 cases instead of 100,000")
    parser.add_argument("--backend", choices=["all", "sqlite", "postgres"], default="all")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--rounds", type=int, default=3, help="fresh copies to sweep (median)")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())

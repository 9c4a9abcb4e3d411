"""Escalation sweep benchmark: one sweep of the late cases against its bare write floor.

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
(``freeze_startup_heap``, as ``python -m bot run`` does).

Timed, in the same process and run, each on a fresh copy of the seeded data:

1. ``floor`` — bench/escalation_floor.py: exactly the writes the sweep makes (the same batches,
   case UPDATEs, events and outbox rows), as bare SQL with no Python per case;
2. ``sweep`` — ``DeadlineSweep.run()`` escalating all of them, in the batches it uses on that
   database (``bot.services.sweep.batch_size_for``);
3. ``SELECT`` — the plain indexed SELECT of the late rows, for context.

Three rounds per backend (``--rounds``); the table shows the round with the median sweep/floor.
The target is the sweep within 1.5× of the floor. ``--mixed`` (on by default, SQLite) also pushes
report dialogs at 50 steps/s through a real Jingtu while sweeps of 10,000 late cases run in the
same event loop; the target there is p99 < 100 ms. The script checks that every late case was
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
from typing import Any

import escalation_floor as floor_bench
from sqlalchemy import String, cast, func, insert, literal, select, text, update

from bot.app import Jingtu, freeze_startup_heap
from bot.channels.console import ConsoleSender
from bot.commands.grid import load_sample
from bot.config import Settings
from bot.delivery.message import Location
from bot.domain.grid import Level
from bot.services.grid import load_grid_index
from bot.services.inbound import Inbound
from bot.services.sweep import (
    LATE_COLUMNS,
    POSTGRES_BATCH,
    SQLITE_BATCH,
    DeadlineSweep,
    overdue_condition,
)
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
TARGET = 1.5  # the sweep within 1.5x of the bare write floor
# The sweep's batch size on each database (the floor makes its writes in the same batches).
BATCH = {"sqlite": SQLITE_BATCH, "postgres": POSTGRES_BATCH}
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
    floor_ms: float = 0.0
    floor_outbox: int = 0

    @property
    def ratio(self) -> float:
        """The target's ratio: the sweep against the write floor timed beside it."""
        return self.sweep_ms / self.floor_ms if self.floor_ms else float("inf")

    @property
    def select_ratio(self) -> float:
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
    """The SELECT and the sweep on one fresh copy of the seeded data, then the checks."""
    database = Database.from_url(url)
    try:
        grid = await load_grid_index(database)
        for locale in LOCALES:  # a running process has its message catalogs loaded already
            Translator(locale)("rp-escalated", number="", reason="ack", level="township")
        freeze_startup_heap()  # and has frozen what startup built, as `python -m bot run` does
        select_ms, select_rows = await time_select(database)
        sweep = DeadlineSweep(
            database, Settings(), lambda: grid, clock=lambda: NOW, batch_size=BATCH[backend]
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


def with_floor(result: Result, floor: dict[str, Any]) -> Result:
    """The round's result with the floor timed beside it; the floor must write the same rows."""
    if (floor["events_rows"], floor["outbox_rows"]) != (result.events, result.outbox):
        raise SystemExit(
            f"{result.backend}: the floor wrote {floor['events_rows']} events and "
            f"{floor['outbox_rows']} outbox rows, the sweep {result.events} and {result.outbox}"
        )
    result.floor_ms = floor["total"]
    result.floor_outbox = floor["outbox_rows"]
    return result


def median_round(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.ratio)[len(results) // 2]


def fresh_copy(seeded: Path, scratch: Path) -> None:
    """The seeded database file (and its WAL, if any) copied over the previous round's."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        if Path(f"{seeded}{suffix}").exists():
            shutil.copyfile(f"{seeded}{suffix}", f"{scratch}{suffix}")


async def run_sqlite(cases: int, rounds: int, mixed: MixedPlan | None) -> tuple[Result, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        seeded, scratch = Path(tmp) / "seeded.db", Path(tmp) / "round.db"
        late = await seed_database("sqlite", f"sqlite+aiosqlite:///{seeded}", cases)
        results = []
        for i in range(rounds):
            # Floor and sweep each on a fresh copy of the same data; who goes first alternates.
            for part in ("floor", "sweep") if i % 2 == 0 else ("sweep", "floor"):
                fresh_copy(seeded, scratch)
                if part == "floor":
                    floor = floor_bench.sqlite_floor(scratch, late, NOW, BATCH["sqlite"])
                else:
                    result = await measure("sqlite", f"sqlite+aiosqlite:///{scratch}", cases, late)
            results.append(with_floor(result, floor))
        mixed_result = None
        if mixed is not None:
            fresh_copy(seeded, scratch)
            mixed_result = await run_mixed(f"sqlite+aiosqlite:///{scratch}", mixed)
        return median_round(results), mixed_result


async def run_postgres(admin_url: str, cases: int, rounds: int) -> Result:
    seeded, seeded_url = await postgres_scratch(admin_url, "seed")
    try:
        late = await seed_database("postgres", seeded_url, cases)
        results = []
        for i in range(rounds):
            for part in ("floor", "sweep") if i % 2 == 0 else ("sweep", "floor"):
                copy, copy_url = await postgres_scratch(admin_url, "round", template=seeded)
                try:
                    if part == "floor":
                        dsn = copy_url.replace("postgresql+asyncpg://", "postgresql://")
                        floor = await floor_bench.postgres_floor(dsn, late, NOW, BATCH["postgres"])
                    else:
                        result = await measure("postgres", copy_url, cases, late)
                finally:
                    await postgres_drop(admin_url, copy)
            results.append(with_floor(result, floor))
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


# --- mixed: resident dialog traffic while sweeps run (SQLite) -------------------------------------

LAT, LON = 29.267, 88.881  # Samzhubzê: a village cell of the sample grid
DIALOG = 8  # steps of one report dialog
SWEEP_STEP = timedelta(minutes=10)  # sweep k runs at NOW + k steps; group k falls due just before


@dataclass
class MixedPlan:
    rate: float = 50.0  # dialog steps pushed per second
    baseline_steps: int = 500  # 10 s of traffic with no sweep
    late_per_sweep: int = 10_000
    sweeps: int = 8  # at most: groups of late cases prepared, one per sweep
    min_overlap: int = 250  # sweeps continue back to back until this many steps overlapped them
    max_steps: int = 1_500  # 30 s: the traffic stops by itself whatever happens

    @classmethod
    def quick(cls) -> MixedPlan:
        return cls(
            baseline_steps=150, late_per_sweep=1_000, sweeps=8, min_overlap=50, max_steps=400
        )


@dataclass
class Step:
    submitted: float
    handled: float | None = None
    replies: int = 0
    confirms: bool = False  # the dialog's last step: a report filed

    @property
    def ms(self) -> float:
        return ((self.handled or 0.0) - self.submitted) * 1000


@dataclass
class MixedResult:
    plan: MixedPlan
    baseline: list[Step]
    traffic: list[Step]
    sweeps: list[tuple[float, float, int]]  # start, end, cases escalated

    def overlapping(self) -> list[Step]:
        """Steps in flight at some moment while a sweep ran."""
        return [
            s
            for s in self.traffic
            if any(
                s.submitted <= end and (s.handled or end) >= start for start, end, _ in self.sweeps
            )
        ]

    def outside(self) -> list[Step]:
        during = {id(s) for s in self.overlapping()}
        return [s for s in self.traffic if id(s) not in during]


def dialog_step(user: int, step: int, n: str) -> Inbound:
    """Step `step` (0..7) of resident `user`'s report, each report at a spot of its own."""
    who = {"channel": "console", "user_id": f"mix{user}", "chat_id": f"console:mix{user}"}
    uid = f"mix:{n}"
    if step == 0:
        return Inbound(**who, update_id=uid, text="/report", language_code="en")
    if step == 3:
        return Inbound(**who, update_id=uid, text=f"Dust blowing across the road near house {user}")
    if step == 5:  # ~2 m apart: no report is taken for a duplicate of another
        return Inbound(
            **who,
            update_id=uid,
            location=Location(LAT + user % 64 * 0.00002, LON + user // 64 * 0.00002),
        )
    data = {1: "r:g:air", 2: "r:c:air-dust", 4: "r:ph:done", 6: "r:anon:1", 7: "r:ok"}[step]
    return Inbound(**who, update_id=uid, callback=data)


async def prepare_mixed(url: str, plan: MixedPlan) -> None:
    """Regroup the copy's deadlines: group k (`late_per_sweep` cases) falls due just before sweep k
    runs, every other case later than the last sweep; each sweep finds fresh late cases."""
    database = Database.from_url(url)
    try:
        async with database.transaction() as s:
            far = NOW + timedelta(days=5)
            await s.execute(update(Case).values(resolve_due_at=far))
            await s.execute(update(Case).where(Case.status == "assigned").values(ack_due_at=far))
            for k in range(plan.sweeps):
                due = NOW + k * SWEEP_STEP - timedelta(minutes=1)
                group = Case.id.between(k * plan.late_per_sweep + 1, (k + 1) * plan.late_per_sweep)
                await s.execute(
                    update(Case).where(group, Case.status == "assigned").values(ack_due_at=due)
                )
                await s.execute(
                    update(Case)
                    .where(group, Case.status == "acknowledged")
                    .values(resolve_due_at=due)
                )
        async with database.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    finally:
        await database.dispose()


async def paced_traffic(
    app: Jingtu,
    steps: dict[str, Step],
    pushed: list[Step],
    first_user: int,
    count: int,
    rate: float,
    stop: asyncio.Event,
) -> list[Step]:
    """Push up to `count` dialog steps at `rate`/s (stopping early once `stop` is set); each chat's
    steps are handled in order, as a channel hands them over."""
    users = max(1, count // DIALOG)
    last: dict[int, asyncio.Task[Any]] = {}
    start = time.perf_counter()

    async def handle(previous: asyncio.Task[Any] | None, inbound: Inbound) -> None:
        if previous is not None:
            await previous
        await app.conversation.process(inbound)

    for n in range(count):
        if stop.is_set():
            break
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user, step = first_user + n % users, n // users
        inbound = dialog_step(user, step % DIALOG, f"{first_user}:{n}")
        record = steps[str(inbound.update_id)] = Step(time.perf_counter())
        record.confirms = step % DIALOG == DIALOG - 1
        pushed.append(record)
        last[user] = asyncio.create_task(handle(last.get(user), inbound))
    await asyncio.gather(*last.values())
    return pushed


async def run_mixed(url: str, plan: MixedPlan) -> MixedResult:
    """Jingtu serving resident dialogs on the seeded copy; sweeps of fresh late cases meanwhile."""
    await prepare_mixed(url, plan)
    steps: dict[str, Step] = {}

    def on_handled(inbound: Inbound, _outcome: Any) -> None:
        record = steps[str(inbound.update_id)]
        record.handled = time.perf_counter()
        record.replies = len(_outcome.replies)

    started = time.perf_counter()
    settings = Settings(database_url=url, report_rate_per_hour=1000, duplicate_radius_m=1.0)
    app = Jingtu(
        settings,
        clock=lambda: NOW + timedelta(seconds=time.perf_counter() - started),
        on_handled=on_handled,
    )
    sender = ConsoleSender()
    app.attach_console(sender)
    try:
        await app.load_grid()
        freeze_startup_heap()
        never = asyncio.Event()
        # Warm-up: one whole dialog, so caches and the connection are filled.
        await paced_traffic(app, steps, [], 0, DIALOG, plan.rate, never)
        baseline: list[Step] = []
        await paced_traffic(app, steps, baseline, 1, plan.baseline_steps, plan.rate, never)
        stop = asyncio.Event()
        pushed: list[Step] = []
        traffic = asyncio.create_task(
            paced_traffic(
                app, steps, pushed, 1 + plan.baseline_steps, plan.max_steps, plan.rate, stop
            )
        )
        await asyncio.sleep(1.0)  # the traffic is flowing before the first sweep starts
        sweeps: list[tuple[float, float, int]] = []
        for k in range(plan.sweeps):
            sweep = DeadlineSweep(
                app.database,
                settings,
                lambda: app.grid_index,
                clock=lambda k=k: NOW + k * SWEEP_STEP,
                policy=app.policy,
            )
            mark = time.perf_counter()
            stats = await sweep.run()
            sweeps.append((mark, time.perf_counter(), stats.escalated))
            if stats.escalated != plan.late_per_sweep:
                raise SystemExit(
                    f"mixed: sweep {k} escalated {stats.escalated}, expected {plan.late_per_sweep}"
                )
            overlap = len(MixedResult(plan, baseline, pushed, sweeps).overlapping())
            if overlap >= plan.min_overlap or traffic.done():
                break
        await asyncio.sleep(1.0)  # and keeps flowing after the last one ends
        stop.set()
        await traffic
        async with app.database.reader() as s:
            filed = await s.scalar(
                select(func.count()).select_from(Case).where(Case.description.like("Dust blow%"))
            )
    finally:
        await app.stop()
    # Every pushed step answered, every dialog a filed report: no empty run is timed.
    silent = [s for s in [*baseline, *pushed] if s.handled is None or not s.replies]
    if silent:
        raise SystemExit(f"mixed: {len(silent)} dialog steps unanswered")
    if filed != sum(s.confirms for s in steps.values()):
        raise SystemExit(
            f"mixed: {filed} reports filed, {sum(s.confirms for s in steps.values())} confirmed"
        )
    return MixedResult(plan, baseline, pushed, sweeps)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def mixed_report(r: MixedResult) -> str:
    during, outside = r.overlapping(), r.outside()
    swept = sum(n for _, _, n in r.sweeps)
    sweep_s = sum(end - start for start, end, _ in r.sweeps)
    lines = [
        f"Mixed (SQLite): resident report dialogs at {r.plan.rate:g} steps/s on Jingtu "
        f"(console Inbound -> conversation.process, latency submit -> handled) while "
        f"{len(r.sweeps)} sweeps of {r.plan.late_per_sweep:,} fresh late cases each ran back to "
        f"back in the same event loop ({swept:,} escalated in {sweep_s * 1000:,.0f} ms of "
        f"sweeping; per sweep ms: "
        + ", ".join(f"{(end - start) * 1000:.0f}" for start, end, _ in r.sweeps)
        + ")",
        f"{'traffic':<34} {'steps':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}",
    ]
    for name, group in (
        ("baseline (no sweep)", r.baseline),
        ("overlapping a sweep", during),
        ("same run, outside the sweeps", outside),
    ):
        ms = [s.ms for s in group]
        lines.append(
            f"{name:<34} {len(ms):>6} {percentile(ms, 0.5):>8.1f} {percentile(ms, 0.99):>8.1f} "
            f"{max(ms, default=0.0):>8.1f}"
        )
    p99 = percentile([s.ms for s in during], 0.99)
    verdict = "met" if p99 < 100 else "MISSED"
    lines.append(
        f"target: p99 < 100 ms for steps overlapping a sweep of 10,000 late cases -> "
        f"{p99:.1f} ms, {verdict} ({len(during)} steps overlapped)"
    )
    return "\n".join(lines)


def table(results: list[Result]) -> str:
    lines = [
        f"{'backend':<10} {'open cases':>10} {'late':>7} {'SELECT ms':>10} {'floor ms':>9} "
        f"{'sweep ms':>9} {'sweep/floor':>11} {'target':>12} {'sweep/SELECT':>12} "
        f"{'events':>7} {'outbox':>7}",
    ]
    for r in results:
        verdict = f"≤{TARGET:g}x " + ("met" if r.ratio <= TARGET else "MISSED")
        lines.append(
            f"{r.backend:<10} {r.cases:>10,} {r.late:>7,} {r.select_ms:>10.1f} "
            f"{r.floor_ms:>9.1f} {r.sweep_ms:>9.1f} {r.ratio:>10.2f}x {verdict:>12} "
            f"{r.select_ratio:>11.1f}x {r.events:>7,} {r.outbox:>7,}"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    cases = 10_000 if args.quick else 100_000
    mixed = None
    if args.mixed and args.backend in {"all", "sqlite"}:
        mixed = MixedPlan.quick() if args.quick else MixedPlan()
    results: list[Result] = []
    mixed_result = None
    if args.backend in {"all", "sqlite"}:
        result, mixed_result = await run_sqlite(cases, args.rounds, mixed)
        results.append(result)
    if args.backend in {"all", "postgres"}:
        try:
            results.append(await run_postgres(args.postgres_url, cases, args.rounds))
        except OSError as exc:  # no server: report it and carry on with what we have
            print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(
        f"Escalation sweep vs its bare write floor — Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; batches of {SQLITE_BATCH:,} on SQLite, {POSTGRES_BATCH:,} on PostgreSQL (sweep and floor); "
        f"round with the median sweep/floor of {args.rounds}"
    )
    print(table(results))
    print(
        f"target: sweep ≤ {TARGET:g}x the write floor timed beside it (the floor makes the same "
        "writes as bare SQL); sweep/SELECT is context (the old ≤5x SELECT target is retired)"
    )
    if mixed_result is not None:
        print()
        print(mixed_report(mixed_result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 cases instead of 100,000")
    parser.add_argument("--backend", choices=["all", "sqlite", "postgres"], default="all")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--rounds", type=int, default=3, help="fresh copies to sweep (median)")
    parser.add_argument(
        "--mixed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="dialog traffic at 50 steps/s during sweeps of 10,000 late cases (SQLite; default on)",
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())

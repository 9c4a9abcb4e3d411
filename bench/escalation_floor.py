"""The floor under the escalation sweep: its writes as bare SQL, with no Python per case.

Run ``.venv/bin/python bench/escalation_floor.py`` (same data as bench/escalation.py: 100,000
open cases, 10% late; ``--quick`` for 10,000) after or beside that benchmark. It answers one
question: could *any* implementation of the sweep, written in Jingtu's schema, get within 5× of
the bare SELECT? Each round, on a fresh copy of the seeded database and in one transaction
through the bare driver (``sqlite3``, ``asyncpg``), it runs only what the sweep must write:

1. ``claim``: the late rows' ids, fetched (``FOR UPDATE`` on PostgreSQL, as the sweep claims);
2. ``update``: every late case one level up, its passed deadline moved (one UPDATE);
3. ``events``: one CaseEvent per case (one INSERT … SELECT);
4. ``reporters``: one outbox row per reporter of each case (one INSERT … SELECT);
5. ``digests``: one outbox row per supervisor chat of the cells involved (one INSERT … SELECT);
6. ``commit``.

No message is rendered and no per-case decision is made in Python; the real sweep does both. The
figure is that total against the benchmark's SELECT (through SQLAlchemy, as bench/escalation.py
times it), and against the same SELECT through the bare driver. The script prints the median
round and always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import escalation as bench  # the sibling benchmark: same data, same SELECT

from bot.storage.db import Database

NOW = bench.NOW.replace(tzinfo=None)
NOW_TEXT = NOW.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores times in SQLite
ACK_DUE = "2026-11-30 05:00:00.000000"  # where the moved deadlines go; any later time will do
RESOLVE_DUE = "2026-12-15 02:00:00.000000"
ACK_LATE = "status IN ('assigned', 'reopened') AND ack_due_at <= :now"
RESOLVE_LATE = (
    "status IN ('new', 'assigned', 'acknowledged', 'reopened', 'transferred')"
    " AND resolve_due_at <= :now"
)


def late(dialect: str) -> str:
    """The late cases, shaped as bot.services.sweep.overdue_condition shapes them."""
    if dialect == "sqlite":  # each half through its index (see overdue_condition)
        return (
            f"id IN (SELECT id FROM cases WHERE {ACK_LATE}"
            f" UNION ALL SELECT id FROM cases WHERE {RESOLVE_LATE})"
        )
    return f"({ACK_LATE}) OR ({RESOLVE_LATE})"


STEPS = ("claim", "update", "events", "reporters", "digests", "commit")


def statements(dialect: str) -> dict[str, str]:
    """The sweep's writes for the late cases whose ids are bound as :ids."""
    if dialect == "postgresql":
        ids = "SELECT unnest(CAST(:ids AS integer[]))"
        now, ack, resolve = (
            "CAST(:now AS timestamp)",
            f"TIMESTAMP '{ACK_DUE}'",
            (f"TIMESTAMP '{RESOLVE_DUE}'"),
        )
        payload = """CAST('{"text": "escalated"}' AS json)"""
        data = """CAST('{"reason": "ack"}' AS json)"""
    else:
        ids = "SELECT value FROM json_each(:ids)"
        now, ack, resolve = ":now", f"'{ACK_DUE}'", f"'{RESOLVE_DUE}'"
        payload = """'{"text": "escalated"}'"""
        data = """'{"reason": "ack"}'"""
    return {
        "claim": f"SELECT id FROM cases WHERE {late(dialect)} ORDER BY id"
        + (" FOR UPDATE" if dialect == "postgresql" else ""),
        "update": f"""
            UPDATE cases SET
                escalation_level = escalation_level + 1, version = version + 1,
                updated_at = {now},
                ack_due_at = CASE WHEN ack_due_at <= {now} THEN {ack} ELSE ack_due_at END,
                resolve_due_at = CASE WHEN ack_due_at IS NULL OR ack_due_at > {now}
                                 THEN {resolve} ELSE resolve_due_at END
            WHERE id IN ({ids})""",
        "events": f"""
            INSERT INTO case_events
                (case_id, kind, actor_kind, from_status, to_status, from_cell, to_cell,
                 note, data, at)
            SELECT c.id, 'escalate', 'system', c.status, c.status, c.cell_code, g.parent_code,
                   '', {data}, {now}
            FROM cases c JOIN grid_cells g ON g.code = c.cell_code
            WHERE c.id IN ({ids})""",
        "reporters": f"""
            INSERT INTO outbox (channel, chat_id, payload, case_id, status, attempts,
                                next_attempt_at, last_error, created_at)
            SELECT p.channel, p.chat_id, {payload}, r.case_id, 'pending', 0, {now}, '', {now}
            FROM case_reporters r JOIN people p ON p.id = r.person_id
            WHERE r.case_id IN ({ids})""",
        "digests": f"""
            INSERT INTO outbox (channel, chat_id, payload, status, attempts,
                                next_attempt_at, last_error, created_at)
            SELECT 'telegram', chat, {payload}, 'pending', 0, {now}, '', {now}
            FROM (SELECT DISTINCT s.telegram_chat_id AS chat
                  FROM cases c JOIN grid_cells g ON g.code = c.cell_code
                  JOIN supervisor_cells sc ON sc.cell_code IN (c.cell_code, g.parent_code)
                  JOIN supervisors s ON s.id = sc.supervisor_id
                  WHERE c.id IN ({ids}) AND s.telegram_chat_id IS NOT NULL) AS chats""",
    }


def sqlite_round(path: Path, late: int) -> dict[str, float]:
    sql = statements("sqlite")
    timings: dict[str, float] = {}
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        mark = time.perf_counter()
        ids = [row[0] for row in conn.execute(sql["claim"], {"now": NOW_TEXT})]
        timings["claim"] = time.perf_counter() - mark
        params = {"ids": "[" + ",".join(map(str, ids)) + "]", "now": NOW_TEXT}
        for step in ("update", "events", "reporters", "digests"):
            mark = time.perf_counter()
            cursor = conn.execute(sql[step], params)
            timings[step] = time.perf_counter() - mark
            if step in ("update", "events") and cursor.rowcount != late:
                raise SystemExit(f"sqlite {step}: {cursor.rowcount} rows, expected {late}")
        mark = time.perf_counter()
        conn.execute("COMMIT")
        timings["commit"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
    finally:
        conn.close()
    return {k: v * 1000 for k, v in timings.items()}


def sqlite_bare_select(path: Path) -> float:
    conn = sqlite3.connect(path)
    columns = "id, number, status, cell_code, escalation_level, category, urgent, ack_due_at, "
    query = f"SELECT {columns} resolve_due_at FROM cases WHERE {late('sqlite')} ORDER BY id"
    try:
        runs = []
        for _ in range(5):
            mark = time.perf_counter()
            conn.execute(query, {"now": NOW_TEXT}).fetchall()
            runs.append((time.perf_counter() - mark) * 1000)
        return statistics.median(runs)
    finally:
        conn.close()


async def postgres_round(dsn: str, late: int) -> dict[str, float]:
    import asyncpg

    sql = {k: _numbered(v) for k, v in statements("postgresql").items()}
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        transaction = conn.transaction()
        await transaction.start()
        mark = time.perf_counter()
        ids = [row[0] for row in await conn.fetch(sql["claim"], NOW)]
        timings["claim"] = time.perf_counter() - mark
        for step in ("update", "events", "reporters", "digests"):
            mark = time.perf_counter()
            status = await conn.execute(sql[step], ids, NOW)
            timings[step] = time.perf_counter() - mark
            if step in ("update", "events") and int(status.split()[-1]) != late:
                raise SystemExit(f"postgres {step}: {status}, expected {late} rows")
        mark = time.perf_counter()
        await transaction.commit()
        timings["commit"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
    finally:
        await conn.close()
    return {k: v * 1000 for k, v in timings.items()}


async def postgres_bare_select(dsn: str) -> float:
    import asyncpg

    columns = "id, number, status, cell_code, escalation_level, category, urgent, ack_due_at, "
    query = _numbered(
        f"SELECT {columns} resolve_due_at FROM cases WHERE {late('postgresql')} ORDER BY id"
    )
    conn = await asyncpg.connect(dsn)
    try:
        runs = []
        for _ in range(5):
            mark = time.perf_counter()
            await conn.fetch(query, NOW)
            runs.append((time.perf_counter() - mark) * 1000)
        return statistics.median(runs)
    finally:
        await conn.close()


def _numbered(sql: str) -> str:
    """asyncpg's $n placeholders for the :ids and :now used above."""
    now = "$2" if ":ids" in sql else "$1"
    return sql.replace(":ids", "$1").replace(":now", now)


async def select_through_sqlalchemy(url: str) -> float:
    database = Database.from_url(url)
    try:
        return (await bench.time_select(database))[0]
    finally:
        await database.dispose()


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    return sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]


async def run_sqlite(cases: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        seeded, scratch = Path(tmp) / "seeded.db", Path(tmp) / "round.db"
        late = await bench.seed_database("sqlite", f"sqlite+aiosqlite:///{seeded}", cases)
        results = []
        for _ in range(rounds):
            bench.fresh_copy(seeded, scratch)
            select_ms = await select_through_sqlalchemy(f"sqlite+aiosqlite:///{scratch}")
            bare_ms = sqlite_bare_select(scratch)
            timings = sqlite_round(scratch, late)
            results.append(
                timings
                | {"select": select_ms, "bare": bare_ms, "late": late}
                | {"ratio": timings["total"] / select_ms}
            )
        return median_round(results)


async def run_postgres(admin_url: str, cases: int, rounds: int) -> dict[str, float]:
    seeded, seeded_url = await bench.postgres_scratch(admin_url, "floor_seed")
    try:
        late = await bench.seed_database("postgres", seeded_url, cases)
        results = []
        for _ in range(rounds):
            copy, copy_url = await bench.postgres_scratch(admin_url, "floor", template=seeded)
            dsn = copy_url.replace("postgresql+asyncpg://", "postgresql://")
            try:
                select_ms = await select_through_sqlalchemy(copy_url)
                bare_ms = await postgres_bare_select(dsn)
                timings = await postgres_round(dsn, late)
            finally:
                await bench.postgres_drop(admin_url, copy)
            results.append(
                timings
                | {"select": select_ms, "bare": bare_ms, "late": late}
                | {"ratio": timings["total"] / select_ms}
            )
        return median_round(results)
    finally:
        await bench.postgres_drop(admin_url, seeded)


def table(results: dict[str, dict[str, float]]) -> str:
    head = f"{'backend':<10} {'late':>7} {'SELECT':>7} {'bare':>6} " + " ".join(
        f"{s:>9}" for s in STEPS
    )
    lines = [head + f" {'writes':>7} {'floor':>6} {'vs bare':>8}"]
    for backend, r in results.items():
        lines.append(
            f"{backend:<10} {int(r['late']):>7,} {r['select']:>7.1f} {r['bare']:>6.1f} "
            + " ".join(f"{r[s]:>9.1f}" for s in STEPS)
            + f" {r['total']:>7.1f} {r['ratio']:>5.1f}x {r['total'] / r['bare']:>7.1f}x"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    cases = 10_000 if args.quick else 100_000
    results: dict[str, dict[str, float]] = {}
    if args.backend in {"all", "sqlite"}:
        results["sqlite"] = await run_sqlite(cases, args.rounds)
    if args.backend in {"all", "postgres"}:
        try:
            results["postgres"] = await run_postgres(args.postgres_url, cases, args.rounds)
        except OSError as exc:
            print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(
        f"Escalation floor: the sweep's writes as bare SQL, {cases:,} open cases; "
        f"milliseconds, median of {args.rounds} rounds"
    )
    print("SELECT = the benchmark's SELECT (SQLAlchemy); bare = the same through the driver")
    print(table(results))
    print(f"target for the real sweep: within {bench.TARGET:g}x of SELECT")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10,000 cases instead of 100,000")
    parser.add_argument("--backend", choices=["all", "sqlite", "postgres"], default="all")
    parser.add_argument("--postgres-url", default=bench.DEFAULT_PG)
    parser.add_argument("--rounds", type=int, default=3, help="fresh copies (median)")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())

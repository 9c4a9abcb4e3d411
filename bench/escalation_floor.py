"""The floor under the escalation sweep: its writes as bare SQL, with no Python per case.

bench/escalation.py imports the functions here and times this floor beside the real sweep, on
the same seeded data in the same run (the target is the sweep within 1.5× of this floor). Run
standalone, ``.venv/bin/python bench/escalation_floor.py`` (same data as bench/escalation.py:
100,000 open cases, 10% late; ``--quick`` for 10,000) times the floor alone, step by step, against
the benchmark's SELECT.

Each round, on a fresh copy of the seeded database and through the bare driver (``sqlite3``,
``asyncpg``), it makes the writes ``DeadlineSweep`` makes, batch by batch as the sweep does
(5,000 cases a batch in id order after the last one taken, each batch one transaction):

1. ``claim``: the batch's ids, fetched (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, as the sweep
   claims);
2. ``events``: one CaseEvent per case, its data (level, reason, level reached) worked out in SQL
   (one INSERT … SELECT);
3. ``update``: every case of the batch one level up, its passed deadline moved (one UPDATE);
4. ``reporters``: one outbox row per reporter of each case, its notice the real ``rp-escalated``
   message rendered once per language, the case number put in by SQL (one INSERT … SELECT);
5. ``digests``: one outbox row per supervisor chat of the cells involved (a case's cell and the
   one it climbs to) per batch, listing the batch's case numbers (one INSERT … SELECT with a
   GROUP BY);
6. ``commit``.

So the floor writes the rows the sweep writes: as many events, as many reporter rows, one digest
per chat per batch (the sweep's digests are per batch too), with payloads of about the same size.
What it leaves out is the sweep's own work: reading the cases and reporters into Python, the
per-case decision, the rendering and the digests' sections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.delivery.message import Reply
from messages import Translator

BATCH = 5_000  # the sweep's default batch size
ACK_DUE = "2026-11-30 05:00:00.000000"  # where the moved deadlines go; any later time will do
RESOLVE_DUE = "2026-12-15 02:00:00.000000"
ACK_WAITING = "('assigned', 'reopened')"
ACK_LATE = f"status IN {ACK_WAITING} AND ack_due_at <= :now"
RESOLVE_LATE = (
    "status IN ('new', 'assigned', 'acknowledged', 'reopened', 'transferred')"
    " AND resolve_due_at <= :now"
)
STEPS = ("claim", "events", "update", "reporters", "digests", "commit")
NUMBER = "#NUMBER#"  # where SQL puts the case number into a notice rendered once per language


def stored_time(now: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite (naive UTC text)."""
    return now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def late(dialect: str) -> str:
    """The late cases, shaped as bot.services.sweep.overdue_condition shapes them."""
    if dialect == "sqlite":  # each half through its index (see overdue_condition)
        return (
            f"id IN (SELECT id FROM cases WHERE {ACK_LATE}"
            f" UNION ALL SELECT id FROM cases WHERE {RESOLVE_LATE})"
        )
    return f"(({ACK_LATE}) OR ({RESOLVE_LATE}))"


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _payload(text: str) -> str:
    """A Reply's outbox payload as JSON text, as the sweep stores it."""
    return json.dumps(Reply(text).to_payload(), ensure_ascii=False, separators=(",", ":"))


def reporter_payload_sql() -> str:
    """The reporter's notice by their language: rendered here once, the number added by SQL."""
    arms = []
    for locale in ("bo", "en"):
        t = Translator(locale)
        text = _payload(t("rp-escalated", number=NUMBER, reason="ack", level="township"))
        arms.append(f"WHEN {_quoted(locale)} THEN {_quoted(text)}")
    default = Translator("zh-Hans")("rp-escalated", number=NUMBER, reason="ack", level="township")
    template = f"CASE p.locale {' '.join(arms)} ELSE {_quoted(_payload(default))} END"
    return f"replace({template}, '{NUMBER}', c.number)"


def digest_head() -> str:
    t = Translator("zh-Hans")  # supervisors without a bound person read the default language
    return t("sv-escalated-in", reason="ack", cell="—", numbers="")


def statements(dialect: str) -> dict[str, str]:
    """The sweep's writes for the batch of late cases whose ids are bound as :ids."""
    pg = dialect == "postgresql"
    if pg:
        ids = "SELECT unnest(CAST(:ids AS integer[]))"
        now, ack, resolve = (
            "CAST(:now AS timestamp)",
            f"TIMESTAMP '{ACK_DUE}'",
            f"TIMESTAMP '{RESOLVE_DUE}'",
        )
        obj, agg = "json_build_object", "string_agg"
        reporter_payload = f"CAST({reporter_payload_sql()} AS json)"
    else:
        ids = "SELECT value FROM json_each(:ids)"
        now, ack, resolve = ":now", f"'{ACK_DUE}'", f"'{RESOLVE_DUE}'"
        obj, agg = "json_object", "group_concat"
        reporter_payload = reporter_payload_sql()
    reason = f"CASE WHEN c.status IN {ACK_WAITING} AND c.ack_due_at <= {now} THEN 'ack' ELSE 'resolve' END"
    return {
        "claim": f"SELECT id FROM cases WHERE {late(dialect)} AND id > :after ORDER BY id"
        + " LIMIT :batch"
        + (" FOR UPDATE SKIP LOCKED" if pg else ""),
        "events": f"""
            INSERT INTO case_events
                (case_id, kind, actor_kind, from_status, to_status, from_cell, to_cell,
                 note, data, at)
            SELECT c.id, 'escalate', 'system', c.status, c.status, c.cell_code, g.parent_code,
                   '', {obj}('level', c.escalation_level + 1, 'reason', {reason},
                             'reached', up.level), {now}
            FROM cases c JOIN grid_cells g ON g.code = c.cell_code
            LEFT JOIN grid_cells up ON up.code = g.parent_code
            WHERE c.id IN ({ids})""",
        "update": f"""
            UPDATE cases SET
                escalation_level = escalation_level + 1, version = version + 1,
                updated_at = {now},
                ack_due_at = CASE WHEN ack_due_at <= {now} THEN {ack} ELSE ack_due_at END,
                resolve_due_at = CASE WHEN ack_due_at IS NULL OR ack_due_at > {now}
                                 THEN {resolve} ELSE resolve_due_at END
            WHERE id IN ({ids})""",
        "reporters": f"""
            INSERT INTO outbox (channel, chat_id, payload, case_id, status, attempts,
                                next_attempt_at, last_error, created_at)
            SELECT p.channel, p.chat_id, {reporter_payload}, r.case_id, 'pending', 0,
                   {now}, '', {now}
            FROM case_reporters r JOIN people p ON p.id = r.person_id
            JOIN cases c ON c.id = r.case_id
            WHERE r.case_id IN ({ids})""",
        "digests": f"""
            INSERT INTO outbox (channel, chat_id, payload, status, attempts,
                                next_attempt_at, last_error, created_at)
            SELECT 'telegram', chat, {obj}('text', {_quoted(digest_head())} || {agg}(number, ', ')),
                   'pending', 0, {now}, '', {now}
            FROM (SELECT DISTINCT s.telegram_chat_id AS chat, c.number AS number
                  FROM cases c JOIN grid_cells g ON g.code = c.cell_code
                  JOIN supervisor_cells sc ON sc.cell_code IN (c.cell_code, g.parent_code)
                  JOIN supervisors s ON s.id = sc.supervisor_id
                  WHERE c.id IN ({ids}) AND s.telegram_chat_id IS NOT NULL) AS chats
            GROUP BY chat""",
    }


def _empty() -> dict[str, float]:
    return dict.fromkeys((*STEPS, "total", "events_rows", "outbox_rows", "batches"), 0.0)


def _check(backend: str, step: str, rows: int, expected: int) -> None:
    if rows != expected:
        raise SystemExit(f"{backend} floor {step}: {rows} rows, expected {expected}")


def sqlite_floor(path: Path, late_count: int, now: datetime, batch: int = BATCH) -> dict[str, Any]:
    """The floor on an SQLite file, batch by batch: milliseconds per step, and the rows written."""
    sql = statements("sqlite")
    out = _empty()
    stamp = stored_time(now)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        after = 0
        started = time.perf_counter()
        while True:
            mark = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            query = {"now": stamp, "after": after, "batch": batch}
            ids = [row[0] for row in conn.execute(sql["claim"], query)]
            out["claim"] += time.perf_counter() - mark
            if not ids:
                conn.execute("ROLLBACK")
                break
            after = ids[-1]
            params = {"ids": "[" + ",".join(map(str, ids)) + "]", "now": stamp}
            for step in ("events", "update", "reporters", "digests"):
                mark = time.perf_counter()
                rows = conn.execute(sql[step], params).rowcount
                out[step] += time.perf_counter() - mark
                if step in ("events", "update"):
                    _check("sqlite", step, rows, len(ids))
                if step == "events":
                    out["events_rows"] += rows
                if step in ("reporters", "digests"):
                    out["outbox_rows"] += rows
            mark = time.perf_counter()
            conn.execute("COMMIT")
            out["commit"] += time.perf_counter() - mark
            out["batches"] += 1
        out["total"] = time.perf_counter() - started
    finally:
        conn.close()
    _check("sqlite", "events (all batches)", int(out["events_rows"]), late_count)
    return _in_ms(out)


def _in_ms(out: dict[str, float]) -> dict[str, Any]:
    return {k: v * 1000 if k in (*STEPS, "total") else int(v) for k, v in out.items()}


async def postgres_floor(
    dsn: str, late_count: int, now: datetime, batch: int = BATCH
) -> dict[str, Any]:
    """The floor on a PostgreSQL database, batch by batch (asyncpg, no SQLAlchemy)."""
    import asyncpg

    sql = {k: _numbered(v) for k, v in statements("postgresql").items()}
    out = _empty()
    naive = now.replace(tzinfo=None)
    conn = await asyncpg.connect(dsn)
    try:
        after = 0
        started = time.perf_counter()
        while True:
            mark = time.perf_counter()
            transaction = conn.transaction()
            await transaction.start()
            ids = [row[0] for row in await conn.fetch(sql["claim"], naive, after, batch)]
            out["claim"] += time.perf_counter() - mark
            if not ids:
                await transaction.rollback()
                break
            after = ids[-1]
            for step in ("events", "update", "reporters", "digests"):
                mark = time.perf_counter()
                status = await conn.execute(sql[step], ids, naive)
                out[step] += time.perf_counter() - mark
                rows = int(status.split()[-1])
                if step in ("events", "update"):
                    _check("postgres", step, rows, len(ids))
                if step == "events":
                    out["events_rows"] += rows
                if step in ("reporters", "digests"):
                    out["outbox_rows"] += rows
            mark = time.perf_counter()
            await transaction.commit()
            out["commit"] += time.perf_counter() - mark
            out["batches"] += 1
        out["total"] = time.perf_counter() - started
    finally:
        await conn.close()
    _check("postgres", "events (all batches)", int(out["events_rows"]), late_count)
    return _in_ms(out)


def sqlite_bare_select(path: Path, now: datetime) -> float:
    conn = sqlite3.connect(path)
    columns = "id, number, status, cell_code, escalation_level, category, urgent, ack_due_at, "
    query = f"SELECT {columns} resolve_due_at FROM cases WHERE {late('sqlite')} ORDER BY id"
    try:
        runs = []
        for _ in range(5):
            mark = time.perf_counter()
            conn.execute(query, {"now": stored_time(now)}).fetchall()
            runs.append((time.perf_counter() - mark) * 1000)
        return statistics.median(runs)
    finally:
        conn.close()


async def postgres_bare_select(dsn: str, now: datetime) -> float:
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
            await conn.fetch(query, now.replace(tzinfo=None))
            runs.append((time.perf_counter() - mark) * 1000)
        return statistics.median(runs)
    finally:
        await conn.close()


def _numbered(sql: str) -> str:
    """asyncpg's $n placeholders: the claim binds now, after, batch; the writes ids, now."""
    names = ("now", "after", "batch") if ":after" in sql else ("ids", "now")
    for i, name in enumerate(names, 1):
        sql = sql.replace(f":{name}", f"${i}")
    return sql


# --- standalone: the floor alone, step by step ----------------------------------------------------


async def select_through_sqlalchemy(url: str) -> float:
    import escalation as bench

    from bot.storage.db import Database

    database = Database.from_url(url)
    try:
        return (await bench.time_select(database))[0]
    finally:
        await database.dispose()


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]


async def run_sqlite(cases: int, rounds: int) -> dict[str, Any]:
    import escalation as bench

    with tempfile.TemporaryDirectory() as tmp:
        seeded, scratch = Path(tmp) / "seeded.db", Path(tmp) / "round.db"
        late_count = await bench.seed_database("sqlite", f"sqlite+aiosqlite:///{seeded}", cases)
        results = []
        for _ in range(rounds):
            bench.fresh_copy(seeded, scratch)
            select_ms = await select_through_sqlalchemy(f"sqlite+aiosqlite:///{scratch}")
            bare_ms = sqlite_bare_select(scratch, bench.NOW)
            timings = sqlite_floor(scratch, late_count, bench.NOW)
            results.append(
                timings
                | {"select": select_ms, "bare": bare_ms, "late": late_count}
                | {"ratio": timings["total"] / select_ms}
            )
        return median_round(results)


async def run_postgres(admin_url: str, cases: int, rounds: int) -> dict[str, Any]:
    import escalation as bench

    seeded, seeded_url = await bench.postgres_scratch(admin_url, "floor_seed")
    try:
        late_count = await bench.seed_database("postgres", seeded_url, cases)
        results = []
        for _ in range(rounds):
            copy, copy_url = await bench.postgres_scratch(admin_url, "floor", template=seeded)
            dsn = copy_url.replace("postgresql+asyncpg://", "postgresql://")
            try:
                select_ms = await select_through_sqlalchemy(copy_url)
                bare_ms = await postgres_bare_select(dsn, bench.NOW)
                timings = await postgres_floor(dsn, late_count, bench.NOW)
            finally:
                await bench.postgres_drop(admin_url, copy)
            results.append(
                timings
                | {"select": select_ms, "bare": bare_ms, "late": late_count}
                | {"ratio": timings["total"] / select_ms}
            )
        return median_round(results)
    finally:
        await bench.postgres_drop(admin_url, seeded)


def table(results: dict[str, dict[str, Any]]) -> str:
    head = f"{'backend':<10} {'late':>7} {'SELECT':>7} {'bare':>6} " + " ".join(
        f"{s:>9}" for s in STEPS
    )
    lines = [head + f" {'writes':>7} {'÷SELECT':>8} {'÷bare':>6} {'outbox':>7} {'batches':>7}"]
    for backend, r in results.items():
        lines.append(
            f"{backend:<10} {int(r['late']):>7,} {r['select']:>7.1f} {r['bare']:>6.1f} "
            + " ".join(f"{r[s]:>9.1f}" for s in STEPS)
            + f" {r['total']:>7.1f} {r['ratio']:>7.1f}x {r['total'] / r['bare']:>5.1f}x"
            + f" {r['outbox_rows']:>7,} {r['batches']:>7}"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    cases = 10_000 if args.quick else 100_000
    results: dict[str, dict[str, Any]] = {}
    if args.backend in {"all", "sqlite"}:
        results["sqlite"] = await run_sqlite(cases, args.rounds)
    if args.backend in {"all", "postgres"}:
        try:
            results["postgres"] = await run_postgres(args.postgres_url, cases, args.rounds)
        except OSError as exc:
            print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(
        f"Escalation floor: the sweep's writes as bare SQL, {cases:,} open cases, batches of "
        f"{BATCH:,}; milliseconds, median of {args.rounds} rounds"
    )
    print("SELECT = the benchmark's SELECT (SQLAlchemy); bare = the same through the driver")
    print(table(results))
    print(
        "target for the real sweep: within 1.5x of these writes "
        "(bench/escalation.py times the two side by side)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10,000 cases instead of 100,000")
    parser.add_argument("--backend", choices=["all", "sqlite", "postgres"], default="all")
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--rounds", type=int, default=3, help="fresh copies (median)")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())

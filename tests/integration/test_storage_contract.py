"""What Jingtu relies on from SQLAlchemy's sqlite+aiosqlite dialect, asserted on a real file.

These fail on an upgrade of SQLAlchemy or aiosqlite that breaks the contract: SQLAlchemy's
adapter reaches into aiosqlite's internals (its isolation-level setter, its stop()), so widen the
version ranges in pyproject.toml only after this module passes on the new versions.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import Database, make_engine

INSERT_NOTE = text("INSERT INTO notes (body) VALUES (:body)")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "contract.db"


@pytest.fixture
async def engine(path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            )
        yield engine
    finally:
        await engine.dispose()


def notes_seen_by_another_connection(path: Path) -> list[str]:
    other = sqlite3.connect(path)
    try:
        return [body for (body,) in other.execute("SELECT body FROM notes ORDER BY id")]
    finally:
        other.close()


async def test_an_autocommit_connection_writes_at_once_and_goes_back_to_the_pool_transactional(
    engine: AsyncEngine, path: Path
):
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(INSERT_NOTE, {"body": "at once"})
        seen_before_the_connection_is_returned = notes_seen_by_another_connection(path)
    async with engine.connect() as connection:  # the same pooled connection, checked out again
        await connection.execute(INSERT_NOTE, {"body": "rolled back"})
        await connection.rollback()

    assert seen_before_the_connection_is_returned == ["at once"]
    assert notes_seen_by_another_connection(path) == ["at once"]


async def test_every_connection_gets_wal_foreign_keys_and_a_busy_timeout(engine: AsyncEngine):
    pragmas = ["journal_mode", "foreign_keys", "busy_timeout", "synchronous"]
    async with engine.connect() as connection:
        values = {p: (await connection.execute(text(f"PRAGMA {p}"))).scalar() for p in pragmas}

    assert values == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10000,
        "synchronous": 1,  # NORMAL
    }


async def test_the_dialect_can_terminate_a_connection(engine: AsyncEngine):
    # SQLAlchemy terminates a connection whose task was cancelled mid-statement with aiosqlite's
    # stop() (0.22.1 on); without it the dialect falls back to a close that may never return.
    assert engine.dialect.has_terminate is True


async def test_a_write_waiting_for_another_connections_write_lock_leaves_the_event_loop_running(
    engine: AsyncEngine, path: Path
):
    loop = asyncio.get_running_loop()
    insert_issued = asyncio.Event()

    def trace(sql: str) -> None:  # called on aiosqlite's thread as SQLite starts a statement
        if sql.startswith("INSERT"):
            loop.call_soon_threadsafe(insert_issued.set)

    def trace_statements(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(lambda driver: driver.set_trace_callback(trace))

    await engine.dispose()  # the next connection is a new one, and traced
    event.listen(engine.sync_engine, "connect", trace_statements)
    database = Database(engine)

    async def write_ours() -> None:
        async with database.transaction() as session:
            await session.execute(INSERT_NOTE, {"body": "ours"})

    # Another process's writer, as far as SQLite can tell: a connection of its own holding the
    # write lock.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes (body) VALUES ('theirs')")
    writing = asyncio.create_task(write_ours())
    issued = asyncio.create_task(insert_issued.wait())
    try:
        # Until our INSERT reaches SQLite (or the write fails before it does).
        await asyncio.wait({issued, writing}, return_when=asyncio.FIRST_COMPLETED)
        ticked = asyncio.Event()

        async def tick() -> None:
            ticked.set()

        ticker = asyncio.create_task(tick())
        await ticked.wait()
        # Our INSERT is waiting for the lock, and the loop ran another coroutine meanwhile (with a
        # call blocking the loop, the write would end, locked out, before `tick` got a turn).
        assert (insert_issued.is_set(), writing.done()) == (True, False)

        other.execute("COMMIT")
        await writing
        await ticker
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        issued.cancel()
        writing.cancel()
        await asyncio.gather(issued, writing, return_exceptions=True)

    assert notes_seen_by_another_connection(path) == ["theirs", "ours"]

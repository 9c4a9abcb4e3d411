"""An aiosqlite-shaped connection that runs sqlite3 calls inline, on the event loop's thread.

aiosqlite runs every call on a thread of its own: SQLAlchemy's adapter makes about four such
calls per statement (cursor, execute, fetch, close), each a hand-off to that thread and a wake-up
of the event loop. A local SQLite file answers in microseconds, so the hand-offs cost more than
the work. This shim gives SQLAlchemy's aiosqlite dialect the API it expects (`async_creator`)
and simply does the work inline.

It is safe because of how Jingtu uses SQLite: one process, WAL (readers never wait for the
writer), and writers queued on an in-process lock (`Database`), so a call never sits in SQLite's
busy handler. Several processes on one SQLite file would block the loop while they wait for each
other — run PostgreSQL for that.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    def __await__(self) -> Any:
        async def itself() -> InlineCursor:
            return self

        return itself().__await__()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """What SQLAlchemy's aiosqlite adapter touches of an aiosqlite Connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # The adapter checks this before commit/rollback (None once closed).
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def inline_creator(database: str) -> Any:
    """An `async_creator` for create_async_engine: opens `database` with the stdlib sqlite3."""

    async def connect() -> InlineConnection:
        # check_same_thread=False: the pool may close a connection from another thread at exit.
        return InlineConnection(sqlite3.connect(database, check_same_thread=False))

    return connect

"""Engine and session factory; the unit of work is `async with database.transaction() as s:`.

Only the transaction block commits: leaving it by an exception rolls back, so a service either
does all of its work or none of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class NotStored(Exception):
    """The database stayed unreachable: the work was not stored, and may be offered again."""


# SQLSTATE classes that mean the server could not be reached or is going away, not that the
# statement was wrong: 08 connection exception, 57P operator intervention (shutdown, restart).
_UNAVAILABLE_SQLSTATES = ("08", "57P")


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, says the database could not be reached or dropped the
    connection (a restart, a failover): nothing was committed, and the same work may succeed in
    a moment. False for errors of the work itself (a constraint, a bug)."""
    seen: BaseException | None = exc
    for _ in range(10):  # the chain of causes, not a cycle
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        sqlstate = getattr(seen, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while a writer commits; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        # SQLAlchemy's stock sqlite+aiosqlite dialect, through public APIs only: aiosqlite runs
        # each call on a thread of its own, so a wait in SQLite's busy handler (another process
        # holding the write lock) never blocks the event loop.
        # Every session ends its transaction itself (commit, or rollback on error), so the pool's
        # extra ROLLBACK on check-in is a wasted round trip to aiosqlite's thread.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


_IGNORING_INSERTS: dict[tuple[str, type[Any]], Any] = {}


def _ignoring_insert(dialect: str, model: type[Any]) -> Any:
    # Built once per model: a statement object memoises its cache key, so reusing it spares
    # SQLAlchemy re-deriving the key on every call of this hot path.
    stmt = _IGNORING_INSERTS.get((dialect, model))
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(model).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(model).on_conflict_do_nothing()
        _IGNORING_INSERTS[(dialect, model)] = stmt
    return stmt


async def insert_ignore(session: AsyncSession, model: type[Any], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either backend; True when a row was inserted."""
    stmt = _ignoring_insert(session.get_bind().dialect.name, model)
    # On the session's connection, as plain Core: through the ORM a parameter dictionary would
    # make this an ORM bulk insert, which does not report the row count.
    connection = await session.connection()
    result = await connection.execute(stmt, values)
    return bool(result.rowcount)


class Database:
    """Owns the engine and hands out transactions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
        # SQLite has one writer at a time, and a second writer waits in SQLite's busy handler,
        # which sleeps in steps of up to 100 ms. Queueing writers here instead keeps concurrent
        # chats from stalling each other. PostgreSQL needs no such thing.
        self._sqlite_writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Database:
        return cls(make_engine(url, **kwargs))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        if self._sqlite_writer is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._sqlite_writer:
            # Not `async with session`: its exit closes the session in a new, shielded task,
            # which yields to the event loop while this writer still holds the lock. The commit
            # (or rollback) at the end of `begin()` has already returned the connection, so the
            # close below has nothing left to wait for and runs inline.
            session = self.sessions()
            try:
                async with session.begin():
                    yield session
            finally:
                await session.close()

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; nothing it does is committed."""
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

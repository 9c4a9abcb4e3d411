"""A lease in the database so that, of several processes, exactly one runs a periodic job.

Portable (SQLite and PostgreSQL): the lock row is taken by an INSERT that only one process can
win, or by an UPDATE that only succeeds when the previous holder's lease has run out. Holders renew
the lease each time they run; a dead holder's lease expires and another process takes over.

Each new holder gets a new fencing token. Work done as the leader that must not happen twice
(firing a schedule) calls `fence` inside its own transaction: it locks the lease row for share
and goes on only if the lease is still this holder's, with this token, and unexpired — so a
leader that stalled past its lease, and was replaced, changes nothing.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database, insert_ignore
from bot.storage.models import LeaderLock


class LeaseLost(Exception):
    """The lease is no longer this holder's: whatever it was about to do as leader, it must not."""


# Built once: a statement built per renewal leaves expression objects in reference cycles that
# only a full garbage collection frees (memory creeps up during a long broadcast).
_RENEW = (
    update(LeaderLock)
    .where(
        LeaderLock.name == bindparam("lock_name"),
        (LeaderLock.holder == bindparam("lock_holder"))
        | (LeaderLock.expires_at <= bindparam("now")),
    )
    .values(
        holder=bindparam("lock_holder"),
        expires_at=bindparam("lock_expires"),
        # A renewal keeps the token; a takeover makes a new one.
        token=case(
            (LeaderLock.holder == bindparam("lock_holder"), LeaderLock.token),
            else_=LeaderLock.token + 1,
        ),
    )
    .returning(LeaderLock.token)
    .execution_options(synchronize_session=False)
)


def process_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def acquire(
    database: Database, name: str, holder: str, *, now: datetime, lease: timedelta
) -> int | None:
    """The fencing token when `holder` holds `name` until now + lease (newly taken or
    renewed); None when another process holds it."""
    async with database.transaction() as session:
        if await insert_ignore(
            session,
            LeaderLock,
            {"name": name, "holder": holder, "expires_at": now + lease, "token": 1},
        ):
            return 1
        # On the Connection, not through the ORM: the ORM re-derives the statement on every
        # execution (recomputing its cache key), and over a long broadcast that renews every
        # few seconds the leftovers kept tracemalloc's peak growing (bench/broadcast.py).
        connection = await session.connection()
        result = await connection.execute(
            _RENEW,
            {"lock_name": name, "lock_holder": holder, "now": now, "lock_expires": now + lease},
        )
        token = result.scalar_one_or_none()
        return None if token is None else int(token)


async def try_acquire(
    database: Database, name: str, holder: str, *, now: datetime, lease: timedelta
) -> bool:
    """True when `holder` holds `name` until now + lease (newly taken or renewed)."""
    return await acquire(database, name, holder, now=now, lease=lease) is not None


async def fence(
    session: AsyncSession, name: str, holder: str, token: int | None, *, now: datetime
) -> None:
    """Raise LeaseLost unless `holder` still holds `name` with `token`, in this transaction.

    The row is locked for share until the transaction ends, so no takeover can slip in
    between this check and the caller's commit.
    """
    query = select(LeaderLock).where(LeaderLock.name == name)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    lock = await session.scalar(query)
    if (
        token is None
        or lock is None
        or lock.holder != holder
        or lock.token != token
        or lock.expires_at <= now
    ):
        raise LeaseLost(f"lease {name} is no longer held by {holder} with token {token}")


async def release_held(session: AsyncSession, holders: Sequence[str], *, now: datetime) -> int:
    """End now the leases `holders` (processes known dead) held, so another process takes over
    at once rather than when they run out; returns how many. A holder that was only paused
    finds, when it wakes, that its token no longer fences anything (see the top)."""
    if not holders:
        return 0
    connection = await session.connection()
    result = await connection.execute(
        update(LeaderLock)
        .where(LeaderLock.holder.in_(list(holders)), LeaderLock.expires_at > now)
        .values(expires_at=now)
    )
    return int(result.rowcount or 0)


async def release(database: Database, name: str, holder: str, *, now: datetime) -> None:
    async with database.transaction() as session:
        await session.execute(
            update(LeaderLock)
            .where(LeaderLock.name == name, LeaderLock.holder == holder)
            .values(expires_at=now)
        )

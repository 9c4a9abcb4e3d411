"""A lease in the database so that, of several processes, exactly one runs a periodic job.

Portable (SQLite and PostgreSQL): the lock row is taken by an INSERT that only one process can
win, or by an UPDATE that only succeeds when the previous holder's lease has run out. Holders renew
the lease each time they run; a dead holder's lease expires and another process takes over.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update

from bot.storage.db import Database, insert_ignore
from bot.storage.models import LeaderLock

# Built once: a statement built per renewal leaves expression objects in reference cycles that
# only a full garbage collection frees (memory creeps up during a long broadcast).
_RENEW = (
    update(LeaderLock)
    .where(
        LeaderLock.name == bindparam("lock_name"),
        (LeaderLock.holder == bindparam("lock_holder"))
        | (LeaderLock.expires_at <= bindparam("now")),
    )
    .values(holder=bindparam("lock_holder"), expires_at=bindparam("lock_expires"))
    .execution_options(synchronize_session=False)
)


def process_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def try_acquire(
    database: Database, name: str, holder: str, *, now: datetime, lease: timedelta
) -> bool:
    """True when `holder` holds `name` until now + lease (newly taken or renewed)."""
    async with database.transaction() as session:
        if await insert_ignore(
            session, LeaderLock, {"name": name, "holder": holder, "expires_at": now + lease}
        ):
            return True
        # On the Connection, not through the ORM: the ORM re-derives the statement on every
        # execution (recomputing its cache key), and over a long broadcast that renews every
        # few seconds the leftovers kept tracemalloc's peak growing (bench/broadcast.py).
        connection = await session.connection()
        result = await connection.execute(
            _RENEW,
            {"lock_name": name, "lock_holder": holder, "now": now, "lock_expires": now + lease},
        )
        return bool(result.rowcount)


async def release(database: Database, name: str, holder: str, *, now: datetime) -> None:
    async with database.transaction() as session:
        await session.execute(
            update(LeaderLock)
            .where(LeaderLock.name == name, LeaderLock.holder == holder)
            .values(expires_at=now)
        )

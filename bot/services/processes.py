"""Heartbeats: which processes are alive, and taking back at once what a dead one had claimed.

Every process holds a row in `process_heartbeats`, renewed every `BEAT_SECONDS`. An outbox row
or a broadcast delivery claimed for sending names its claimer (`claimed_by`), a leader lease its
holder. Two things make a claimer dead:

* a process starts under the same name (JINGTU_PROCESS_NAME; a systemd unit restarts one
  process per name): its predecessor of that name is gone, and everything it claimed is taken
  back before the new process sends anything — at once, not after the claim's lease (unless
  the predecessor is a process of this host that still runs: two live processes were given one
  name, which is logged, and left to the heartbeat);
* its heartbeat is older than `STALE_AFTER`: any live process takes its rows back at its next
  beat, so with several processes a killed one's rows are sent again within
  STALE_AFTER + BEAT_SECONDS (25 s), not after the 60 s / 120 s lease (30 s for leadership).

A process that is only slow (a pause longer than STALE_AFTER) may then see a row it was sending
sent by another as well: the same at-least-once bound as a crash, one row per chat in flight.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.broadcast_store import release_claims as release_delivery_claims
from bot.delivery.outbox import release_claims as release_outbox_claims
from bot.services.leader import process_identity, release_held
from bot.storage.db import Database
from bot.storage.models import ProcessHeartbeat, utcnow

log = logging.getLogger(__name__)

# Everything a process claims in its own name, and so what `_bury` takes back from the dead:
# outbox rows, broadcast deliveries, and leader leases (so the sends it led resume at once).
_CLAIMS = (release_outbox_claims, release_delivery_claims, release_held)

BEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=20)


def default_name(role: str) -> str:
    """The name a process runs under when JINGTU_PROCESS_NAME is not set: host and role."""
    return f"{socket.gethostname()}:{role}"


def alive_elsewhere_on_this_host(identity: str) -> bool:
    """Whether `identity` (host:pid:nonce) is another process of this host that still runs."""
    host, _, rest = identity.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


class Heartbeat:
    def __init__(
        self,
        database: Database,
        *,
        name: str,
        role: str,
        clock: Callable[[], datetime] = utcnow,
        stale_after: timedelta = STALE_AFTER,
    ) -> None:
        self.database = database
        self.name = name
        self.role = role
        self.clock = clock
        self.stale_after = stale_after
        self.id = process_identity()

    async def start(self) -> int:
        """Register this process; take back what a predecessor of this name, or any process
        with a stale heartbeat, had claimed. Returns how many rows were taken back."""
        now = self.clock()
        async with self.database.transaction() as session:
            found = (
                await session.execute(
                    select(ProcessHeartbeat.id, ProcessHeartbeat.name).where(
                        or_(
                            ProcessHeartbeat.name == self.name,
                            ProcessHeartbeat.seen_at < now - self.stale_after,
                        ),
                        ProcessHeartbeat.id != self.id,
                    )
                )
            ).all()
            dead = []
            for other, name in found:
                if name == self.name and alive_elsewhere_on_this_host(other):
                    log.warning(
                        "another live process on this host runs as %r: give each process its "
                        "own JINGTU_PROCESS_NAME",
                        name,
                    )
                    continue
                dead.append(other)
            taken = await self._bury(session, dead, now)
            session.add(
                ProcessHeartbeat(
                    id=self.id, name=self.name, role=self.role, started_at=now, seen_at=now
                )
            )
        if taken:
            log.info("took back %d rows claimed by %s", taken, ", ".join(dead))
        return taken

    async def beat(self) -> int:
        """Renew this process's heartbeat; take back the rows of processes gone stale."""
        now = self.clock()
        async with self.database.transaction() as session:
            connection = await session.connection()
            result = await connection.execute(
                update(ProcessHeartbeat).where(ProcessHeartbeat.id == self.id).values(seen_at=now)
            )
            if not result.rowcount:  # another process thought us dead (a long pause)
                session.add(
                    ProcessHeartbeat(
                        id=self.id, name=self.name, role=self.role, started_at=now, seen_at=now
                    )
                )
            dead = list(
                (
                    await session.scalars(
                        select(ProcessHeartbeat.id).where(
                            ProcessHeartbeat.seen_at < now - self.stale_after,
                            ProcessHeartbeat.id != self.id,
                        )
                    )
                ).all()
            )
            taken = await self._bury(session, dead, now)
        if taken:
            log.warning("took back %d rows of stale processes %s", taken, ", ".join(dead))
        return taken

    async def stop(self) -> None:
        """Leave: what this process still had claimed is due again now, for the others."""
        now = self.clock()
        async with self.database.transaction() as session:
            await self._bury(session, [self.id], now)

    @staticmethod
    async def _bury(session: AsyncSession, ids: list[str], now: datetime) -> int:
        """Take back the rows `ids` had claimed and forget their heartbeats."""
        if not ids:
            return 0
        taken = 0
        for release in _CLAIMS:
            taken += await release(session, ids, now=now)
        await session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.id.in_(ids)))
        return taken

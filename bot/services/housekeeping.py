"""Housekeeping: forget what no longer protects anything, a little at a time.

Two tables grow with every message and nothing else removes from them:

- `processed_updates`, the ids of inbound updates already handled. An id only has to be
  remembered as long as its platform may deliver it again: Telegram keeps an unconfirmed update
  for 24 hours, WeChat retries a message for seconds.
- `outbox` rows marked sent. Once sent, a row is history; the case's events keep the record of
  what happened. Rows given up on (`dead`) are kept: they are few and want a person's eye.

Both are deleted once older than `JINGTU_RETENTION_DAYS` (default 30, at least 2). The deletes
go in batches of their own transactions, each picking its rows through an index, because on
SQLite every statement runs on the event loop's thread: one DELETE of a year's rows would hold
up every chat while it ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, delete, select, tuple_

from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ProcessedUpdate, utcnow

log = logging.getLogger(__name__)

BATCH = 2_000


@dataclass
class Pruned:
    processed_updates: int = 0
    outbox_rows: int = 0


class Housekeeping:
    def __init__(
        self,
        database: Database,
        retention_days: float,
        *,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH,
    ) -> None:
        self.database = database
        self.retention = timedelta(days=retention_days)
        self.clock = clock
        self.batch_size = batch_size

    async def run(self) -> Pruned:
        cutoff = self.clock() - self.retention
        pruned = Pruned()
        while n := await self._prune_updates(cutoff):
            pruned.processed_updates += n
        while n := await self._prune_outbox(cutoff):
            pruned.outbox_rows += n
        if pruned.processed_updates or pruned.outbox_rows:
            log.info(
                "housekeeping: forgot %d processed update ids and %d sent outbox rows "
                "older than %s",
                pruned.processed_updates,
                pruned.outbox_rows,
                cutoff.isoformat(timespec="seconds"),
            )
        return pruned

    async def _prune_updates(self, cutoff: datetime) -> int:
        keys = (
            select(ProcessedUpdate.channel, ProcessedUpdate.update_id)
            .where(ProcessedUpdate.processed_at < cutoff)  # ix_processed_updates_processed_at
            .limit(self.batch_size)
        )
        return await self._delete(
            delete(ProcessedUpdate).where(
                tuple_(ProcessedUpdate.channel, ProcessedUpdate.update_id).in_(keys)
            )
        )

    async def _prune_outbox(self, cutoff: datetime) -> int:
        # Picked through the (status, next_attempt_at) index; a sent row's next_attempt_at is
        # when its last claim's lease would have run out, about when it was sent, and sent_at
        # makes the cut exact.
        ids = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "sent",
                OutboxMessage.next_attempt_at < cutoff,
                OutboxMessage.sent_at < cutoff,
            )
            .limit(self.batch_size)
        )
        return await self._delete(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))

    async def _delete(self, statement: Delete) -> int:
        """One batch, in a transaction of its own; how many rows it deleted."""
        async with self.database.transaction() as session:
            connection = await session.connection()  # Core: a CursorResult, with its rowcount
            result = await connection.execute(statement)
            return int(result.rowcount or 0)

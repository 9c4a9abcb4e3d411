"""Housekeeping forgets old update ids and sent outbox rows, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from bot.app import Jingtu
from bot.config import ConfigError, Settings
from bot.services.housekeeping import Housekeeping
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ProcessedUpdate

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def outbox_row(chat: str, status: str, age: timedelta) -> dict[str, object]:
    at = NOW - age
    return {
        "channel": "telegram",
        "chat_id": chat,
        "payload": {"text": chat},
        "status": status,
        "attempts": 1,
        "next_attempt_at": at + timedelta(seconds=60),  # the claim's lease
        "last_error": "",
        "created_at": at,
        "sent_at": at if status == "sent" else None,
    }


async def seed(database: Database) -> None:
    async with database.transaction() as s:
        await s.execute(
            insert(ProcessedUpdate),
            [
                {"channel": "telegram", "update_id": f"old-{i}", "processed_at": NOW - 31 * DAY}
                for i in range(7)
            ]
            + [
                {"channel": "wechat", "update_id": "recent", "processed_at": NOW - 29 * DAY},
                {"channel": "telegram", "update_id": "today", "processed_at": NOW},
            ],
        )
        await s.execute(
            insert(OutboxMessage),
            [outbox_row(f"sent-old-{i}", "sent", 40 * DAY) for i in range(5)]
            + [
                outbox_row("sent-recent", "sent", 29 * DAY),
                outbox_row("dead-old", "dead", 90 * DAY),  # given up on: kept for a person
                outbox_row("pending-old", "pending", 40 * DAY),  # still to be sent
                outbox_row("sending-old", "sending", 40 * DAY),
            ],
        )


async def test_old_ids_and_old_sent_rows_go_in_batches_and_the_rest_stays(database: Database):
    await seed(database)
    housekeeping = Housekeeping(database, 30, clock=lambda: NOW, batch_size=3)
    pruned = await housekeeping.run()
    assert (pruned.processed_updates, pruned.outbox_rows) == (7, 5)
    async with database.reader() as s:
        ids = set(await s.scalars(select(ProcessedUpdate.update_id)))
        chats = set(await s.scalars(select(OutboxMessage.chat_id)))
    assert ids == {"recent", "today"}
    assert chats == {"sent-recent", "dead-old", "pending-old", "sending-old"}
    assert (await housekeeping.run()).outbox_rows == 0  # nothing left to do: a no-op


async def test_at_the_shortest_retention_a_day_old_update_id_is_still_kept(database: Database):
    # The dedupe still covers anything a platform may redeliver (Telegram: 24 hours).
    async with database.transaction() as s:
        await s.execute(
            insert(ProcessedUpdate),
            [{"channel": "telegram", "update_id": "yesterday", "processed_at": NOW - DAY}],
        )
    await Housekeeping(database, 2, clock=lambda: NOW).run()
    async with database.reader() as s:
        kept = await s.scalar(select(ProcessedUpdate.update_id))
    assert kept == "yesterday"


def test_a_retention_under_two_days_is_refused():
    with pytest.raises(ConfigError, match="JINGTU_RETENTION_DAYS"):
        Settings.from_env({"JINGTU_RETENTION_DAYS": "1"}, env_file=None)
    assert Settings.from_env({}, env_file=None).retention_days == 30


def test_the_app_runs_housekeeping_hourly():
    app = Jingtu(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    (job,) = [j for j in app.periodic_jobs if j.name == "housekeeping"]
    assert job.interval_seconds == 3600
    assert job.run == app.housekeeping.run

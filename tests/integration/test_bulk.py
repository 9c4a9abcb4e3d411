"""Bulk writes through one JSON document: what goes in comes back out, on both databases."""

from __future__ import annotations

import typing
from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, select

from bot.storage.bulk import among, insert_many
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, Person

OUTBOX = typing.cast(Table, OutboxMessage.__table__)
PEOPLE = typing.cast(Table, Person.__table__)
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
OUTBOX_CONSTANTS = {
    "dedupe_key": None,
    "status": "pending",
    "attempts": 0,
    "next_attempt_at": NOW,
    "last_error": "",
    "created_at": NOW,
}


async def test_rows_with_text_numbers_nulls_and_json_arrive_as_written(database: Database):
    rows = [
        {
            "channel": "telegram",
            "chat_id": str(1000 + i),
            # Quotes, backslashes, Tibetan and Chinese must survive the JSON round trip.
            "payload": {"text": f'案件 {i} ༄ "quoted" \\ back', "buttons": [[{"n": i}]]},
            "case_id": i if i % 2 else None,
        }
        for i in range(1, 2001)
    ]
    async with database.transaction() as s:
        assert await insert_many(s, OUTBOX, rows, OUTBOX_CONSTANTS) == 2000
    async with database.reader() as s:
        stored = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [(m.channel, m.chat_id, m.payload, m.case_id) for m in stored] == [
        (r["channel"], r["chat_id"], r["payload"], r["case_id"]) for r in rows
    ]
    assert {(m.status, m.attempts, m.next_attempt_at, m.dedupe_key) for m in stored} == {
        ("pending", 0, NOW, None)
    }


async def test_booleans_arrive_as_booleans(database: Database):
    rows = [
        {"channel": "console", "channel_user_id": str(i), "chat_id": str(i), "reachable": i == 1}
        for i in range(2)
    ]
    async with database.transaction() as s:
        await insert_many(s, PEOPLE, rows, {"display_name": "", "created_at": NOW})
    async with database.reader() as s:
        stored = (await s.execute(select(Person.chat_id, Person.reachable))).all()
    assert sorted(stored) == [("0", False), ("1", True)]


async def test_nothing_to_insert_is_no_statement(database: Database):
    async with database.transaction() as s:
        assert await insert_many(s, OUTBOX, [], OUTBOX_CONSTANTS) == 0


async def test_a_json_scalar_is_refused_before_anything_is_written(database: Database):
    row = {"channel": "telegram", "chat_id": "1", "payload": "just text", "case_id": None}
    async with database.transaction() as s:
        with pytest.raises(TypeError, match="objects or arrays"):
            await insert_many(s, OUTBOX, [row], OUTBOX_CONSTANTS)


async def test_among_matches_exactly_the_given_ids_however_many(database: Database):
    rows = [
        {"channel": "telegram", "chat_id": str(i), "payload": {"i": i}, "case_id": i}
        for i in range(6000)
    ]
    async with database.transaction() as s:
        await insert_many(s, OUTBOX, rows, OUTBOX_CONSTANTS)
    wanted = [*range(0, 6000, 3), 10_000]  # thousands of ids, and one that matches nothing
    dialect = database.engine.dialect.name
    async with database.reader() as s:
        found = (
            await s.scalars(
                select(OutboxMessage.case_id).where(among(OutboxMessage.case_id, wanted, dialect))
            )
        ).all()
        none = (
            await s.scalars(select(OutboxMessage.id).where(among(OutboxMessage.id, [], dialect)))
        ).all()
    assert sorted(found) == list(range(0, 6000, 3))
    assert none == []

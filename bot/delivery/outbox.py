"""The outbox: messages written in the transaction that caused them, sent afterwards.

Rows move pending → sending (claimed, with a lease) → sent | dead. A claim is a lease and names
the process that took it (`claimed_by`): a process that dies mid-send leaves its rows `sending`,
and they are taken back as soon as its heartbeat goes stale or it restarts under the same name
(`release_claims`, called by `bot.services.processes`), or at the latest when the lease runs out
— at-least-once, so a crash can duplicate at most the messages in flight at that moment.
On PostgreSQL claims use FOR UPDATE SKIP LOCKED, so several processes drain without colliding.

A message may take several requests (text, then a map pin, then photos): the sender runs them
through `Parts`, and each part done is recorded on the row, so a retry starts after the parts
that went out instead of sending the text again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.delivery.message import offered_choices
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, Person, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class SendError(Exception):
    """A send that failed; subclasses say whether to try again."""


class RetryLater(SendError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(SendError):
    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable  # the person blocked us or the chat is gone


Step = Callable[[], Awaitable[object]]


class Parts:
    """The requests of one message, run in order; those done on an earlier attempt are skipped.

    `done` is how many parts went out before; `on_part(n)` is awaited after each part but the
    last (it records `n` on the outbox row, so a crash after it does not repeat them either).
    """

    def __init__(
        self, done: int = 0, on_part: Callable[[int], Awaitable[None]] | None = None
    ) -> None:
        self.done = done
        self.on_part = on_part

    async def run(self, steps: Sequence[Step]) -> None:
        for index in range(self.done, len(steps)):
            await steps[index]()
            self.done = index + 1
            if self.on_part is not None and self.done < len(steps):
                await self.on_part(self.done)


class Sender(Protocol):
    async def send(
        self, chat_id: str, payload: dict[str, Any], parts: Parts | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Envelope:
    channel: str
    chat_id: str
    payload: dict[str, Any]
    dedupe_key: str | None = None
    case_id: int | None = None


_PEOPLE = cast(Table, Person.__table__)
_OFFER_CHOICES = (
    update(_PEOPLE)
    .where(_PEOPLE.c.channel == bindparam("ch"), _PEOPLE.c.chat_id == bindparam("chat"))
    .values(offered_choices=bindparam("choices", type_=_PEOPLE.c.offered_choices.type))
)
# A message without buttons withdraws the chat's choices; most chats have none to withdraw, and
# those rows are not written at all.
_WITHDRAW_CHOICES = (
    update(_PEOPLE)
    .where(
        _PEOPLE.c.channel == bindparam("ch"),
        _PEOPLE.c.chat_id == bindparam("chat"),
        _PEOPLE.c.offered_choices.is_not(None),
    )
    .values(offered_choices=None)
)
_INSERT_RETURNING_ID = insert(OutboxMessage).returning(
    OutboxMessage.id, sort_by_parameter_order=True
)


async def add_to_outbox(
    session: AsyncSession,
    envelopes: Iterable[Envelope],
    *,
    now: datetime,
    claimed_for: timedelta | None = None,
    claimed_by: str | None = None,
) -> list[OutboxMessage]:
    """Write messages in the caller's transaction; returns them as (detached) rows with ids.

    With `claimed_for`, the rows are born claimed by this process (`claimed_by`; the caller
    sends them right after commit); should it die first, they are taken back (see the top).
    """
    envelopes_list = list(envelopes)
    values = [
        {
            "channel": env.channel,
            "chat_id": env.chat_id,
            "payload": env.payload,
            "dedupe_key": env.dedupe_key,
            "case_id": env.case_id,
            "status": "sending" if claimed_for else "pending",
            "attempts": 0,
            "next_attempt_at": now + claimed_for if claimed_for else now,
            "last_error": "",
            "created_at": now,
            "claimed_by": claimed_by if claimed_for else None,
            "parts_done": 0,
        }
        for env in envelopes_list
    ]
    if not values:
        return []
    # One multi-row INSERT … RETURNING instead of an ORM unit of work: this is on the path of
    # every message a person sends.
    await session.flush()  # the ORM's pending rows first (a case these messages refer to)
    connection = await session.connection()
    ids = (await connection.execute(_INSERT_RETURNING_ID, values)).scalars().all()
    await _remember_offered_choices(connection, envelopes_list)
    return [OutboxMessage(id=row_id, **row) for row_id, row in zip(ids, values, strict=True)]


async def _remember_offered_choices(
    connection: AsyncConnection, envelopes: Sequence[Envelope]
) -> None:
    """Each chat's choices become those of the last message queued for it (the one place
    `people.offered_choices` is written; `handlers.router` reads it to take a typed number)."""
    last: dict[tuple[str, str], list[list[str]]] = {}
    for env in envelopes:
        last[(env.channel, env.chat_id)] = offered_choices(env.payload)
    offer = [{"ch": ch, "chat": chat, "choices": c} for (ch, chat), c in last.items() if c]
    withdraw = [{"ch": ch, "chat": chat} for (ch, chat), c in last.items() if not c]
    if offer:
        await connection.execute(_OFFER_CHOICES, offer)
    if withdraw:
        await connection.execute(_WITHDRAW_CHOICES, withdraw)


async def release_claims(session: AsyncSession, holders: Sequence[str], *, now: datetime) -> int:
    """Give back, due now, the rows `holders` (processes known dead) had claimed; returns how
    many. The parts they recorded as done stay done."""
    if not holders:
        return 0
    connection = await session.connection()
    result = await connection.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by.in_(list(holders)))
        .values(status="pending", next_attempt_at=now, claimed_by=None)
    )
    return int(result.rowcount or 0)


def backoff_seconds(attempts: int) -> float:
    return float(min(2 ** max(attempts - 1, 0) * 5, 600))


UnreachableHook = Callable[[str, str], Awaitable[None]]
# (row id, outcome, error, retry_after, unreachable, parts done) of one send.
Result = tuple[int, str, str, float | None, bool, int]


class OutboxDispatcher:
    """Sends outbox rows through the channel senders it knows."""

    def __init__(
        self,
        database: Database,
        senders: dict[str, Sender],
        *,
        clock: Clock = utcnow,
        lease: timedelta = timedelta(seconds=120),
        max_attempts: int = 8,
        batch_size: int = 100,
        concurrency: int = 8,
        on_unreachable: UnreachableHook | None = None,
        process_id: str | None = None,
    ) -> None:
        """`process_id`: recorded on the rows this dispatcher claims (its heartbeat's id)."""
        self.database = database
        self.process_id = process_id
        self.senders = senders
        self.clock = clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.on_unreachable = on_unreachable
        self._wake = asyncio.Event()
        # Successful sends are marked in batches: under load one UPDATE covers many replies.
        self._sent_ids: list[int] = []
        self._flush_lock = asyncio.Lock()
        # Whether the next wake-up must look for due rows, or only mark replies sent: a reply
        # sent on the spot leaves nothing to claim, and looking would cost a query per batch.
        self._claim_wanted = True

    def poke(self) -> None:
        """Something new is waiting: drain now rather than at the next interval."""
        self._claim_wanted = True
        self._wake.set()

    async def claim_due(self, limit: int | None = None) -> list[OutboxMessage]:
        now = self.clock()
        async with self.database.transaction() as session:
            due = (
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.channel.in_(sorted(self.senders)),
            )
            if self.database.is_postgres:
                query = select(OutboxMessage).where(*due).with_for_update(skip_locked=True)
            else:
                # The due rows' ids through the (status, next_attempt_at) index, then the rows by
                # id. Asked in one piece, SQLite with statistics (ANALYZE, `PRAGMA optimize`)
                # walks the whole table in id order, every second, sent rows and all: 6 ms at
                # 100,000 rows and growing, where the index answers in 0.1 ms.
                query = select(OutboxMessage).where(
                    OutboxMessage.id.in_(select(OutboxMessage.id).where(*due))
                )
            query = query.order_by(OutboxMessage.id).limit(limit or self.batch_size)
            rows = list((await session.scalars(query)).all())
            if rows:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([r.id for r in rows]))
                    .values(
                        status="sending",
                        next_attempt_at=now + self.lease,
                        claimed_by=self.process_id,
                    )
                )
        return rows

    async def drain_once(self) -> int:
        """Claim and send what is due; returns how many rows were attempted."""
        await self.flush_sent()  # so no row sent a moment ago is claimed as unsent
        self._claim_wanted = False
        rows = await self.claim_due()
        if rows:
            await self.send_rows(rows)
        return len(rows)

    async def drain_until_empty(self, max_rounds: int = 1000) -> int:
        total = 0
        for _ in range(max_rounds):
            n = await self.drain_once()
            total += n
            if n == 0:
                break
        return total

    async def send_rows(self, rows: Sequence[OutboxMessage]) -> None:
        """Send claimed rows: one chat's messages in order, different chats concurrently.

        Each message is recorded as sent before the next one to its chat goes out, so a crash
        sends again at most the one message in flight per chat (and of it only the parts not
        recorded, see `Parts`). The record is a group commit: the chats sending meanwhile wait
        for the same lock, and the first to get it marks every message sent so far in one
        UPDATE (`flush_sent`), so under load one statement still covers many replies.
        """
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_chat[(row.channel, row.chat_id)].append(row)
        limiter = asyncio.Semaphore(self.concurrency)
        results: list[Result] = []

        async def send_chat(items: list[OutboxMessage]) -> None:
            async with limiter:
                for row in items:
                    result = await self._send_one(row)
                    if result[1] != "sent":
                        results.append(result)
                        continue
                    self._sent_ids.append(result[0])
                    try:
                        await self.flush_sent()
                    except Exception:
                        # Still buffered: the next flush (or the drain loop's) marks it.
                        log.warning("could not record outbox row %s as sent yet", result[0])

        await asyncio.gather(*(send_chat(items) for items in by_chat.values()))
        if results:
            await self._record(rows, results)

    async def flush_sent(self) -> None:
        """Mark every buffered successful send as sent, in one transaction."""
        async with self._flush_lock:
            if not self._sent_ids:
                return
            ids, self._sent_ids = self._sent_ids, []
            now = self.clock()
            try:
                async with self.database.transaction() as session:
                    for start in range(0, len(ids), 500):
                        await session.execute(
                            update(OutboxMessage)
                            .where(OutboxMessage.id.in_(ids[start : start + 500]))
                            .values(status="sent", sent_at=now, last_error="")
                        )
            except Exception:
                self._sent_ids[:0] = ids  # kept, so a later flush marks them
                raise

    async def _send_one(self, row: OutboxMessage) -> Result:
        """(id, outcome, error, retry_after, unreachable, parts done) for one row."""
        row_id = row.id

        async def part_done(done: int) -> None:
            await self._record_parts(row_id, done)

        parts = Parts(row.parts_done or 0, part_done)
        outcome = await self._send(row.channel, row.chat_id, row.payload, row_id, parts)
        return (row_id, *outcome, parts.done)

    async def _record_parts(self, row_id: int, done: int) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row_id).values(parts_done=done)
            )

    async def _send(
        self,
        channel: str,
        chat_id: str,
        payload: dict[str, Any],
        label: object,
        parts: Parts | None = None,
    ) -> tuple[str, str, float | None, bool]:
        """(outcome, error, retry_after, unreachable) for one message."""
        sender = self.senders.get(channel)
        if sender is None:
            return "retry", f"no sender for channel {channel}", None, False
        try:
            await sender.send(chat_id, payload, parts)
        except RetryLater as exc:
            return "retry", str(exc)[:400], exc.retry_after, False
        except PermanentFailure as exc:
            return "dead", str(exc)[:400], None, exc.unreachable
        except Exception as exc:  # an unexpected failure is retried, never lost
            log.exception("outbox %s: unexpected send failure", label)
            return "retry", f"{type(exc).__name__}: {exc}"[:400], None, False
        return "sent", "", None, False

    async def _record(
        self,
        rows: Sequence[OutboxMessage],
        results: list[Result],
    ) -> None:
        now = self.clock()
        attempts = {r.id: r.attempts for r in rows}
        unreachable: set[tuple[str, str]] = set()
        chat_of = {r.id: (r.channel, r.chat_id) for r in rows}
        sent_ids = [rid for rid, outcome, *_ in results if outcome == "sent"]
        async with self.database.transaction() as session:
            if sent_ids:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(sent_ids))
                    .values(status="sent", sent_at=now, last_error="")
                )
            for rid, outcome, error, retry_after, gone, parts_done in results:
                if outcome == "sent":
                    continue
                tries = attempts[rid] + 1
                if outcome == "dead" or tries >= self.max_attempts:
                    values: dict[str, Any] = {"status": "dead", "attempts": tries}
                else:
                    delay = retry_after if retry_after is not None else backoff_seconds(tries)
                    values = {
                        "status": "pending",
                        "attempts": tries,
                        "next_attempt_at": now + timedelta(seconds=delay),
                    }
                values["last_error"] = error
                values["parts_done"] = parts_done
                values["claimed_by"] = None
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == rid).values(**values)
                )
                if gone:
                    unreachable.add(chat_of[rid])
        if self.on_unreachable is not None:
            for channel, chat_id in sorted(unreachable):
                await self.on_unreachable(channel, chat_id)

    async def send_now(self, rows: Sequence[OutboxMessage]) -> None:
        """Send rows this process claimed at birth (replies to the person who just wrote)."""
        if rows:
            await self.send_rows(rows)

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0, claim: bool = True) -> None:
        """Drain forever: at once when poked, otherwise every `interval` seconds.

        With `claim=False` (a web process with no sender role) it only marks sent the replies
        this process sent on the spot; other rows are left to the sender processes."""
        while not stop.is_set():
            # Clear before draining: a poke that arrives mid-drain must trigger another round.
            self._wake.clear()
            try:
                if self._claim_wanted and claim:
                    while await self.drain_once():
                        pass
                else:
                    await self.flush_sent()  # woken only to mark replies sent on the spot
            except Exception:
                log.exception("outbox drain failed; will try again")
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait(
                {waiter, stopper}, timeout=interval, return_when="FIRST_COMPLETED"
            )
            if not done:
                self._claim_wanted = True  # the interval is up: retries may have come due
            for task in (waiter, stopper):
                task.cancel()

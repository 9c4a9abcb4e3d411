"""A broadcast run's rows in the database: claiming recipients, recording results, progress.

Rows are read in keyset-paginated pages by id (memory stays flat however many recipients) and
claimed with a lease: pending → sending (next_attempt_at = lease end) → sent | failed | blocked |
skipped, or back to pending with a later next_attempt_at (a retry). A claimed row names its
claimer (`claimed_by`, the process's heartbeat id) while it is `sending`: when that process is
known dead (it restarted under its name, or its heartbeat went stale; `bot.services.processes`
decides, for outbox rows and deliveries alike) `release_claims` makes its rows pending at once.
Otherwise — a claimer without a heartbeat, such as `campaign send-now` — a row whose lease has
run out belongs to a process that died: `requeue_expired` makes it pending again.

The sending itself (rate limits, retries, concurrency, when to write) is `bot.delivery.broadcast`;
this module only reads and writes. Every write is a statement built once and executed on the
session's Connection (nothing per page or per batch is derived afresh; see `_core`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Update, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.storage.db import Database
from bot.storage.models import CampaignRun, Delivery, Person, Subscription

Clock = Callable[[], datetime]
ClaimQuery = Select[*tuple[Any, ...]]
# People the platform says blocked us, told within the transaction that marks their deliveries.
BlockedHook = Callable[[AsyncSession, list[int]], Awaitable[None]]

SENT, RETRY, FAILED, BLOCKED, SKIPPED = "sent", "retry", "failed", "blocked", "skipped"


def _mark_statement(kind: str) -> Update:
    """UPDATE deliveries to a final `kind` by id (parameters: `ids`, and `now` for sent).

    Built once and reused: constructing the statement for every flush made a few dozen
    SQLAlchemy expression objects tied up in reference cycles, which only the rare full garbage
    collection frees, so a long run's memory grew until one happened. A reused statement also
    keeps its cache key. The ids are one expanding parameter (one compiled form for any count).
    Like every statement below, it is executed on the session's Connection (see `_core`).
    """
    values: dict[str, Any] = {"status": kind, "claimed_by": None}
    if kind != SKIPPED:
        values["attempts"] = Delivery.attempts + 1
    if kind == SENT:
        values.update(sent_at=bindparam("now"), last_error="")
    return (
        update(Delivery)
        .where(Delivery.id.in_(bindparam("ids", expanding=True)))
        .values(values)
        # A fresh session holds no Delivery objects: nothing to synchronise.
        .execution_options(synchronize_session=False)
    )


def _by_id(**values: Any) -> Update:
    """UPDATE one delivery by id (parameter `delivery_id`), run as an executemany."""
    return (
        update(Delivery)
        .where(Delivery.id == bindparam("delivery_id"))
        .values(values)
        .execution_options(synchronize_session=False)
    )


_MARK = {kind: _mark_statement(kind) for kind in (SENT, FAILED, BLOCKED, SKIPPED)}
_CLAIM = (
    update(Delivery)
    .where(Delivery.id.in_(bindparam("ids", expanding=True)))
    .values(status="sending", next_attempt_at=bindparam("lease_end"), claimed_by=bindparam("by"))
    .execution_options(synchronize_session=False)
)
# Outcomes that are not a plain final status: the error text, a retry later, giving up.
_ERROR = _by_id(last_error=bindparam("error"))
_RETRY = _by_id(
    status="pending",
    attempts=bindparam("tries"),
    next_attempt_at=bindparam("due"),
    last_error=bindparam("error"),
    claimed_by=None,
)
_GIVE_UP = _by_id(
    status=FAILED, attempts=bindparam("tries"), last_error=bindparam("error"), claimed_by=None
)
_STATS = (
    update(CampaignRun)
    .where(CampaignRun.id == bindparam("b_run_id"))
    .values(stats=bindparam("b_stats"))
    .execution_options(synchronize_session=False)
)
_REQUEUE = (
    update(Delivery)
    .where(
        Delivery.run_id == bindparam("b_run_id"),
        Delivery.status == "sending",
        Delivery.next_attempt_at <= bindparam("now"),
    )
    .values(status="pending", claimed_by=None)
    .execution_options(synchronize_session=False)
)
_RELEASE = (
    update(Delivery)
    .where(
        Delivery.claimed_by.in_(bindparam("holders", expanding=True)),
        Delivery.status == "sending",
    )
    .values(status="pending", next_attempt_at=bindparam("now"), claimed_by=None)
    .execution_options(synchronize_session=False)
)


async def release_claims(session: AsyncSession, holders: Sequence[str], *, now: datetime) -> int:
    """Give back, due now, the deliveries `holders` (processes known dead) had claimed;
    returns how many. Whether a process is dead is decided by `bot.services.processes`."""
    if not holders:
        return 0
    connection = await _core(session)
    result = await connection.execute(_RELEASE, {"holders": list(holders), "now": now})
    return int(result.rowcount or 0)


async def _core(session: AsyncSession) -> AsyncConnection:
    """The session's Connection (same transaction), to run the statements above as Core.

    `AsyncSession.execute` would send each through the ORM's bulk UPDATE path, which re-derives
    the statement on every call (`_annotate` with the synchronize options): a new statement whose
    cache key is computed again each time. Besides the wasted work, that computation builds a
    tuple by resizing (`tuple(<generator>)`), and CPython keeps such a tuple on its small-tuple
    free list when it is freed, without having taken one from it: one more 80-byte block per
    execution, kept until the list's cap (2,000 per size) or a full collection. Memory thus grew
    with the number of flushes, i.e. with the number of recipients. On the Connection, a reused
    statement's cache key is computed once; these statements have nothing for the ORM to do
    (no objects to synchronise, no ORM entities in the results).
    """
    return await session.connection()


@dataclass(frozen=True, slots=True)
class Recipient:
    delivery_id: int
    person_id: int
    attempts: int
    channel: str
    chat_id: str
    locale: str | None
    area: str | None
    subscribed: bool  # still subscribed to the run's topic (they may have left since)
    reachable: bool


@dataclass
class Progress:
    run_id: int
    recipients: int
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    skipped: int = 0
    throttled: int = 0  # 429s answered by the platform
    retries: int = 0
    started: float = 0.0  # monotonic seconds
    sent_at_start: int = 0
    elapsed: float = 0.0
    stats_written: float = 0.0  # monotonic seconds of the last write to the run row

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.blocked + self.skipped

    @property
    def remaining(self) -> int:
        return max(self.recipients - self.done, 0)

    @property
    def rate(self) -> float:
        sent = self.sent - self.sent_at_start
        return sent / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        return self.remaining / self.rate if self.rate > 0 else None

    def as_stats(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "sent": self.sent,
            "failed": self.failed,
            "blocked": self.blocked,
            "skipped": self.skipped,
            "remaining": self.remaining,
            "throttled": self.throttled,
            "retries": self.retries,
        }


def _final_kinds() -> dict[str, list[int]]:
    return {SENT: [], FAILED: [], BLOCKED: [], SKIPPED: []}


@dataclass(slots=True)
class Writes:
    """One batch of results as the rows to write, in one transaction (see `record`)."""

    run_id: int
    now: datetime
    final: dict[str, list[int]] = field(default_factory=_final_kinds)  # status -> delivery ids
    errors: list[dict[str, Any]] = field(default_factory=list)  # failed, blocked: error text
    retries: list[dict[str, Any]] = field(default_factory=list)  # pending again, due later
    give_ups: list[dict[str, Any]] = field(default_factory=list)  # retried too often: failed
    blocked_people: list[int] = field(default_factory=list)


@dataclass
class BroadcastStore:
    database: Database
    channels: Collection[str]  # the channels this process sends on (may be a live keys view)
    on_blocked: BlockedHook
    clock: Clock
    batch_size: int = 500
    lease: timedelta = timedelta(seconds=120)
    holder: str | None = None  # recorded on the rows this store claims (the heartbeat's id)
    _claim_queries: dict[str, ClaimQuery] = field(default_factory=dict, repr=False)

    # -- claiming ----------------------------------------------------------------------------

    def _claim_query(self, topic: str) -> ClaimQuery:
        """The claim's SELECT (parameters: run_id, after_id, now), built once per topic."""
        cached = self._claim_queries.get(topic)
        if cached is not None:
            return cached
        query: ClaimQuery = (
            select(
                Delivery.id,
                Delivery.person_id,
                Delivery.attempts,
                Person.channel,
                Person.chat_id,
                Person.locale,
                Person.reachable,
                Subscription.area_cell_code,
                Subscription.id,
            )
            .join(Person, Person.id == Delivery.person_id)
            .outerjoin(
                Subscription,
                and_(Subscription.person_id == Delivery.person_id, Subscription.topic == topic),
            )
            .where(
                Delivery.run_id == bindparam("run_id"),
                Delivery.status == "pending",
                Delivery.id > bindparam("after_id"),
                (Delivery.next_attempt_at.is_(None))
                | (Delivery.next_attempt_at <= bindparam("now")),
                Person.channel.in_(sorted(self.channels)),
            )
            .order_by(Delivery.id)
            .limit(self.batch_size)
        )
        if self.database.is_postgres:
            query = query.with_for_update(of=Delivery, skip_locked=True)
        self._claim_queries[topic] = query
        return query

    async def claim(self, run_id: int, topic: str, after_id: int) -> list[Recipient]:
        """The next page of due recipients after `after_id`, now leased to this process."""
        now = self.clock()
        query = self._claim_query(topic)
        async with self.database.transaction() as session:
            connection = await _core(session)
            params = {"run_id": run_id, "after_id": after_id, "now": now}
            # Row by row: each driver row is released once read, so a page never exists as
            # driver rows, SQLAlchemy Rows and Recipients all at once.
            page = [_recipient(row) for row in await connection.execute(query, params)]
            if not page:
                return []
            ids = [recipient.delivery_id for recipient in page]
            lease_end = now + self.lease
            await connection.execute(
                _CLAIM, {"ids": ids, "lease_end": lease_end, "by": self.holder}
            )
        return page

    async def requeue_expired(self, run_id: int) -> None:
        """Rows claimed by a process that died: their lease ran out, so they are due again."""
        async with self.database.transaction() as session:
            connection = await _core(session)
            await connection.execute(_REQUEUE, {"b_run_id": run_id, "now": self.clock()})

    # -- recording results -------------------------------------------------------------------

    async def record(self, writes: Writes, stats_due: Callable[[], dict[str, Any] | None]) -> None:
        """Write a batch of results; `stats_due` (called last, in the same transaction) gives
        the run's stats to write with them, or None to leave the run row alone."""
        async with self.database.transaction() as session:
            connection = await _core(session)
            for kind, ids in writes.final.items():
                if not ids:
                    continue
                params: dict[str, Any] = {"ids": ids}
                if kind == SENT:
                    params["now"] = writes.now
                await connection.execute(_MARK[kind], params)
            for statement, rows in (
                (_ERROR, writes.errors),
                (_RETRY, writes.retries),
                (_GIVE_UP, writes.give_ups),
            ):
                if rows:
                    await connection.execute(statement, rows)
            if writes.blocked_people:
                await self.on_blocked(session, writes.blocked_people)
            stats = stats_due()
            if stats is not None:
                await connection.execute(_STATS, {"b_run_id": writes.run_id, "b_stats": stats})

    async def write_stats(self, run_id: int, stats: dict[str, Any]) -> None:
        async with self.database.transaction() as session:
            connection = await _core(session)
            await connection.execute(_STATS, {"b_run_id": run_id, "b_stats": stats})

    async def finish(self, run_id: int, stats: dict[str, Any]) -> None:
        """The run is done (unless it was cancelled meanwhile)."""
        async with self.database.transaction() as session:
            await session.execute(
                update(CampaignRun)
                .where(CampaignRun.id == run_id, CampaignRun.status == "running")
                .values(status="done", finished_at=self.clock(), stats=stats)
            )

    # -- reading where the run stands --------------------------------------------------------

    async def next_due(self, run_id: int) -> tuple[bool, datetime | None]:
        """(anything unfinished?, when the earliest row this process can send is due)."""
        unfinished = Delivery.status.in_(("pending", "sending"))
        async with self.database.reader() as session:
            left = await session.scalar(
                select(Delivery.id).where(Delivery.run_id == run_id, unfinished).limit(1)
            )
            if left is None:
                return False, None
            ours = (
                select(Delivery.id, Delivery.next_attempt_at)
                .join(Person, Person.id == Delivery.person_id)
                .where(
                    Delivery.run_id == run_id,
                    unfinished,
                    Person.channel.in_(sorted(self.channels)),
                )
            )
            if await session.scalar(ours.where(Delivery.next_attempt_at.is_(None)).limit(1)):
                return True, self.clock()
            due = await session.scalar(select(func.min(ours.subquery().c.next_attempt_at)))
            return True, due

    async def run_status(self, run_id: int) -> str | None:
        async with self.database.reader() as session:
            return await session.scalar(select(CampaignRun.status).where(CampaignRun.id == run_id))

    async def load_progress(self, run_id: int) -> Progress | None:
        """The run's counts so far (None if there is no such run)."""
        async with self.database.reader() as session:
            run = await session.get(CampaignRun, run_id)
            if run is None:
                return None
            rows = await session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.run_id == run_id)
                .group_by(Delivery.status)
            )
            counts = {str(s): int(n) for s, n in rows.all()}
            stats = run.stats or {}
        return Progress(
            run_id=run_id,
            recipients=sum(counts.values()),
            sent=counts.get(SENT, 0),
            failed=counts.get(FAILED, 0),
            blocked=counts.get(BLOCKED, 0),
            skipped=counts.get(SKIPPED, 0),
            throttled=int(stats.get("throttled", 0)),
            retries=int(stats.get("retries", 0)),
        )


def _recipient(row: Any) -> Recipient:
    """A Recipient from a row of the claim query (columns in `_claim_query`'s order)."""
    return Recipient(
        delivery_id=row[0],
        person_id=row[1],
        attempts=row[2],
        channel=row[3],
        chat_id=row[4],
        locale=row[5],
        reachable=bool(row[6]),
        area=row[7],
        subscribed=row[8] is not None,
    )

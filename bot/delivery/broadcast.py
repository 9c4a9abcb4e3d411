"""The broadcast sender: drains one run's Delivery rows at the platform's rate, exactly once each.

Rows are read in keyset-paginated batches by id (memory stays flat however many recipients) and
claimed with a lease: pending → sending (next_attempt_at = lease end) → sent | failed | blocked |
skipped, or back to pending with a later next_attempt_at (429 retry_after, transient errors with
backoff). Workers send concurrently through the RateLimiter; results are written in small
batches, in order of completion.

Memory does not depend on the number of recipients: one page of claimed recipients, a hand-off
queue of 2 × `concurrency`, the results not yet written, and statements built once and executed
on the session's Connection (nothing per page or per batch is derived afresh; see `_core`).

Exactly once, and the crash bound: a row is sent only after it was claimed, and is marked sent
right after success (results are flushed every `flush_size` sends; a worker waits for the flush
once the buffer is full). A process that dies leaves its claimed rows `sending`; once their lease
has run out the next drain sends them again. So the only duplicates after a crash are the sends
that had succeeded but were not yet recorded: at most `concurrency` in flight plus 2 × `flush_size`
buffered (one batch being written, one filling) — see `duplicate_bound`. Claimed rows that had not
been attempted are not duplicated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, Update, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.delivery.outbox import PermanentFailure, RetryLater, Sender, backoff_seconds
from bot.delivery.ratelimit import Monotonic, RateLimiter, Sleep
from bot.storage.db import Database
from bot.storage.models import CampaignRun, Delivery, Person, Subscription, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ClaimQuery = Select[*tuple[Any, ...]]

SENT, RETRY, FAILED, BLOCKED, SKIPPED = "sent", "retry", "failed", "blocked", "skipped"


def _mark_statement(kind: str) -> Update:
    """UPDATE deliveries to a final `kind` by id (parameters: `ids`, and `now` for sent).

    Built once and reused: constructing the statement for every flush made a few dozen
    SQLAlchemy expression objects tied up in reference cycles, which only the rare full garbage
    collection frees, so a long run's memory grew until one happened. A reused statement also
    keeps its cache key. The ids are one expanding parameter (one compiled form for any count).
    Like every statement below, it is executed on the session's Connection (see `_core`).
    """
    values: dict[str, Any] = {"status": kind}
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
    .values(status="sending", next_attempt_at=bindparam("lease_end"))
    .execution_options(synchronize_session=False)
)
# Outcomes that are not a plain final status: the error text, a retry later, giving up.
_ERROR = _by_id(last_error=bindparam("error"))
_RETRY = _by_id(
    status="pending",
    attempts=bindparam("tries"),
    next_attempt_at=bindparam("due"),
    last_error=bindparam("error"),
)
_GIVE_UP = _by_id(status=FAILED, attempts=bindparam("tries"), last_error=bindparam("error"))
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
    .values(status="pending")
    .execution_options(synchronize_session=False)
)


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


class RunContent(Protocol):
    """What a run sends; rendering is cached by the implementation (per locale, per area)."""

    @property
    def topic(self) -> str: ...

    @property
    def urgent(self) -> bool: ...

    async def payload(self, recipient: Recipient) -> dict[str, Any]: ...


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


@dataclass(frozen=True)
class DrainResult:
    status: str  # done | held | waiting | stopped | cancelled | missing
    progress: Progress | None = None
    until: datetime | None = None  # held or waiting until


@dataclass
class _Outcome:
    recipient: Recipient
    kind: str
    error: str = ""
    retry_after: float | None = None


ProgressHook = Callable[[Progress], None]
Continue = Callable[[], Awaitable[bool]]


@dataclass
class BroadcastSender:
    database: Database
    senders: Mapping[str, Sender]
    limiter_for: Callable[[str], RateLimiter]
    clock: Clock = utcnow
    monotonic: Monotonic = time.monotonic
    sleep: Sleep = asyncio.sleep
    concurrency: int = 8
    batch_size: int = 500
    flush_size: int = 25
    lease: timedelta = timedelta(seconds=120)
    max_attempts: int = 6
    stats_every: float = 5.0  # seconds (monotonic) between progress writes to the run row
    on_progress: ProgressHook | None = None
    _flush_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _claim_queries: dict[str, ClaimQuery] = field(default_factory=dict, repr=False)

    @property
    def duplicate_bound(self) -> int:
        """The most recipients a crash can make receive a message twice."""
        return self.concurrency + 2 * self.flush_size

    async def drain(
        self,
        run_id: int,
        content: RunContent,
        *,
        held_until: Callable[[], datetime | None] = lambda: None,
        should_continue: Continue | None = None,
        max_retry_wait: float = 10.0,
    ) -> DrainResult:
        """Send everything due in the run; returns when the run is done, or why it paused.

        `held_until` answers when quiet hours hold the run; retries due within
        `max_retry_wait` seconds are waited for (with the injected sleep), later ones end the
        call with `waiting` so the caller comes back.
        """
        progress = await self._load_progress(run_id)
        if progress is None:
            return DrainResult("missing")
        progress.started = self.monotonic()
        progress.sent_at_start = progress.sent
        while True:
            run_status = await self._run_status(run_id)
            if run_status != "running":
                return DrainResult("cancelled" if run_status == "cancelled" else "missing")
            await self._requeue_expired(run_id)
            outcome = await self._pass(run_id, content, progress, held_until, should_continue)
            await self._write_stats(run_id, progress)
            if outcome.status in {"held", "stopped"}:
                return DrainResult(outcome.status, progress, outcome.until)
            unfinished, next_due = await self._next_due(run_id)
            if not unfinished:
                await self._finish(run_id, progress)
                return DrainResult("done", progress)
            if next_due is None:  # only recipients on channels this process cannot reach
                return DrainResult("waiting", progress)
            wait = (next_due - self.clock()).total_seconds()
            if wait > max_retry_wait:
                return DrainResult("waiting", progress, next_due)
            if wait > 0:
                await self.sleep(wait)

    # -- one pass over the run ---------------------------------------------------------------

    async def _pass(
        self,
        run_id: int,
        content: RunContent,
        progress: Progress,
        held_until: Callable[[], datetime | None],
        should_continue: Continue | None,
    ) -> DrainResult:
        # A hand-off, not a second page: enough to keep every worker busy while the next page
        # is claimed. Memory is then one page plus this, not two pages.
        queue: asyncio.Queue[Recipient | None] = asyncio.Queue(maxsize=2 * self.concurrency)
        results: list[_Outcome] = []
        stop = DrainResult("end")

        async def produce() -> DrainResult:
            last_id = 0
            while True:
                until = None if content.urgent else held_until()
                if until is not None:
                    return DrainResult("held", until=until)
                if should_continue is not None and not await should_continue():
                    return DrainResult("stopped")
                page = await self._claim(run_id, content.topic, last_id)
                if not page:
                    return stop
                last_id = page[-1].delivery_id
                # Popped, not iterated: the page lets go of each recipient as it is handed on,
                # so recipients already sent are not kept alive until the next claim.
                page.reverse()
                while page:
                    await queue.put(page.pop())

        async def work() -> None:
            while (recipient := await queue.get()) is not None:
                results.append(await self._send(content, recipient))
                if len(results) >= self.flush_size:
                    await self._flush(run_id, results, progress)

        workers = [asyncio.create_task(work()) for _ in range(self.concurrency)]
        try:
            outcome = await produce()
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        except BaseException:
            for worker in workers:
                worker.cancel()
            raise
        await self._flush(run_id, results, progress, final=True)
        return outcome

    async def _send(self, content: RunContent, recipient: Recipient) -> _Outcome:
        if not recipient.subscribed or not recipient.reachable:
            return _Outcome(recipient, SKIPPED)
        sender = self.senders.get(recipient.channel)
        if sender is None:  # the claim only takes channels we have; a sender went away
            return _Outcome(recipient, RETRY, f"no sender for {recipient.channel}")
        payload = await content.payload(recipient)
        limiter = self.limiter_for(recipient.channel)
        await limiter.acquire(recipient.chat_id)
        retry_after: float | None = None
        try:
            await sender.send(recipient.chat_id, payload)
            return _Outcome(recipient, SENT)
        except RetryLater as exc:
            retry_after = exc.retry_after
            return _Outcome(recipient, RETRY, str(exc)[:400], exc.retry_after)
        except PermanentFailure as exc:
            return _Outcome(recipient, BLOCKED if exc.unreachable else FAILED, str(exc)[:400])
        except Exception as exc:  # unexpected: retried with backoff, never lost
            log.exception("delivery %s: unexpected send failure", recipient.delivery_id)
            return _Outcome(recipient, RETRY, f"{type(exc).__name__}: {exc}"[:400])
        finally:
            limiter.release(recipient.chat_id, retry_after=retry_after)

    # -- database ------------------------------------------------------------------------------

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
                Person.channel.in_(sorted(self.senders)),
            )
            .order_by(Delivery.id)
            .limit(self.batch_size)
        )
        if self.database.is_postgres:
            query = query.with_for_update(of=Delivery, skip_locked=True)
        self._claim_queries[topic] = query
        return query

    async def _claim(self, run_id: int, topic: str, after_id: int) -> list[Recipient]:
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
            await connection.execute(_CLAIM, {"ids": ids, "lease_end": now + self.lease})
        return page

    async def _flush(
        self, run_id: int, results: list[_Outcome], progress: Progress, *, final: bool = False
    ) -> None:
        async with self._flush_lock:
            # Workers that queued on the lock while a batch was written find a fresh, short
            # buffer: it waits for the next full batch (or the end of the pass).
            if not results or (not final and len(results) < self.flush_size):
                return
            batch = results[:]
            results.clear()
            await self._record(batch, progress)
        if self.on_progress is not None:
            progress.elapsed = self.monotonic() - progress.started
            self.on_progress(progress)

    async def _record(self, batch: Sequence[_Outcome], progress: Progress) -> None:
        now = self.clock()
        by_kind: dict[str, list[int]] = {SENT: [], FAILED: [], BLOCKED: [], SKIPPED: []}
        blocked_people: list[int] = []
        errors: list[dict[str, Any]] = []  # FAILED and BLOCKED: their error text
        retries: list[dict[str, Any]] = []
        give_ups: list[dict[str, Any]] = []  # retried too often: failed
        delta = Progress(run_id=progress.run_id, recipients=0)
        for outcome in batch:
            recipient = outcome.recipient
            if outcome.kind != RETRY:
                by_kind[outcome.kind].append(recipient.delivery_id)
                if outcome.kind == BLOCKED:
                    blocked_people.append(recipient.person_id)
                if outcome.kind in (FAILED, BLOCKED):
                    errors.append({"delivery_id": recipient.delivery_id, "error": outcome.error})
                continue
            tries = recipient.attempts + 1
            delta.throttled += outcome.retry_after is not None
            row = {"delivery_id": recipient.delivery_id, "tries": tries, "error": outcome.error}
            if tries >= self.max_attempts:
                delta.failed += 1
                give_ups.append(row)
            else:
                delta.retries += 1
                delay = outcome.retry_after
                if delay is None:
                    delay = backoff_seconds(tries)
                row["due"] = now + timedelta(seconds=delay)
                retries.append(row)
        delta.sent = len(by_kind[SENT])
        delta.failed += len(by_kind[FAILED])
        delta.blocked = len(by_kind[BLOCKED])
        delta.skipped = len(by_kind[SKIPPED])
        async with self.database.transaction() as session:
            connection = await _core(session)
            for kind, ids in by_kind.items():
                if not ids:
                    continue
                params: dict[str, Any] = {"ids": ids}
                if kind == SENT:
                    params["now"] = now
                await connection.execute(_MARK[kind], params)
            for statement, rows in ((_ERROR, errors), (_RETRY, retries), (_GIVE_UP, give_ups)):
                if rows:
                    await connection.execute(statement, rows)
            if blocked_people:
                # Imported here: delivery sits below services, but this one rule is shared.
                from bot.services.people import unsubscribe_unreachable

                await unsubscribe_unreachable(session, blocked_people)
            moment = self.monotonic()
            if moment - progress.stats_written >= self.stats_every:
                stats = _added(progress, delta).as_stats()
                await connection.execute(_STATS, {"b_run_id": progress.run_id, "b_stats": stats})
                progress.stats_written = moment
        for name in ("sent", "failed", "blocked", "skipped", "throttled", "retries"):
            setattr(progress, name, getattr(progress, name) + getattr(delta, name))

    async def _requeue_expired(self, run_id: int) -> None:
        """Rows claimed by a process that died: their lease ran out, so they are due again."""
        async with self.database.transaction() as session:
            connection = await _core(session)
            await connection.execute(_REQUEUE, {"b_run_id": run_id, "now": self.clock()})

    async def _next_due(self, run_id: int) -> tuple[bool, datetime | None]:
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
                    Person.channel.in_(sorted(self.senders)),
                )
            )
            if await session.scalar(ours.where(Delivery.next_attempt_at.is_(None)).limit(1)):
                return True, self.clock()
            due = await session.scalar(select(func.min(ours.subquery().c.next_attempt_at)))
            return True, due

    async def _run_status(self, run_id: int) -> str | None:
        async with self.database.reader() as session:
            return await session.scalar(select(CampaignRun.status).where(CampaignRun.id == run_id))

    async def _load_progress(self, run_id: int) -> Progress | None:
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

    async def _write_stats(self, run_id: int, progress: Progress) -> None:
        async with self.database.transaction() as session:
            connection = await _core(session)
            await connection.execute(_STATS, {"b_run_id": run_id, "b_stats": progress.as_stats()})

    async def _finish(self, run_id: int, progress: Progress) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                update(CampaignRun)
                .where(CampaignRun.id == run_id, CampaignRun.status == "running")
                .values(status="done", finished_at=self.clock(), stats=progress.as_stats())
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


def _added(progress: Progress, delta: Progress) -> Progress:
    total = Progress(run_id=progress.run_id, recipients=progress.recipients)
    for name in ("sent", "failed", "blocked", "skipped", "throttled", "retries"):
        setattr(total, name, getattr(progress, name) + getattr(delta, name))
    return total

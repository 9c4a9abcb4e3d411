"""The broadcast sender: drains one run's Delivery rows at the platform's rate, exactly once each.

Recipients are claimed a page at a time from the run's rows (`bot.delivery.broadcast_store`,
which holds all of the SQL and the rows' lifecycle). Workers send concurrently through the
RateLimiter; a 429 (retry_after) or a transient error sends the row back to pending, due later
(with backoff), until `max_attempts`. Results are written in small batches, in order of
completion.

Memory does not depend on the number of recipients: one page of claimed recipients, a hand-off
queue of 2 × `concurrency`, the results not yet written, and statements built once.

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
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.delivery.broadcast_store import (
    BLOCKED,
    FAILED,
    RETRY,
    SENT,
    SKIPPED,
    BlockedHook,
    BroadcastStore,
    Clock,
    Progress,
    Recipient,
    Writes,
)
from bot.delivery.outbox import PermanentFailure, RetryLater, Sender, backoff_seconds
from bot.delivery.ratelimit import Monotonic, RateLimiter, Sleep
from bot.storage.db import Database
from bot.storage.models import utcnow

__all__ = [
    "BroadcastEngine",
    "BroadcastSender",
    "Continue",
    "DrainResult",
    "Progress",
    "ProgressHook",
    "Recipient",
    "RunContent",
]

log = logging.getLogger(__name__)

PER_CHAT_PER_SECOND = 1.0


def concurrency_for(rate: float) -> int:
    """Enough sends in flight to reach `rate` with ~250 ms platform latency, within reason."""
    return max(4, min(128, math.ceil(rate / 4)))


def flush_size_for(rate: float) -> int:
    return max(25, min(100, int(rate // 4)))


def batch_size_for(rate: float) -> int:
    return max(100, min(1000, int(rate * 10)))


class RunContent(Protocol):
    """What a run sends; rendering is cached by the implementation (per locale, per area)."""

    @property
    def topic(self) -> str: ...

    @property
    def urgent(self) -> bool: ...

    async def payload(self, recipient: Recipient) -> dict[str, Any]: ...


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
    # People who blocked us: told in the transaction that marks their deliveries `blocked`.
    on_blocked: BlockedHook
    clock: Clock = utcnow
    monotonic: Monotonic = time.monotonic
    sleep: Sleep = asyncio.sleep
    concurrency: int = 8
    batch_size: int = 500
    flush_size: int = 25
    lease: timedelta = timedelta(seconds=120)
    holder: str | None = None  # the process's heartbeat id, recorded on the rows it claims
    max_attempts: int = 6
    stats_every: float = 5.0  # seconds (monotonic) between progress writes to the run row
    on_progress: ProgressHook | None = None
    _flush_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _store: BroadcastStore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._store = BroadcastStore(
            self.database,
            self.senders.keys(),  # live: a channel attached later is claimed for too
            self.on_blocked,
            self.clock,
            batch_size=self.batch_size,
            lease=self.lease,
            holder=self.holder,
        )

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
        store = self._store
        progress = await store.load_progress(run_id)
        if progress is None:
            return DrainResult("missing")
        progress.started = self.monotonic()
        progress.sent_at_start = progress.sent
        while True:
            run_status = await store.run_status(run_id)
            if run_status != "running":
                return DrainResult("cancelled" if run_status == "cancelled" else "missing")
            await store.requeue_expired(run_id)
            outcome = await self._pass(run_id, content, progress, held_until, should_continue)
            await store.write_stats(run_id, progress.as_stats())
            if outcome.status in {"held", "stopped"}:
                return DrainResult(outcome.status, progress, outcome.until)
            unfinished, next_due = await store.next_due(run_id)
            if not unfinished:
                await store.finish(run_id, progress.as_stats())
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
                page = await self._store.claim(run_id, content.topic, last_id)
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
                    await self._flush(results, progress)

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
        await self._flush(results, progress, final=True)
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

    # -- writing results -----------------------------------------------------------------------

    async def _flush(
        self, results: list[_Outcome], progress: Progress, *, final: bool = False
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
        """Decide what each outcome means for its row (final, retry later, give up), write
        the batch, and count it into `progress`."""
        writes = Writes(progress.run_id, self.clock())
        delta = Progress(run_id=progress.run_id, recipients=0)
        for outcome in batch:
            recipient = outcome.recipient
            if outcome.kind != RETRY:
                writes.final[outcome.kind].append(recipient.delivery_id)
                if outcome.kind == BLOCKED:
                    writes.blocked_people.append(recipient.person_id)
                if outcome.kind in (FAILED, BLOCKED):
                    error = {"delivery_id": recipient.delivery_id, "error": outcome.error}
                    writes.errors.append(error)
                continue
            tries = recipient.attempts + 1
            delta.throttled += outcome.retry_after is not None
            row = {"delivery_id": recipient.delivery_id, "tries": tries, "error": outcome.error}
            if tries >= self.max_attempts:
                delta.failed += 1
                writes.give_ups.append(row)
            else:
                delta.retries += 1
                delay = outcome.retry_after
                if delay is None:
                    delay = backoff_seconds(tries)
                row["due"] = writes.now + timedelta(seconds=delay)
                writes.retries.append(row)
        delta.sent = len(writes.final[SENT])
        delta.failed += len(writes.final[FAILED])
        delta.blocked = len(writes.final[BLOCKED])
        delta.skipped = len(writes.final[SKIPPED])

        def stats_due() -> dict[str, Any] | None:
            """The run's stats with this batch in, every `stats_every` seconds."""
            moment = self.monotonic()
            if moment - progress.stats_written < self.stats_every:
                return None
            progress.stats_written = moment
            return _added(progress, delta).as_stats()

        await self._store.record(writes, stats_due)
        for name in ("sent", "failed", "blocked", "skipped", "throttled", "retries"):
            setattr(progress, name, getattr(progress, name) + getattr(delta, name))


def _added(progress: Progress, delta: Progress) -> Progress:
    total = Progress(run_id=progress.run_id, recipients=progress.recipients)
    for name in ("sent", "failed", "blocked", "skipped", "throttled", "retries"):
        setattr(total, name, getattr(progress, name) + getattr(delta, name))
    return total


@dataclass
class BroadcastEngine:
    """The broadcast side of one process, built by the composition root and handed to the
    outreach service as the thing it calls to drain a run.

    It holds a limiter per channel, made on first use and shared by every run of the process
    (the platform's limit is per bot, not per run), and tunes each run's BroadcastSender from
    the rate. A fresh sender per drain, as `on_progress` is the caller's at the time.
    """

    database: Database
    senders: Mapping[str, Sender]
    rate: float  # messages per second, over all chats
    # People who blocked us: told in the transaction that marks their deliveries `blocked`.
    on_blocked: BlockedHook
    clock: Clock = utcnow
    monotonic: Monotonic = time.monotonic
    sleep: Sleep = asyncio.sleep
    # The process's heartbeat id: the rows it claims name it, so they are taken back at once
    # should it die (`bot.services.processes`). None: no heartbeat, the lease alone.
    holder: str | None = None
    _limiters: dict[str, RateLimiter] = field(default_factory=dict, repr=False)

    def limiter_for(self, channel: str) -> RateLimiter:
        """The channel's limiter, made on first use and shared by every run of this process."""
        limiter = self._limiters.get(channel)
        if limiter is None:
            limiter = RateLimiter(
                self.rate,
                per_chat_per_second=PER_CHAT_PER_SECOND,
                monotonic=self.monotonic,
                sleep=self.sleep,
            )
            self._limiters[channel] = limiter
        return limiter

    def sender(self, on_progress: ProgressHook | None = None) -> BroadcastSender:
        return BroadcastSender(
            self.database,
            self.senders,
            self.limiter_for,
            on_blocked=self.on_blocked,
            clock=self.clock,
            monotonic=self.monotonic,
            sleep=self.sleep,
            concurrency=concurrency_for(self.rate),
            flush_size=flush_size_for(self.rate),
            batch_size=batch_size_for(self.rate),
            holder=self.holder,
            on_progress=on_progress,
        )

    async def drain(
        self,
        run_id: int,
        content: RunContent,
        *,
        held_until: Callable[[], datetime | None] = lambda: None,
        should_continue: Continue | None = None,
        max_retry_wait: float = 10.0,
        on_progress: ProgressHook | None = None,
    ) -> DrainResult:
        """`BroadcastSender.drain` on a sender tuned for this process (see there)."""
        return await self.sender(on_progress).drain(
            run_id,
            content,
            held_until=held_until,
            should_continue=should_continue,
            max_retry_wait=max_retry_wait,
        )

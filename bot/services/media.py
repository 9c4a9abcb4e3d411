"""The media fetcher: every photo and voice message of a case is downloaded into the store.

A report's transaction only writes `CasePhoto` rows (pending, due at once); this fetcher does
the rest, outside any chat's transaction, so nothing a person waits for depends on a download.
It claims due rows (a lease: a process that dies mid-fetch leaves them to the next claim; on
PostgreSQL with FOR UPDATE SKIP LOCKED), downloads each through its channel's `MediaSource`,
checks the size and the type by the first bytes, keeps the file in the content-addressed store
and records the outcome on the row: stored (with its SHA-256), refused (too large, or not a type
Jingtu keeps — never written to the store), failed (the platform no longer has the file, or
every attempt failed), or pending again with the outbox's backoff and the error.

Photos shown in a notice before they were stored reached only chats on their own channel
(`notices.photos_for`). Once stored they can go anywhere, so in the same transaction as the
record the fetcher stages them for the chats that went without: the supervisors of the case's
cell for a report's photos, the reporters for a resolution's.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.outbox import Envelope, add_to_outbox, backoff_seconds
from bot.services import case_queries, notices
from bot.storage.db import Database, insert_ignore
from bot.storage.media_store import (
    IMAGE_TYPES,
    MediaSource,
    MediaStore,
    MediaUnavailable,
    allowed_types,
    sniff_type,
)
from bot.storage.models import Case, CasePhoto, Media, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    case_id: int
    kind: str
    channel: str
    file_ref: str
    attempts: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: str  # stored | refused | failed | retry
    error: str = ""
    sha256: str | None = None
    mime_type: str | None = None
    size: int = 0


def describe_bytes(data: bytes) -> str:
    return data[:8].hex(" ") if data else "nothing"


class MediaFetcher:
    """Downloads pending case media into the store, a batch at a time."""

    def __init__(
        self,
        database: Database,
        store: MediaStore,
        sources: Mapping[str, MediaSource],
        settings: Settings,
        *,
        clock: Clock = utcnow,
        on_notified: Callable[[], None] | None = None,
        max_attempts: int = 8,
        batch_size: int = 20,
        concurrency: int = 4,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.database = database
        self.store = store
        self.sources = sources
        self.settings = settings
        self.clock = clock
        self.on_notified = on_notified
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease = lease
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """New media may be waiting: fetch now rather than at the next interval."""
        self._wake.set()

    async def fetch_due(self) -> int:
        """Claim, fetch and record one batch; returns how many rows were tried."""
        claimed = await self.claim_due()
        if not claimed:
            return 0
        limiter = asyncio.Semaphore(self.concurrency)

        async def one(row: _Claimed) -> _Outcome:
            async with limiter:
                return await self._fetch(row)

        outcomes = await asyncio.gather(*(one(row) for row in claimed))
        await self._record(list(zip(claimed, outcomes, strict=True)))
        return len(claimed)

    async def fetch_until_done(self, max_rounds: int = 100) -> int:
        total = 0
        for _ in range(max_rounds):
            tried = await self.fetch_due()
            total += tried
            if tried == 0:
                break
        return total

    async def run(self, stop: asyncio.Event, *, interval: float = 30.0) -> None:
        """Fetch at start, when poked, and every `interval` seconds (retries come due)."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.fetch_until_done()
            except Exception:
                log.exception("media fetch failed; will try again")
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=interval, return_when="FIRST_COMPLETED")
            for task in (waiter, stopper):
                task.cancel()

    # --- the three steps ---------------------------------------------------------------------

    async def claim_due(self) -> list[_Claimed]:
        """Lease the due rows to this process (a crash leaves them to the next claim, later)."""
        now = self.clock()
        async with self.database.transaction() as session:
            query = (
                select(CasePhoto)
                .where(
                    CasePhoto.next_fetch_at <= now,
                    CasePhoto.fetch_status == "pending",
                    CasePhoto.channel.in_(sorted(self.sources)),
                )
                .order_by(CasePhoto.next_fetch_at, CasePhoto.id)
                .limit(self.batch_size)
            )
            if self.database.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.scalars(query)).all())
            if rows:
                await session.execute(
                    update(CasePhoto)
                    .where(CasePhoto.id.in_([r.id for r in rows]))
                    .values(next_fetch_at=now + self.lease)
                )
            return [
                _Claimed(r.id, r.case_id, r.kind, r.channel, r.file_ref, r.fetch_attempts)
                for r in rows
            ]

    async def _fetch(self, row: _Claimed) -> _Outcome:
        limit = self.settings.media_max_bytes
        try:
            data = await self.sources[row.channel].fetch(row.file_ref, max_bytes=limit)
        except MediaUnavailable as exc:
            status = "refused" if exc.refused else "failed" if exc.final else "retry"
            return _Outcome(status, str(exc)[:400])
        except Exception as exc:  # an unexpected failure is tried again, never lost
            log.exception("media %s: unexpected fetch failure", row.id)
            return _Outcome("retry", f"{type(exc).__name__}: {exc}"[:400])
        if len(data) > limit:
            return _Outcome("refused", f"{len(data)} bytes, over the limit of {limit}")
        mime_type = sniff_type(data)
        wanted = allowed_types(row.kind)
        if mime_type not in wanted:
            what = mime_type or f"unknown (first bytes {describe_bytes(data)})"
            kinds = ", ".join(sorted(wanted))
            return _Outcome("refused", f"type {what}, not one kept for {row.kind}: {kinds}")
        try:
            sha256 = await self.store.put(data)
        except OSError as exc:
            log.error("media %s: could not write to the store: %s", row.id, exc)
            return _Outcome("retry", f"store: {type(exc).__name__}: {exc}"[:400])
        return _Outcome("stored", sha256=sha256, mime_type=mime_type, size=len(data))

    async def _record(self, results: list[tuple[_Claimed, _Outcome]]) -> None:
        now = self.clock()
        async with self.database.transaction() as session:
            for row, outcome in results:
                tries = row.attempts + 1
                values: dict[str, object] = {"fetch_attempts": tries, "fetch_error": outcome.error}
                if outcome.status == "stored":
                    assert outcome.sha256 is not None and outcome.mime_type is not None
                    await insert_ignore(
                        session,
                        Media,
                        {
                            "sha256": outcome.sha256,
                            "mime_type": outcome.mime_type,
                            "size": outcome.size,
                            "created_at": now,
                        },
                    )
                    values.update(sha256=outcome.sha256, fetch_status="stored", next_fetch_at=None)
                elif outcome.status == "retry" and tries < self.max_attempts:
                    values["next_fetch_at"] = now + timedelta(seconds=backoff_seconds(tries))
                else:
                    status = "failed" if outcome.status == "retry" else outcome.status
                    values.update(fetch_status=status, next_fetch_at=None)
                    log.warning("media %s (%s) %s: %s", row.id, row.channel, status, outcome.error)
                await session.execute(
                    update(CasePhoto)
                    .where(CasePhoto.id == row.id, CasePhoto.fetch_status == "pending")
                    .values(**values)
                )
            stored = [
                (row, outcome)
                for row, outcome in results
                if outcome.status == "stored" and outcome.mime_type in IMAGE_TYPES
            ]
            envelopes = await self._photos_that_follow(session, stored)
            await add_to_outbox(session, envelopes, now=now)
        if envelopes and self.on_notified is not None:
            self.on_notified()

    async def _photos_that_follow(
        self, session: AsyncSession, stored: list[tuple[_Claimed, _Outcome]]
    ) -> list[Envelope]:
        """The newly stored photos, for the chats their first notice could not show them to."""
        by_case: dict[tuple[int, str], list[tuple[_Claimed, _Outcome]]] = defaultdict(list)
        for row, outcome in stored:
            by_case[(row.case_id, row.kind)].append((row, outcome))
        envelopes: list[Envelope] = []
        for (case_id, kind), items in sorted(by_case.items()):
            case = await session.get(Case, case_id)
            if case is None:
                continue
            photos = [notices.PhotoRef(r.channel, r.file_ref, o.sha256) for r, o in items]
            channels = {r.channel for r, _ in items}
            chats: list[notices.Chat]
            if kind == "resolution":
                reporters = await case_queries.reporter_chats(session, case_id)
                chats = [notices.Chat(c.channel, c.chat_id, c.locale) for c in reporters]
            else:
                supervisors = await case_queries.supervisor_chats(
                    session, [case.cell_code], once_per_chat=True
                )
                chats = [notices.Chat(c.channel, c.chat_id, c.locale) for c in supervisors]
            envelopes += notices.case_photos_envelopes(
                number=case.number,
                case_id=case_id,
                kind=kind,
                photos=photos,
                chats=[c for c in chats if c.channel not in channels],
                default_locale=self.settings.default_locale,
                dedupe=f"{items[0][0].id}+{len(items)}",
            )
        return envelopes

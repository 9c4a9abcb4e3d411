"""Outreach at run time: fire due schedules, prepare runs and drain them, in exactly one process.

One leader lease ("outreach") decides which process fires schedules and sends broadcasts, so the
platform's rate limit is shared by nobody else; the unique CampaignRun.fire_key guarantees a fire
time becomes one run even if two processes ever both believed they led. A run left `preparing` or
`running` by a process that stopped is picked up by whichever process leads next.

The sending itself (rate limits, retries, concurrency) is the broadcast engine in
`bot.delivery.broadcast`, which the composition root builds and hands in as a `Broadcaster`:
this module knows only the shapes it reads back (`Progress`, `DrainResult`, `Recipient`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.message import Reply
from bot.domain.grid import GridIndex
from bot.domain.outreach import Campaign, CampaignError, QuietHours
from bot.services import campaigns, leader
from bot.services.campaigns import Target
from bot.storage.db import Database
from bot.storage.models import CampaignRun, Case, utcnow
from messages import normalize_locale

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]
LEASE_NAME = "outreach"
LEASE = timedelta(seconds=30)


# -- what the service reads of the broadcast engine: shapes, not its types ----------------------
# The engine (`bot.delivery.broadcast`) is built by the composition root and handed in as a
# `Broadcaster`; its recipients, progress and results fit these Protocols.


class Recipient(Protocol):
    """One recipient as the content reads it, to render in their language (and area)."""

    @property
    def locale(self) -> str | None: ...

    @property
    def area(self) -> str | None: ...


class Progress(Protocol):
    """A run's progress while it is drained (read for logs and progress bars)."""

    @property
    def run_id(self) -> int: ...

    @property
    def recipients(self) -> int: ...

    @property
    def sent(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def blocked(self) -> int: ...

    @property
    def skipped(self) -> int: ...

    @property
    def done(self) -> int: ...

    @property
    def remaining(self) -> int: ...

    @property
    def rate(self) -> float: ...

    @property
    def eta_seconds(self) -> float | None: ...


class DrainResult(Protocol):
    @property
    def status(self) -> str: ...  # done | held | waiting | stopped | cancelled | missing

    @property
    def progress(self) -> Progress | None: ...

    @property
    def until(self) -> datetime | None: ...  # held or waiting until


ProgressHook = Callable[[Progress], None]


class Broadcaster(Protocol):
    """The port the service drains a run through: the broadcast engine, rate limits and all."""

    async def drain(
        self,
        run_id: int,
        content: CampaignContent,
        *,
        held_until: Callable[[], datetime | None],
        should_continue: Callable[[], Awaitable[bool]],
        max_retry_wait: float,
        on_progress: ProgressHook | None,
    ) -> DrainResult: ...


@dataclass(frozen=True)
class Undrained:
    """A run the service did not hand to the broadcaster (it is gone, or cannot be sent)."""

    status: str
    progress: Progress | None = None
    until: datetime | None = None


@dataclass
class CampaignContent:
    """A run's message, rendered once per (locale) — or per (locale, area) for the digest."""

    campaign: Campaign
    run_params: dict[str, Any]
    database: Database
    grid: Callable[[], GridIndex]
    default_locale: str
    tz_name: str
    _cache: dict[tuple[str, str | None], dict[str, Any]] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return self.campaign.topic

    @property
    def urgent(self) -> bool:
        return self.campaign.urgent

    async def payload(self, recipient: Recipient) -> dict[str, Any]:
        locale = normalize_locale(recipient.locale, self.default_locale)
        area = recipient.area if self.campaign.kind == "digest" else None
        key = (locale, area)
        cached = self._cache.get(key)
        if cached is None:
            values = dict(self.run_params)
            if self.campaign.kind == "digest":
                values.update(await self._digest_values(locale, area))
            text = self.campaign.render(locale, values)
            photos = (self.campaign.photo,) if self.campaign.photo else ()
            cached = Reply(text, photos=photos).to_payload()
            if len(self._cache) < 10_000:  # bounded by locales × cells, but stay safe
                self._cache[key] = cached
        return cached

    async def _digest_values(self, locale: str, area: str | None) -> dict[str, Any]:
        from zoneinfo import ZoneInfo

        start = datetime.fromisoformat(self.run_params["week_start"])
        end = datetime.fromisoformat(self.run_params["week_end"])
        received = select(func.count()).select_from(Case).where(Case.merged_into_id.is_(None))
        if area:
            received = received.where(Case.origin_cell_code.in_(campaigns.subtree_codes(area)))
        resolved = received.where(Case.resolved_at >= start, Case.resolved_at < end)
        received = received.where(Case.created_at >= start, Case.created_at < end)
        async with self.database.reader() as session:
            n_received = int(await session.scalar(received) or 0)
            n_resolved = int(await session.scalar(resolved) or 0)
        grid = self.grid()
        cell = grid.cells.get(area) if area else None
        if cell is None:
            from bot.domain.grid import Level

            cities = grid.at_level(Level.CITY)
            cell = cities[0] if cities else None
        tz = ZoneInfo(self.tz_name)
        return {
            "area": cell.names.for_locale(locale) if cell else "—",
            "received": n_received,
            "resolved": n_resolved,
            "week_start": start.astimezone(tz).strftime("%Y-%m-%d"),
            "week_end": (end.astimezone(tz) - timedelta(seconds=1)).strftime("%Y-%m-%d"),
        }


class ProgressLog:
    """Log lines while sending: sent, failed, blocked, remaining, ETA (every `every` seconds)."""

    def __init__(self, every: float = 10.0, monotonic: Monotonic = time.monotonic) -> None:
        self.every = every
        self.monotonic = monotonic
        self._last = -math.inf

    def __call__(self, progress: Progress) -> None:
        now = self.monotonic()
        if now - self._last < self.every and progress.remaining:
            return
        self._last = now
        log.info("run %s: %s", progress.run_id, describe(progress))


def describe(progress: Progress) -> str:
    eta = progress.eta_seconds
    return (
        f"sent {progress.sent}, failed {progress.failed}, blocked {progress.blocked}, "
        f"skipped {progress.skipped}, remaining {progress.remaining}, "
        f"{progress.rate:.1f}/s, ETA {format_duration(eta)}"
    )


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class OutreachService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        broadcaster: Broadcaster,
        *,
        grid: Callable[[], GridIndex],
        clock: Clock = utcnow,
        monotonic: Monotonic = time.monotonic,
        stopping: Callable[[], bool] = lambda: False,
        holder: str | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.broadcaster = broadcaster
        self.grid = grid
        self.clock = clock
        self.monotonic = monotonic
        self.stopping = stopping
        self.holder = holder or leader.process_identity()
        self.quiet = QuietHours.parse(settings.quiet_hours)
        self.on_progress: ProgressHook = ProgressLog(monotonic=monotonic)
        self._task: asyncio.Task[None] | None = None
        self._lease_checked = -math.inf
        self.token: int | None = None  # the lease's fencing token while this process leads

    # -- leadership ----------------------------------------------------------------------------

    async def lead(self) -> bool:
        """Take or renew the scheduler lease; the fencing token is kept for `fire_due`."""
        self.token = await leader.acquire(
            self.database, LEASE_NAME, self.holder, now=self.clock(), lease=LEASE
        )
        return self.token is not None

    async def still_leading(self) -> bool:
        """Renew the lease now and then while sending; stop when asked or when it is lost."""
        if self.stopping():
            return False
        now = self.monotonic()
        if now - self._lease_checked < LEASE.total_seconds() / 3:
            return True
        self._lease_checked = now
        return await self.lead()

    async def release(self) -> None:
        await leader.release(self.database, LEASE_NAME, self.holder, now=self.clock())

    # -- the periodic job ----------------------------------------------------------------------

    async def tick(self) -> None:
        """The periodic job: lead, fire what is due, and keep one drain task going."""
        if not await self.lead():
            return
        self._lease_checked = self.monotonic()
        await self.fire_due()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain_in_background())

    async def _drain_in_background(self) -> None:
        try:
            await self.drain_open_runs()
        except Exception:
            log.exception("broadcast drain failed; the next tick starts it again")

    async def run_once(self, *, max_retry_wait: float = 10.0) -> dict[int, DrainResult]:
        """Fire and drain in the caller's task (tests, the CLI); None of it if not leading."""
        if not await self.lead():
            return {}
        self._lease_checked = self.monotonic()
        await self.fire_due()
        return await self.drain_open_runs(max_retry_wait=max_retry_wait)

    async def fire_due(self) -> list[int]:
        """Fire the due schedules, as the leader (taking the lease first if this process has
        not); fenced by the lease's token, so a process that lost the lease fires nothing."""
        if self.token is None and not await self.lead():
            return []
        grace = timedelta(minutes=self.settings.campaign_misfire_grace_minutes)
        now, token = self.clock(), self.token

        async def still_ours(session: AsyncSession) -> None:
            await leader.fence(session, LEASE_NAME, self.holder, token, now=now)

        try:
            created = await campaigns.fire_due_schedules(
                self.database, now=now, tz=self.settings.tz, grace=grace, fence=still_ours
            )
        except leader.LeaseLost as exc:
            log.warning("no schedule fired: %s", exc)
            return []
        for run_id in created:
            log.info("schedule fired: run %s created", run_id)
        return created

    async def drain_open_runs(self, *, max_retry_wait: float = 10.0) -> dict[int, DrainResult]:
        results: dict[int, DrainResult] = {}
        for run_id in await campaigns.open_runs(self.database):
            if not await self.still_leading():
                break
            results[run_id] = await self.drain_run(run_id, max_retry_wait=max_retry_wait)
        return results

    async def drain_run(self, run_id: int, *, max_retry_wait: float = 10.0) -> DrainResult:
        async with self.database.reader() as session:
            run = await session.get(CampaignRun, run_id)
            if run is None:
                return Undrained("missing")
            status, campaign_id, params = run.status, run.campaign_id, dict(run.params)
        if status == "preparing":
            await campaigns.prepare_run(
                self.database,
                run_id,
                default_locale=self.settings.default_locale,
                now=self.clock(),
            )
        try:
            campaign = campaigns.get_campaign(campaign_id)
        except CampaignError as exc:
            log.error("run %s cannot be sent: %s", run_id, exc)
            return Undrained("missing")
        content = CampaignContent(
            campaign,
            params,
            self.database,
            self.grid,
            self.settings.default_locale,
            self.settings.timezone,
        )
        result = await self.broadcaster.drain(
            run_id,
            content,
            held_until=self.held_until,
            should_continue=self.still_leading,
            max_retry_wait=max_retry_wait,
            on_progress=self.on_progress,
        )
        if result.status == "held" and result.until is not None:
            log.info("run %s held by quiet hours until %s", run_id, result.until.isoformat())
        elif result.status == "done" and result.progress is not None:
            log.info("run %s done: %s", run_id, describe(result.progress))
        return result

    def held_until(self) -> datetime | None:
        now = self.clock()
        end = self.quiet.ends_after(now, self.settings.tz)
        return end if end > now else None

    # -- starting a run by hand ------------------------------------------------------------------

    async def start_run(self, request: campaigns.RunRequest) -> tuple[int, int]:
        """Create a run for the request now; (run id, recipients). Refuses an empty audience."""
        async with self.database.transaction() as session:
            await campaigns.check_target(session, request.target)
            count = await campaigns.count_audience(
                session, request.target, default_locale=self.settings.default_locale
            )
            if count == 0:
                raise CampaignError(_empty_audience(request.target))
            run_id = await campaigns.create_run(session, request, now=self.clock())
            assert run_id is not None
        await campaigns.prepare_run(
            self.database, run_id, default_locale=self.settings.default_locale, now=self.clock()
        )
        return run_id, count


def _empty_audience(target: Target) -> str:
    parts = [f"topic {target.topic}"]
    if target.area:
        parts.append(f"area {target.area}")
    if target.locale:
        parts.append(f"locale {target.locale}")
    return (
        f"nobody is subscribed to {', '.join(parts)}; nothing was sent "
        f"(check --topic/--area/--locale)"
    )

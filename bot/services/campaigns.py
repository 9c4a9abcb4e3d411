"""The campaign library, audiences, runs and schedules: what an operator (or the clock) asks for.

A run moves preparing → running → done, or → cancelled. Preparing inserts one Delivery per
recipient with INSERT … SELECT in keyset chunks (nothing is loaded into memory, and a crash
mid-way just continues from the last person inserted). Schedules are rows; `fire_due_schedules`
turns the due ones into runs. Misfire policy: a fire time missed while no process was running
fires once if it is at most `grace` old, otherwise it is skipped; either way the schedule moves
on to its next fire time after now, so a long outage never causes a burst of runs.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Select, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.outreach import TOPICS, Campaign, CampaignError, standard_cron
from bot.storage.db import Database, insert_ignore
from bot.storage.models import (
    CampaignRun,
    CampaignSchedule,
    Delivery,
    GridCell,
    Person,
    Subscription,
)
from messages import CATALOG_DIR, LOCALES

log = logging.getLogger(__name__)

LIBRARY_DIR = CATALOG_DIR / "campaigns"
PREPARE_CHUNK = 20_000
OPEN_STATUSES = ("preparing", "running")
# Delivery statuses: pending → sending (claimed, with a lease) → sent | failed | blocked | skipped
DONE_STATUSES = ("sent", "failed", "blocked", "skipped", "cancelled")


# --- the library --------------------------------------------------------------------------------


@cache
def load_library(directory: Path = LIBRARY_DIR) -> dict[str, Campaign]:
    """Every campaign file, by id (the file name without .toml); a bad file raises CampaignError."""
    campaigns: dict[str, Campaign] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CampaignError(f"{path.name}: not valid TOML: {exc}") from None
        campaigns[path.stem] = Campaign.from_mapping(path.stem, data)
    return campaigns


def get_campaign(campaign_id: str, library: Mapping[str, Campaign] | None = None) -> Campaign:
    library = load_library() if library is None else library
    campaign = library.get(campaign_id)
    if campaign is None:
        known = ", ".join(sorted(library)) or "none"
        raise CampaignError(f"unknown campaign {campaign_id!r} (the library has: {known})")
    return campaign


# --- audiences ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Who a run reaches: subscribers of `topic`, optionally within `area` and in `locale`."""

    topic: str
    area: str | None = None
    locale: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "area": self.area, "locale": self.locale}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        return cls(str(data["topic"]), data.get("area"), data.get("locale"))


def subtree_codes(area: str) -> Select[Any]:
    """The cell and everything under it (a recursive CTE: portable and index-friendly)."""
    tree = select(GridCell.code).where(GridCell.code == area).cte("subtree", recursive=True)
    tree = tree.union_all(select(GridCell.code).where(GridCell.parent_code == tree.c.code))
    return select(tree.c.code)


def audience(target: Target, *, default_locale: str) -> Select[Any]:
    query = (
        select(Subscription.person_id)
        .join(Person, Person.id == Subscription.person_id)
        .where(Subscription.topic == target.topic, Person.reachable.is_(True))
    )
    if target.area:
        query = query.where(Subscription.area_cell_code.in_(subtree_codes(target.area)))
    if target.locale:
        query = query.where(func.coalesce(Person.locale, default_locale) == target.locale)
    return query


async def check_target(session: AsyncSession, target: Target) -> None:
    if target.topic not in TOPICS:
        raise CampaignError(f"unknown topic {target.topic!r} (topics: {', '.join(TOPICS)})")
    if target.locale is not None and target.locale not in LOCALES:
        raise CampaignError(f"unknown locale {target.locale!r} (locales: {', '.join(LOCALES)})")
    if target.area is not None and await session.get(GridCell, target.area) is None:
        raise CampaignError(
            f"unknown grid cell {target.area!r}; `python -m bot route LAT LON` finds a cell code"
        )


async def count_audience(session: AsyncSession, target: Target, *, default_locale: str) -> int:
    sub = audience(target, default_locale=default_locale).subquery()
    return int(await session.scalar(select(func.count()).select_from(sub)) or 0)


# --- runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    campaign: Campaign
    target: Target
    params: dict[str, str]


def build_request(
    campaign_id: str,
    *,
    topic: str | None = None,
    area: str | None = None,
    locale: str | None = None,
    params: Mapping[str, str] | None = None,
    library: Mapping[str, Campaign] | None = None,
) -> RunRequest:
    campaign = get_campaign(campaign_id, library)
    resolved = campaign.resolve_params(params or {})
    return RunRequest(campaign, Target(topic or campaign.topic, area, locale), resolved)


async def create_run(
    session: AsyncSession,
    request: RunRequest,
    *,
    now: datetime,
    schedule_id: int | None = None,
    fire_key: str | None = None,
) -> int | None:
    """A new run in `preparing`; None when `fire_key` was already used (fired elsewhere)."""
    params: dict[str, Any] = dict(request.params)
    if request.campaign.kind == "digest":
        params["week_start"] = (now - timedelta(days=7)).isoformat()
        params["week_end"] = now.isoformat()
    values = {
        "campaign_id": request.campaign.id,
        "schedule_id": schedule_id,
        "fire_key": fire_key,
        "status": "preparing",
        "target": request.target.to_json(),
        "params": params,
        "stats": {},
        "created_at": now,
    }
    if fire_key is None:
        run = CampaignRun(**values)
        session.add(run)
        await session.flush()
        return run.id
    if not await insert_ignore(session, CampaignRun, values):
        return None
    return await session.scalar(select(CampaignRun.id).where(CampaignRun.fire_key == fire_key))


async def prepare_run(
    database: Database, run_id: int, *, default_locale: str, now: datetime
) -> int:
    """Insert the run's deliveries in chunks, then mark it running; returns the recipient count.

    Each chunk is its own short transaction (SQLite has one writer; the chat must not wait), and
    continues after the highest person already inserted, so this is safe to resume. Two
    processes may prepare the same run at once (`campaign send-now` and the leader's drain): each
    chunk first locks the run's row, so the second preparer waits, then continues after what the
    first inserted, or finds the run already prepared.
    """
    async with database.reader() as session:
        run = await session.get(CampaignRun, run_id)
        if run is None or run.status != "preparing":
            return 0
        target = Target.from_json(run.target)
    source = audience(target, default_locale=default_locale)
    while True:
        async with database.transaction() as session:
            if not await _lock_preparing(database, session, run_id):
                break
            last = await session.scalar(
                select(func.max(Delivery.person_id)).where(Delivery.run_id == run_id)
            )
            chunk = (
                source.with_only_columns(
                    literal(run_id),
                    Subscription.person_id,
                    literal("pending"),
                    literal(0),
                    literal(""),
                )
                .where(Subscription.person_id > (last or 0))
                .order_by(Subscription.person_id)
                .limit(PREPARE_CHUNK)
            )
            result = await session.execute(
                insert(Delivery).from_select(
                    ["run_id", "person_id", "status", "attempts", "last_error"], chunk
                )
            )
            inserted = int(getattr(result, "rowcount", 0) or 0)
        if inserted < PREPARE_CHUNK:
            break
    async with database.transaction() as session:
        total = int(
            await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.run_id == run_id)
            )
            or 0
        )
        await session.execute(
            update(CampaignRun)
            .where(CampaignRun.id == run_id, CampaignRun.status == "preparing")
            .values(status="running", started_at=now, stats={"recipients": total})
        )
    return total


async def _lock_preparing(database: Database, session: AsyncSession, run_id: int) -> bool:
    """Whether the run is still `preparing`, holding its row lock (on PostgreSQL) till commit.

    SQLite needs no lock: its single writer already serialises the chunk transactions."""
    query = select(CampaignRun.status).where(CampaignRun.id == run_id)
    if database.is_postgres:
        query = query.with_for_update()
    return await session.scalar(query) == "preparing"


async def delivery_counts(session: AsyncSession, run_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.run_id == run_id)
        .group_by(Delivery.status)
    )
    return {str(status): int(n) for status, n in rows.all()}


async def open_runs(database: Database) -> list[int]:
    async with database.reader() as session:
        ids = await session.scalars(
            select(CampaignRun.id)
            .where(CampaignRun.status.in_(OPEN_STATUSES))
            .order_by(CampaignRun.id)
        )
        return list(ids.all())


async def list_runs(database: Database, *, limit: int = 30) -> list[CampaignRun]:
    async with database.reader() as session:
        rows = await session.scalars(
            select(CampaignRun).order_by(CampaignRun.id.desc()).limit(limit)
        )
        return list(rows.all())


async def cancel_run(database: Database, run_id: int, *, now: datetime) -> int:
    """Stop a run: its unsent deliveries are cancelled; returns how many."""
    async with database.transaction() as session:
        run = await session.get(CampaignRun, run_id)
        if run is None:
            raise CampaignError(f"there is no run {run_id}; `campaign runs` lists them")
        if run.status not in OPEN_STATUSES:
            raise CampaignError(f"run {run_id} is already {run.status}; nothing to cancel")
        result = await session.execute(
            update(Delivery)
            .where(Delivery.run_id == run_id, Delivery.status.in_(("pending", "sending")))
            .values(status="cancelled")
        )
        run.status = "cancelled"
        run.finished_at = now
        run.stats = {**run.stats, **await delivery_counts(session, run_id)}
        return int(getattr(result, "rowcount", 0) or 0)


# --- schedules ----------------------------------------------------------------------------------


def cron_trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(standard_cron(expr), timezone=tz)
    except ValueError as exc:
        raise CampaignError(
            f'bad cron expression {expr!r}: {exc} (five fields: minute hour day month weekday, e.g. "0 9 * * MON")'
        ) from None


def next_fire_time(
    cron: str | None, run_at: datetime | None, *, after: datetime, tz: ZoneInfo
) -> datetime | None:
    """The first fire time strictly after `after` (UTC), or None when there is none."""
    if cron:
        fire = cron_trigger(cron, tz).get_next_fire_time(None, after + timedelta(microseconds=1))
        return None if fire is None else fire.astimezone(after.tzinfo)
    if run_at is not None and run_at > after:
        return run_at
    return None


def first_fire_time(
    *, cron: str | None, run_at: datetime | None, now: datetime, tz: ZoneInfo
) -> datetime:
    """Validate when a schedule fires; its first fire time after now."""
    if (cron is None) == (run_at is None):
        raise CampaignError("give exactly one of --cron or --at")
    if run_at is not None and run_at <= now:
        local = run_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise CampaignError(f"--at {local} ({tz.key}) is in the past; give a future time")
    first = next_fire_time(cron, run_at, after=now, tz=tz)
    if first is None:
        raise CampaignError(f"cron expression {cron!r} never fires after now")
    return first


async def add_schedule(
    session: AsyncSession,
    request: RunRequest,
    *,
    cron: str | None,
    run_at: datetime | None,
    now: datetime,
    tz: ZoneInfo,
) -> CampaignSchedule:
    first = first_fire_time(cron=cron, run_at=run_at, now=now, tz=tz)
    schedule = CampaignSchedule(
        campaign_id=request.campaign.id,
        cron=cron,
        run_at=run_at,
        target=request.target.to_json(),
        params=request.params,
        next_fire_at=first,
        active=True,
        created_at=now,
    )
    session.add(schedule)
    await session.flush()
    return schedule


async def list_schedules(database: Database) -> list[CampaignSchedule]:
    async with database.reader() as session:
        rows = await session.scalars(
            select(CampaignSchedule)
            .where(CampaignSchedule.active.is_(True))
            .order_by(CampaignSchedule.id)
        )
        return list(rows.all())


async def unschedule(database: Database, schedule_id: int) -> None:
    async with database.transaction() as session:
        schedule = await session.get(CampaignSchedule, schedule_id)
        if schedule is None or not schedule.active:
            raise CampaignError(f"there is no active schedule {schedule_id}; `campaign list`")
        schedule.active = False
        schedule.next_fire_at = None


def fire_key(schedule_id: int, fire_at: datetime) -> str:
    return f"schedule:{schedule_id}:{fire_at.strftime('%Y%m%dT%H%M%SZ')}"


async def fire_due_schedules(
    database: Database,
    *,
    now: datetime,
    tz: ZoneInfo,
    grace: timedelta,
    library: Mapping[str, Campaign] | None = None,
    fence: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> list[int]:
    """Turn due schedules into runs (see the misfire policy above); returns the new run ids.

    Safe in several processes at once: rows are locked (SKIP LOCKED on PostgreSQL) and each run
    carries a unique fire_key, so a fire time becomes at most one run whatever happens. `fence`
    (the leader's lease check, `leader.fence`) runs first in the same transaction: a process
    that lost the lease meanwhile raises there and fires nothing.
    """
    created: list[int] = []
    async with database.transaction() as session:
        if fence is not None:
            await fence(session)
        query = (
            select(CampaignSchedule)
            .where(CampaignSchedule.active.is_(True), CampaignSchedule.next_fire_at <= now)
            .order_by(CampaignSchedule.next_fire_at)
        )
        if database.is_postgres:
            query = query.with_for_update(skip_locked=True)
        for schedule in (await session.scalars(query)).all():
            fire_at = schedule.next_fire_at
            assert fire_at is not None
            if now - fire_at <= grace:
                try:
                    request = build_request(
                        schedule.campaign_id,
                        topic=schedule.target.get("topic"),
                        area=schedule.target.get("area"),
                        locale=schedule.target.get("locale"),
                        params=schedule.params,
                        library=library,
                    )
                except CampaignError as exc:
                    log.error("schedule %s cannot fire: %s", schedule.id, exc)
                else:
                    run_id = await create_run(
                        session,
                        request,
                        now=now,
                        schedule_id=schedule.id,
                        fire_key=fire_key(schedule.id, fire_at),
                    )
                    if run_id is not None:
                        created.append(run_id)
                        schedule.last_fired_at = fire_at
            else:
                log.warning(
                    "schedule %s missed its fire time %s by more than %s: skipped",
                    schedule.id,
                    fire_at.isoformat(),
                    grace,
                )
            following = next_fire_time(schedule.cron, None, after=now, tz=tz)
            schedule.next_fire_at = following
            if following is None:
                schedule.active = False
    return created

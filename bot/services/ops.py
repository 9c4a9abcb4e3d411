"""What operators watch: is the database there, how far behind is the outbox, what do cases do.

Read from the database on demand (health checks, metric scrapes), so the figures are true for
every process sharing the database and survive restarts; each is one grouped query that an
index answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text

from bot.domain.cases import OPEN_STATUSES
from bot.storage.db import Database
from bot.storage.models import CampaignRun, Case, Delivery, OutboxMessage

UNSENT = ("pending", "sending")


async def database_reachable(database: Database, *, timeout: float = 5.0) -> str | None:
    """None when the database answers within `timeout` seconds; otherwise why not, in one line."""
    try:
        async with asyncio.timeout(timeout):
            async with database.reader() as session:
                await session.execute(text("SELECT 1"))
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # any failure to reach or use it means "not reachable"
        return one_line(exc)
    return None


def one_line(exc: BaseException) -> str:
    """An exception as one line: the driver's own error when SQLAlchemy wrapped it."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0][:300]}" if lines else type(cause).__name__


@dataclass(frozen=True)
class OutboxLag:
    depth: int  # messages not yet sent (pending, or claimed and being sent)
    lag_seconds: float  # how long the oldest of them has waited; 0 when none waits


async def outbox_lag(database: Database, now: datetime) -> OutboxLag:
    async with database.reader() as session:
        depth, oldest = (
            await session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status.in_(UNSENT)
                )
            )
        ).one()
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return OutboxLag(int(depth or 0), lag)


@dataclass(frozen=True)
class BroadcastProgress:
    run_id: int
    campaign_id: str
    by_status: dict[str, int]


@dataclass(frozen=True)
class Snapshot:
    cases_by_status: dict[str, int]
    reports: int  # every report received, a report that joined an open case included
    escalated_open_by_level: dict[int, int]  # open cases above their first cell, by level
    outbox_by_status: dict[str, int]
    outbox: OutboxLag
    deliveries_by_status: dict[str, int]  # broadcast deliveries, every run
    running_broadcasts: list[BroadcastProgress] = field(default_factory=list)


async def snapshot(database: Database, now: datetime) -> Snapshot:
    open_values = [s.value for s in OPEN_STATUSES]
    async with database.reader() as session:
        cases_by_status: dict[str, int] = {}
        reports = 0
        for status, count, reporters in await session.execute(
            select(
                Case.status, func.count(), func.coalesce(func.sum(Case.reporter_count), 0)
            ).group_by(Case.status)
        ):
            cases_by_status[status] = int(count)
            reports += int(reporters)
        escalated = {
            int(level): int(count)
            for level, count in await session.execute(
                select(Case.escalation_level, func.count())
                .where(Case.status.in_(open_values), Case.escalation_level > 0)
                .group_by(Case.escalation_level)
            )
        }
        outbox_by_status = {
            status: int(count)
            for status, count in await session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
        }
        deliveries = {
            status: int(count)
            for status, count in await session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            )
        }
        running: dict[int, BroadcastProgress] = {}
        for run_id, campaign_id, status, count in await session.execute(
            select(CampaignRun.id, CampaignRun.campaign_id, Delivery.status, func.count())
            .join(Delivery, Delivery.run_id == CampaignRun.id)
            .where(CampaignRun.status == "running")
            .group_by(CampaignRun.id, CampaignRun.campaign_id, Delivery.status)
        ):
            progress = running.setdefault(run_id, BroadcastProgress(run_id, campaign_id, {}))
            progress.by_status[status] = int(count)
    return Snapshot(
        cases_by_status=cases_by_status,
        reports=reports,
        escalated_open_by_level=escalated,
        outbox_by_status=outbox_by_status,
        outbox=await outbox_lag(database, now),
        deliveries_by_status=deliveries,
        running_broadcasts=[running[k] for k in sorted(running)],
    )

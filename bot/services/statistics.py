"""The bureau's figures over a period: per county, per category, per campaign, and the headline.

One module for the desk's statistics page, its printable report and `python -m bot stats`. Cases
count in the period they were received; what happened to them (acknowledged in time, escalated,
answered at the follow-up) is read from their recorded events. Medians are worked out here rather
than in SQL, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.access import Actor
from bot.domain.grid import GridIndex, Level
from bot.services.desk import local_day_start, scope_condition
from bot.storage.intervals import hours_between
from bot.storage.models import CampaignRun, Case, CaseEvent, Delivery, OutboxMessage

CLOSED_STATES = ("closed", "rejected", "merged")


@dataclass
class Figures:
    """One row of the statistics: a county, a category, or everything."""

    received: int = 0
    acknowledged: int = 0
    acknowledged_in_time: int = 0
    resolved: int = 0
    resolved_in_time: int = 0
    closed: int = 0
    escalations: int = 0
    fixed: int = 0
    not_fixed: int = 0
    silent: int = 0
    median_ack_hours: float | None = None
    median_resolve_hours: float | None = None
    reopen_rate: float | None = None  # reopened / resolved
    _ack: list[float] = field(default_factory=list, repr=False)
    _resolve: list[float] = field(default_factory=list, repr=False)
    _reopened: int = field(default=0, repr=False)

    def absorb(self, other: Figures) -> None:
        """Add another row's unfinished tallies into this one."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self._ack.extend(other._ack)
        self._resolve.extend(other._resolve)
        self._reopened += other._reopened

    def finish(self) -> Figures:
        self.median_ack_hours = round(median(self._ack), 1) if self._ack else None
        self.median_resolve_hours = round(median(self._resolve), 1) if self._resolve else None
        self.reopen_rate = round(self._reopened / self.resolved, 3) if self.resolved else None
        return self

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


_COUNTS = tuple(f.name for f in fields(Figures) if f.type == "int" and not f.name.startswith("_"))


@dataclass(frozen=True)
class CampaignFigures:
    campaign_id: str
    runs: int
    recipients: int
    delivered: int
    failed: int


@dataclass(frozen=True)
class Statistics:
    since: date
    until: date  # inclusive
    total: Figures
    by_county: dict[str, Figures]
    by_category: dict[str, Figures]
    campaigns: list[CampaignFigures]
    messages_sent: int  # every message to a person: replies, notices, campaign deliveries

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "total": self.total.as_json(),
            "by_county": {k: v.as_json() for k, v in self.by_county.items()},
            "by_category": {k: v.as_json() for k, v in self.by_category.items()},
            "campaigns": [asdict(c) for c in self.campaigns],
            "messages_sent": self.messages_sent,
        }


def _county_of(grid: GridIndex, code: str) -> str:
    chain = grid.chain_of(code)
    county = next((c.code for c in chain if c.level == Level.COUNTY), None)
    return county or (chain[-1].code if chain else code)


async def statistics(
    session: AsyncSession,
    grid: GridIndex,
    actor: Actor,
    *,
    since: date,
    until: date,
    tz: str,
) -> Statistics:
    """The figures of the cases received from `since` to `until` (local dates, inclusive)."""
    start = local_day_start(since, tz)
    end = local_day_start(until + timedelta(days=1), tz)
    where = and_(scope_condition(grid, actor), Case.created_at >= start, Case.created_at < end)
    # Core rather than ORM execution, and the durations worked out by the database: at 100,000
    # cases the per-row ORM and timestamp conversions cost more than the query itself.
    connection = await session.connection()
    cases = await connection.execute(
        select(
            Case.id,
            Case.cell_code,
            Case.category,
            Case.status,
            hours_between(Case.acknowledged_at, Case.created_at),
            hours_between(Case.resolved_at, Case.created_at),
        ).where(where)
    )
    events = await connection.execute(
        select(CaseEvent.case_id, CaseEvent.kind, CaseEvent.data)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(where, CaseEvent.kind.in_(("escalate", "overdue", "reopen", "close", "resolve")))
    )
    late_ack: set[int] = set()
    late_resolve: set[int] = set()
    escalations: dict[int, int] = defaultdict(int)
    answers: dict[int, list[bool | None]] = defaultdict(list)
    reopened: set[int] = set()
    ever_resolved: set[int] = set()
    for case_id, kind, data in events:
        data = data or {}
        if kind in ("escalate", "overdue"):
            if kind == "escalate":
                escalations[case_id] += 1
            reason = data.get("reason")
            if reason == "ack":
                late_ack.add(case_id)
            elif reason == "resolve":
                late_resolve.add(case_id)
        elif kind == "reopen":
            reopened.add(case_id)
            answers[case_id].append(False)
        elif kind == "close" and "fixed" in data:
            answers[case_id].append(data.get("fixed"))
        elif kind == "resolve":
            ever_resolved.add(case_id)
    # Each case is tallied once, in its (county, category) pair; the pairs are then added up into
    # the total, the counties and the categories. A hundred thousand cases fall into a few hundred
    # pairs, so this is a third of the per-case work of tallying each case three times.
    pairs: dict[tuple[str, str], Figures] = {}
    county_of: dict[str, str] = {}
    for cid, cell, category, status, ack_hours, resolve_hours in cases:
        county = county_of.get(cell)
        if county is None:
            county = county_of[cell] = _county_of(grid, cell)
        figures = pairs.get((county, category))
        if figures is None:
            figures = pairs[county, category] = Figures()
        figures.received += 1
        if ack_hours is not None:
            figures.acknowledged += 1
            figures._ack.append(ack_hours)
            if cid not in late_ack:
                figures.acknowledged_in_time += 1
        if cid in ever_resolved:
            figures.resolved += 1
            if cid not in late_resolve:
                figures.resolved_in_time += 1
            if resolve_hours is not None:
                figures._resolve.append(resolve_hours)
        if status in CLOSED_STATES:
            figures.closed += 1
        if cid in escalations:
            figures.escalations += escalations[cid]
        for answer in answers.get(cid, ()):
            if answer is True:
                figures.fixed += 1
            elif answer is False:
                figures.not_fixed += 1
            else:
                figures.silent += 1
        if cid in reopened:
            figures._reopened += 1
    total = Figures()
    by_county: dict[str, Figures] = defaultdict(Figures)
    by_category: dict[str, Figures] = defaultdict(Figures)
    for (county, category), figures in pairs.items():
        for into in (total, by_county[county], by_category[category]):
            into.absorb(figures)
    return Statistics(
        since,
        until,
        total.finish(),
        {k: v.finish() for k, v in sorted(by_county.items())},
        {k: v.finish() for k, v in sorted(by_category.items())},
        await campaign_figures(session, start, end),
        await messages_sent(session, start, end),
    )


async def campaign_figures(
    session: AsyncSession, start: datetime, end: datetime
) -> list[CampaignFigures]:
    """Per campaign: the runs created in the period, their recipients, delivered and failed."""
    in_period = and_(CampaignRun.created_at >= start, CampaignRun.created_at < end)
    runs = dict(
        (
            await session.execute(
                select(CampaignRun.campaign_id, func.count())
                .where(in_period)
                .group_by(CampaignRun.campaign_id)
            )
        ).all()
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for campaign_id, status, n in await session.execute(
        select(CampaignRun.campaign_id, Delivery.status, func.count())
        .join(CampaignRun, CampaignRun.id == Delivery.run_id)
        .where(in_period)
        .group_by(CampaignRun.campaign_id, Delivery.status)
    ):
        counts[campaign_id][status] = int(n)
    return [
        CampaignFigures(
            cid,
            int(runs[cid]),
            sum(counts[cid].values()),
            counts[cid].get("sent", 0),
            sum(n for s, n in counts[cid].items() if s in ("failed", "blocked")),
        )
        for cid in sorted(runs)
    ]


async def messages_sent(session: AsyncSession, start: datetime, end: datetime) -> int:
    one_by_one = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.status == "sent",
            OutboxMessage.sent_at >= start,
            OutboxMessage.sent_at < end,
        )
    )
    broadcast = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.status == "sent", Delivery.sent_at >= start, Delivery.sent_at < end)
    )
    return int(one_by_one or 0) + int(broadcast or 0)


def month_range(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def year_range(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def parse_period(raw: str) -> tuple[date, date]:
    """ "2026" (a year) or "2026-11" (a month); ValueError otherwise."""
    text = raw.strip()
    if len(text) == 4 and text.isdigit():
        return year_range(int(text))
    year, _, month = text.partition("-")
    if len(year) == 4 and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
        return month_range(int(year), int(month))
    raise ValueError(f"{raw!r} is neither a year (2026) nor a month (2026-11)")


def default_period(today: date) -> tuple[date, date]:
    """The last 30 days, today included."""
    return today - timedelta(days=29), today


def counties(stats: Statistics, grid: GridIndex, locale: str) -> Iterable[tuple[str, str, Figures]]:
    for code, figures in stats.by_county.items():
        ref = grid.cells.get(code)
        yield code, ref.names.for_locale(locale) if ref else code, figures

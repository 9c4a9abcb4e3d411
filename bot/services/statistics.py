"""The bureau's figures over a period: per county, per category, per campaign, and the headline.

One module for the desk's statistics page, its printable report and `python -m bot stats`. Cases
count in the period they were received; what happened to them (acknowledged in time, escalated,
answered at the follow-up) is read from their recorded events. The database does the counting and
the medians, in one query text for SQLite and PostgreSQL (window functions both have), so a period
of 100,000 cases comes back as a few hundred grouped rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.domain.access import Actor
from bot.domain.grid import LEVEL_ORDER, GridIndex, Level
from bot.services.desk import local_day_start, scope_condition
from bot.storage.intervals import hours_between
from bot.storage.models import CampaignRun, Case, CaseEvent, Delivery, GridCell, OutboxMessage

CLOSED_STATES = ("closed", "rejected", "merged")


# The counts of a row, each summed over its cases by the database (`_per_case` makes them).
COUNTS = (
    "received",
    "acknowledged",
    "acknowledged_in_time",
    "resolved",
    "resolved_in_time",
    "closed",
    "escalations",
    "fixed",
    "not_fixed",
    "silent",
    "reopened",
)


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
    _reopened: int = field(default=0, repr=False)

    def add(self, counts: dict[str, int]) -> None:
        """Add the counts of a group of cases (a county's cases of one category)."""
        for name in COUNTS:
            attribute = "_reopened" if name == "reopened" else name
            setattr(self, attribute, getattr(self, attribute) + counts[name])

    def finish(self, medians: dict[str, float | None]) -> Figures:
        ack, resolve = medians.get("ack_hours"), medians.get("resolve_hours")
        self.median_ack_hours = round(ack, 1) if ack is not None else None
        self.median_resolve_hours = round(resolve, 1) if resolve is not None else None
        self.reopen_rate = round(self._reopened / self.resolved, 3) if self.resolved else None
        return self

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


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


# The events that say what happened to a case, and what each means:
# - "escalate" and "overdue" carry the deadline missed ("ack" or "resolve") as `reason`;
# - "resolve" marks a case resolved at least once, whatever happened after;
# - the follow-up's answer: a "reopen" is "not fixed"; a "close" records `fixed`, true when the
#   reporters said fixed and null when nobody answered (`CaseRules` writes `fixed` on every close).
MARKING_EVENTS = ("escalate", "overdue", "reopen", "close", "resolve")


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _event_marks(where: Any) -> Any:
    """Per case of the period that has any marking event: what its events say, one row each."""
    kind = CaseEvent.kind
    reason = CaseEvent.data["reason"].as_string()
    answer = CaseEvent.data["fixed"].as_boolean()
    late = kind.in_(("escalate", "overdue"))
    close = kind == "close"
    return (
        select(
            CaseEvent.case_id,
            func.max(_flag(and_(late, reason == "ack"))).label("late_ack"),
            func.max(_flag(and_(late, reason == "resolve"))).label("late_resolve"),
            func.sum(_flag(kind == "escalate")).label("escalations"),
            func.max(_flag(kind == "resolve")).label("ever_resolved"),
            func.max(_flag(kind == "reopen")).label("reopened"),
            func.sum(_flag(and_(close, answer.is_(True)))).label("fixed"),
            func.sum(_flag(or_(kind == "reopen", and_(close, answer.is_(False))))).label(
                "not_fixed"
            ),
            func.sum(_flag(and_(close, answer.is_(None)))).label("silent"),
        )
        .join(Case, Case.id == CaseEvent.case_id)
        .where(where, kind.in_(MARKING_EVENTS))
        .group_by(CaseEvent.case_id)
        .subquery("marks")
    )


def _counties() -> Any:
    """Each grid cell's county, the one the statistics count its cases in: its nearest ancestor
    (or itself) of the county level, else the top of its chain (the city counts in itself).

    Worked out by the database from `grid_cells`, a few thousand rows walked up at most one step
    per grid level, and joined by code: the statement stays one cached text whatever the grid.
    The map from the grid index does not fit in SQL as well: a VALUES table of every cell is
    recompiled on every request (SQLAlchemy cannot cache VALUES data; 0.3 s), and IN lists of
    cells per county are searched one by one in PostgreSQL's generic plans (5 s and more per
    request from the sixth on, at 100,000 cases).
    """
    parent = aliased(GridCell)
    start = select(
        GridCell.code.label("cell_code"),
        GridCell.code.label("ancestor"),
        GridCell.level.label("level"),
        GridCell.parent_code.label("parent_code"),
        literal(1).label("depth"),
    ).cte("ancestry", recursive=True)
    ancestry = start.union_all(
        select(start.c.cell_code, parent.code, parent.level, parent.parent_code, start.c.depth + 1)
        .join(parent, parent.code == start.c.parent_code)
        .where(start.c.depth < len(LEVEL_ORDER))  # a chain is no longer than the levels
    )
    county = func.max(case((ancestry.c.level == Level.COUNTY.value, ancestry.c.ancestor)))
    top = func.max(case((ancestry.c.parent_code.is_(None), ancestry.c.ancestor)))
    return (
        select(ancestry.c.cell_code, func.coalesce(county, top).label("county"))
        .group_by(ancestry.c.cell_code)
        .cte("counties")
    )


def _per_case(where: Any) -> Any:
    """One row per case of the period: its county and category, its hours to acknowledge and to
    resolve, and a 0/1 (or a number, for escalations and answers) per count of `COUNTS`."""
    marks = _event_marks(where)
    counties = _counties()
    acknowledged = Case.acknowledged_at.is_not(None)
    ever_resolved = marks.c.ever_resolved == 1
    query = select(
        func.coalesce(counties.c.county, Case.cell_code).label("county"),
        Case.category.label("category"),
        hours_between(Case.acknowledged_at, Case.created_at).label("ack_hours"),
        case((ever_resolved, hours_between(Case.resolved_at, Case.created_at))).label(
            "resolve_hours"
        ),
        _flag(acknowledged).label("acknowledged"),
        _flag(and_(acknowledged, func.coalesce(marks.c.late_ack, 0) == 0)).label(
            "acknowledged_in_time"
        ),
        _flag(ever_resolved).label("resolved"),
        _flag(and_(ever_resolved, marks.c.late_resolve == 0)).label("resolved_in_time"),
        _flag(Case.status.in_(CLOSED_STATES)).label("closed"),
        *(
            func.coalesce(marks.c[name], 0).label(name)
            for name in ("escalations", "fixed", "not_fixed", "silent", "reopened")
        ),
    )
    return (
        query.select_from(Case)
        .outerjoin(counties, counties.c.cell_code == Case.cell_code)
        .outerjoin(marks, marks.c.case_id == Case.id)
        .where(where)
        .cte("per_case")
    )


def _grouped_counts(per_case: Any) -> Any:
    """The counts per county and category: a few hundred rows, added up further in Python."""
    return select(
        per_case.c.county,
        per_case.c.category,
        func.count().label("received"),
        *(func.sum(per_case.c[name]).label(name) for name in COUNTS if name != "received"),
    ).group_by(per_case.c.county, per_case.c.category)


def _medians(per_case: Any, dimension: str | None, measure: str) -> Any:
    """The median of `measure` per value of `dimension` (over all cases when None).

    The same text on SQLite and PostgreSQL: each value is numbered within its group in order,
    and the middle one (odd counts) or the mean of the middle two (even counts) is kept — the
    rows whose position p among n satisfies n <= 2p <= n + 2.
    """
    value = per_case.c[measure]
    group = per_case.c[dimension] if dimension is not None else None
    ranked = (
        select(
            value.label("hours"),
            func.row_number().over(partition_by=group, order_by=value).label("position"),
            func.count().over(partition_by=group).label("size"),
            *([group.label("key")] if group is not None else []),
        )
        .where(value.is_not(None))
        .subquery()
    )
    middle = select(
        literal(dimension or "total").label("dimension"),
        literal(measure).label("measure"),
        ranked.c.key if group is not None else literal("").label("key"),
        func.avg(ranked.c.hours).label("median"),
    ).where((2 * ranked.c.position).between(ranked.c.size, ranked.c.size + 2))
    return middle.group_by(ranked.c.key) if group is not None else middle


def _all_medians(per_case: Any) -> Any:
    return union_all(
        *(
            _medians(per_case, dimension, measure)
            for dimension in (None, "county", "category")
            for measure in ("ack_hours", "resolve_hours")
        )
    )


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
    # The database groups and ranks: it returns a few hundred rows, not one per case.
    per_case = _per_case(where)
    connection = await session.connection()
    total = Figures()
    by_county: dict[str, Figures] = defaultdict(Figures)
    by_category: dict[str, Figures] = defaultdict(Figures)
    for row in (await connection.execute(_grouped_counts(per_case))).mappings():
        for figures in (total, by_county[row["county"]], by_category[row["category"]]):
            figures.add({name: int(row[name] or 0) for name in COUNTS})
    medians: dict[tuple[str, str], dict[str, float | None]] = defaultdict(dict)
    for dimension, measure, key, median in await connection.execute(_all_medians(per_case)):
        if median is not None:
            medians[(dimension, "" if dimension == "total" else key)][measure] = float(median)
    return Statistics(
        since,
        until,
        total.finish(medians[("total", "")]),
        {k: v.finish(medians[("county", k)]) for k, v in sorted(by_county.items())},
        {k: v.finish(medians[("category", k)]) for k, v in sorted(by_category.items())},
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

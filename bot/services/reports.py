"""Residents' reports: rate limit, duplicate detection, case numbers, routing, notification."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.outbox import Envelope
from bot.domain import categories
from bot.domain.cases import OPEN_STATUSES, format_case_number
from bot.domain.decisions import CaseRules
from bot.domain.geo import haversine_m
from bot.domain.grid import CellRef, GridIndex, Level
from bot.services import case_queries, notices
from bot.services.case_actions import event_row
from bot.storage.db import insert_ignore
from bot.storage.models import Case, CaseCounter, CaseEvent, CasePhoto, CaseReporter, Person

MAX_PHOTOS = 3
MIN_DESCRIPTION = 5
MAX_DESCRIPTION = 2000


class ReportContext(Protocol):
    """Who files a report, where and when: a chat Turn is one, an Open311 submission another.

    Both go through `submit_report`, so a report is routed and announced one way whatever door
    it came in by.
    """

    @property
    def session(self) -> AsyncSession: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def grid(self) -> GridIndex: ...
    @property
    def person(self) -> Person: ...
    @property
    def now(self) -> datetime: ...
    @property
    def channel(self) -> str: ...
    @property
    def rules(self) -> CaseRules: ...
    def notify(self, envelope: Envelope) -> None: ...


@dataclass
class ReportDraft:
    """What the dialog collected; validated again here, never trusted."""

    category: str
    description: str
    lat: float  # grid datum
    lon: float
    cell_code: str
    location_source: str = "gps"
    photos: list[str] = field(default_factory=list)
    anonymous: bool = True
    emergency: bool = False
    voice: str | None = None  # the channel's reference of the voice message the text came from

    @classmethod
    def from_dialog(cls, data: dict[str, Any]) -> ReportDraft:
        return cls(
            category=str(data["category"]),
            description=str(data["description"]),
            lat=float(data["lat"]),
            lon=float(data["lon"]),
            cell_code=str(data["cell"]),
            location_source=str(data.get("location_source", "gps")),
            photos=[str(p) for p in data.get("photos", [])][:MAX_PHOTOS],
            anonymous=bool(data.get("anonymous", True)),
            emergency=bool(data.get("emergency", False)),
            voice=str(data["voice"]) if data.get("voice") else None,
        )


@dataclass(frozen=True)
class SubmitResult:
    case: Case
    joined: bool  # joined an existing case rather than opening one
    responsible: CellRef  # the cell whose supervisors were told
    urgent: bool
    # The nearby open case is one this person reported already (say, they filed again after
    # a crash hid the first answer): nothing changed, and they are told it is their own case.
    own: bool = False


class ReportRefused(Exception):
    """The report cannot be accepted; `key` names the message that says why."""

    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key = key
        self.args_for_message = args


# Built once, with bind parameters: a statement object memoises its cache key, and these run
# for every report.
_REPORTS_SINCE = (
    select(CaseReporter.joined_at)
    .where(
        CaseReporter.person_id == bindparam("person_id"),
        CaseReporter.joined_at > bindparam("since", type_=CaseReporter.joined_at.type),
    )
    .order_by(CaseReporter.joined_at)
)
RATE_WINDOW = timedelta(hours=1)
_NEXT_SEQ = (
    update(CaseCounter)
    .where(CaseCounter.year == bindparam("y"))
    .values(last_seq=CaseCounter.last_seq + 1)
    .returning(CaseCounter.last_seq)
)
_NEARBY_OPEN_CASES = select(Case).where(
    Case.category == bindparam("category"),
    Case.status.in_([s.value for s in OPEN_STATUSES]),
    Case.created_at >= bindparam("since", type_=Case.created_at.type),
    Case.lat.between(bindparam("min_lat"), bindparam("max_lat")),
    Case.lon.between(bindparam("min_lon"), bindparam("max_lon")),
)


async def reports_in_last_hour(
    session: AsyncSession, person_id: int, now: datetime
) -> list[datetime]:
    """When the person's reports within the rate window were filed, oldest first."""
    return list(
        (
            await session.scalars(
                _REPORTS_SINCE, {"person_id": person_id, "since": now - RATE_WINDOW}
            )
        ).all()
    )


async def check_rate_limit(turn: ReportContext) -> None:
    """Refuse a report over the hourly limit, saying when the next one will be accepted: when
    enough of the window's reports (the oldest first) have left it."""
    limit = turn.settings.report_rate_per_hour
    filed = await reports_in_last_hour(turn.session, turn.person.id, turn.now)
    if len(filed) >= limit:
        again = filed[len(filed) - limit] + RATE_WINDOW
        raise ReportRefused("report-rate-limited", limit=limit, again=again)


async def next_case_number(session: AsyncSession, year: int) -> str:
    # Serialised by the row lock the UPDATE takes; the insert only races on a year's first case.
    await insert_ignore(session, CaseCounter, {"year": year, "last_seq": 0})
    result = await session.execute(_NEXT_SEQ, {"y": year})
    return format_case_number(year, int(result.scalar_one()))


async def find_nearby_open_case(turn: ReportContext, draft: ReportDraft) -> Case | None:
    radius = turn.settings.duplicate_radius_m
    since = turn.now - timedelta(hours=turn.settings.duplicate_window_hours)
    d_lat = radius / 111_000.0
    d_lon = radius / (111_000.0 * max(math.cos(math.radians(draft.lat)), 0.01))
    candidates = (
        await turn.session.scalars(
            _NEARBY_OPEN_CASES,
            {
                "category": draft.category,
                "since": since,
                "min_lat": draft.lat - d_lat,
                "max_lat": draft.lat + d_lat,
                "min_lon": draft.lon - d_lon,
                "max_lon": draft.lon + d_lon,
            },
        )
    ).all()
    best: tuple[float, Case] | None = None
    for case in candidates:
        distance = haversine_m(draft.lat, draft.lon, case.lat, case.lon)
        if distance <= radius and (best is None or distance < best[0]):
            best = (distance, case)
    return best[1] if best else None


def validate_draft(grid: GridIndex, draft: ReportDraft) -> None:
    if categories.get(draft.category) is None:
        raise ReportRefused("report-invalid-draft")
    if not MIN_DESCRIPTION <= len(draft.description.strip()) <= MAX_DESCRIPTION:
        raise ReportRefused("report-invalid-draft")
    if draft.cell_code not in grid.cells:
        raise ReportRefused("report-invalid-draft")


async def submit_report(turn: ReportContext, draft: ReportDraft) -> SubmitResult:
    """Store the report as a case (or join a nearby open one) and tell the supervisors."""
    validate_draft(turn.grid, draft)
    await check_rate_limit(turn)
    session = turn.session
    category = categories.BY_CODE[draft.category]
    urgent = category.urgent or draft.emergency

    existing = await find_nearby_open_case(turn, draft)
    if existing is not None:
        if await session.get(CaseReporter, (existing.id, turn.person.id)) is not None:
            return SubmitResult(
                case=existing,
                joined=False,
                responsible=_responsible_for(turn, existing),
                urgent=existing.urgent,
                own=True,
            )
        return await _join_case(turn, existing, draft, urgent)

    chain = turn.grid.chain_of(draft.cell_code)
    responsible = await case_queries.first_staffed(session, chain) or chain[-1]
    year = turn.now.astimezone(turn.settings.tz).year
    decision = turn.rules.create(
        origin_cell=draft.cell_code,
        responsible_cell=responsible.code,
        category=category.code,
        urgent=urgent,
        now=turn.now,
        location_source=draft.location_source,
    )
    state = decision.state
    case = Case(
        number=await next_case_number(session, year),
        category=category.code,
        description=draft.description.strip(),
        urgent=urgent,
        status=state.status.value,
        lat=draft.lat,
        lon=draft.lon,
        location_source=draft.location_source,
        origin_cell_code=draft.cell_code,
        cell_code=state.cell_code,
        reporter_id=turn.person.id,
        anonymous=draft.anonymous,
        reporter_count=1,
        created_at=turn.now,
        updated_at=turn.now,
        ack_due_at=state.ack_due_at,
        resolve_due_at=state.resolve_due_at,
    )
    session.add(case)
    await session.flush()
    session.add(
        CaseReporter(
            case_id=case.id,
            person_id=turn.person.id,
            anonymous=draft.anonymous,
            original=True,
            joined_at=turn.now,
        )
    )
    _add_media(turn, case.id, draft)
    # The resident files the report; the system assigns it.
    created, assigned = decision.events
    session.add_all(
        [
            CaseEvent(
                **event_row(
                    case.id, created, actor_kind="resident", actor_id=turn.person.id, now=turn.now
                )
            ),
            CaseEvent(
                **event_row(case.id, assigned, actor_kind="system", actor_id=None, now=turn.now)
            ),
        ]
    )
    await session.flush()
    chats = await case_queries.supervisor_chats(session, [responsible.code], once_per_chat=True)
    if urgent:
        county = next((c for c in chain if c.level == Level.COUNTY), None)
        if county is not None and county.code != responsible.code:
            chats += await case_queries.supervisor_chats(session, [county.code], once_per_chat=True)
    for envelope in notices.case_card_envelopes(
        case,
        chats,
        turn.grid,
        default_locale=turn.settings.default_locale,
        timezone=turn.settings.timezone,
        reporter=_reporter_name(turn, draft),
        photos=draft.photos,
        photo_channel=turn.channel,
        dedupe="new",
    ):
        turn.notify(envelope)
    return SubmitResult(case=case, joined=False, responsible=responsible, urgent=urgent)


def _add_media(turn: ReportContext, case_id: int, draft: ReportDraft) -> None:
    """The report's photos and, when it was spoken, the original voice message."""
    media = [("report", p) for p in draft.photos[:MAX_PHOTOS]]
    if draft.voice:
        media.append(("voice", draft.voice))
    for kind, ref in media:
        turn.session.add(CasePhoto(case_id=case_id, kind=kind, channel=turn.channel, file_ref=ref))


def _reporter_name(turn: ReportContext, draft: ReportDraft) -> str | None:
    if draft.anonymous:
        return None
    return turn.person.display_name or f"{turn.channel}:{turn.person.channel_user_id}"


def _responsible_for(turn: ReportContext, case: Case) -> CellRef:
    return turn.grid.cells.get(case.cell_code) or turn.grid.chain_of(case.origin_cell_code)[0]


async def _join_case(
    turn: ReportContext, case: Case, draft: ReportDraft, urgent: bool
) -> SubmitResult:
    session = turn.session
    already = await session.get(CaseReporter, (case.id, turn.person.id))
    if already is None:
        session.add(
            CaseReporter(
                case_id=case.id,
                person_id=turn.person.id,
                anonymous=draft.anonymous,
                original=False,
                joined_at=turn.now,
            )
        )
        case.reporter_count += 1
    _add_media(turn, case.id, draft)
    escalate_urgency = urgent and not case.urgent
    if escalate_urgency:
        case.urgent = True
    case.updated_at = turn.now
    session.add(
        CaseEvent(
            case_id=case.id,
            kind="joined",
            actor_kind="resident",
            actor_id=turn.person.id,
            note=draft.description.strip()[:MAX_DESCRIPTION],
            at=turn.now,
            data={"reporters": case.reporter_count, "urgent": urgent},
        )
    )
    await session.flush()
    responsible = _responsible_for(turn, case)
    chats = await case_queries.supervisor_chats(session, [case.cell_code], once_per_chat=True)
    for envelope in notices.joined_case_envelopes(
        case,
        case.reporter_count,
        chats,
        default_locale=turn.settings.default_locale,
        description=draft.description.strip(),
        reporter=_reporter_name(turn, draft),
    ):
        turn.notify(envelope)
    return SubmitResult(case=case, joined=True, responsible=responsible, urgent=case.urgent)


async def cases_of_reporter(session: AsyncSession, person_id: int, limit: int = 20) -> list[Case]:
    return list(
        (
            await session.scalars(
                select(Case)
                .join(CaseReporter, CaseReporter.case_id == Case.id)
                .where(CaseReporter.person_id == person_id)
                .order_by(Case.created_at.desc(), Case.id.desc())
                .limit(limit)
            )
        ).all()
    )

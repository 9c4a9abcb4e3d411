"""Open311 GeoReport v2, the service side: partners' API keys, filing a request, reading requests.

A posted request is filed by `reports.submit_report`, the same function a chat report goes
through: the same validation, rate limit, duplicate joining, routing and supervisor notices.
The submitter is always anonymous, and nothing that could name them (email, name, phone,
account or device id) is stored: an account or device id only keys a pseudonymous person, so
the rate limit applies per submitter rather than per partner.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Settings
from bot.delivery.outbox import Envelope, add_to_outbox
from bot.domain.cases import OPEN_STATUSES, DeadlinePolicy, Status
from bot.domain.decisions import CaseRules
from bot.domain.geo import Datum, InvalidCoordinate, LatLon, convert
from bot.domain.grid import CellRef, GridIndex
from bot.services.people import get_or_create_person
from bot.services.reports import ReportDraft, ReportRefused, submit_report
from bot.storage.db import Database
from bot.storage.models import Case, Open311Key, Open311Request, Person

CHANNEL = "open311"
MAX_KEY_NAME = 100
# GeoReport v2: a date-range search "may not span more than 90 days", and at most 1000 rows.
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000


class Open311Refused(Exception):
    """A request the API refuses: the HTTP status, and the message key that says why."""

    def __init__(self, status: int, key: str, **args: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.args_for_message = args


class KeyRefused(Exception):
    """A key command that cannot be done; the message says why, for the operator."""


# --- keys ---------------------------------------------------------------------------------------


def hash_key(key: str) -> str:
    # A key is 256 random bits, so a plain SHA-256 suffices: nothing to guess, nothing to salt.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    name: str
    created_at: datetime
    revoked_at: datetime | None
    requests: int


async def add_key(database: Database, name: str, *, now: datetime) -> str:
    """Make a key for a partner; returns the key itself, which is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > MAX_KEY_NAME:
        raise KeyRefused(f"a key name must be 1 to {MAX_KEY_NAME} characters")
    key = secrets.token_urlsafe(32)
    async with database.transaction() as session:
        if await session.scalar(select(Open311Key.id).where(Open311Key.name == name)):
            raise KeyRefused(f"a key named {name!r} exists already; pick another name")
        session.add(Open311Key(name=name, key_hash=hash_key(key), created_at=now))
    return key


async def list_keys(database: Database) -> list[KeyInfo]:
    async with database.reader() as session:
        counts = (
            select(Open311Request.key_id, func.count().label("n"))
            .group_by(Open311Request.key_id)
            .subquery()
        )
        rows = await session.execute(
            select(Open311Key, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.key_id == Open311Key.id)
            .order_by(Open311Key.name)
        )
        return [KeyInfo(k.name, k.created_at, k.revoked_at, int(n)) for k, n in rows]


async def revoke_key(database: Database, name: str, *, now: datetime) -> None:
    async with database.transaction() as session:
        connection = await session.connection()  # Core: a CursorResult, with its rowcount
        result = await connection.execute(
            update(Open311Key)
            .where(Open311Key.name == name, Open311Key.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if not result.rowcount:
            raise KeyRefused(f"no active key named {name!r} (see: python -m bot open311 key list)")


async def _live_key(session: AsyncSession, key: str) -> Open311Key | None:
    if not key:
        return None
    found = await session.scalar(select(Open311Key).where(Open311Key.key_hash == hash_key(key)))
    return found if found is not None and found.revoked_at is None else None


async def key_is_valid(database: Database, key: str) -> bool:
    async with database.reader() as session:
        return await _live_key(session, key) is not None


# --- filing a request ---------------------------------------------------------------------------


@dataclass
class Submission:
    """A request being filed: the `ReportContext` that `submit_report` works in."""

    session: AsyncSession
    settings: Settings
    grid: GridIndex
    person: Person
    now: datetime
    policy: DeadlinePolicy
    channel: str = CHANNEL
    notifications: list[Envelope] = field(default_factory=list)

    @cached_property
    def rules(self) -> CaseRules:
        return CaseRules(self.policy, self.grid)

    def notify(self, envelope: Envelope) -> None:
        self.notifications.append(envelope)


@dataclass(frozen=True)
class PostedRequest:
    """A POST's fields, already checked for type and size by the web layer."""

    service_code: str
    lat: float  # WGS-84, as GeoReport v2 defines
    lon: float
    description: str
    emergency: bool = False
    submitter: str = ""  # account_id, device_id or email: only its hash keys a pseudonym


@dataclass(frozen=True)
class Filed:
    number: str
    token: str
    joined: bool
    responsible: CellRef
    ack_due_at: datetime | None


def _pseudonym(key_id: int, submitter: str) -> str:
    if not submitter:
        return f"{key_id}"
    return f"{key_id}:{hashlib.sha256(submitter.encode()).hexdigest()[:40]}"


async def file_request(
    database: Database,
    settings: Settings,
    grid: GridIndex,
    policy: DeadlinePolicy,
    api_key: str,
    request: PostedRequest,
    *,
    now: datetime,
) -> Filed:
    """File the request as a chat report is filed; the supervisors' notices join the outbox."""
    try:
        route = grid.route(request.lat, request.lon, datum=Datum.WGS84)
    except InvalidCoordinate:
        raise Open311Refused(400, "open311-error-lat-long") from None
    if route.cell is None:
        raise Open311Refused(400, "open311-error-outside")
    async with database.transaction() as session:
        key = await _live_key(session, api_key)
        if key is None:
            raise Open311Refused(403, "open311-error-api-key")
        person = await get_or_create_person(
            session, channel=CHANNEL, user_id=_pseudonym(key.id, request.submitter), chat_id=""
        )
        submission = Submission(session, settings, grid, person, now, policy)
        draft = ReportDraft(
            category=request.service_code,
            description=request.description,
            lat=route.point.lat,
            lon=route.point.lon,
            cell_code=route.cell.code,
            location_source=CHANNEL,
            anonymous=True,
            emergency=request.emergency,
        )
        try:
            result = await submit_report(submission, draft)
        except ReportRefused as refused:
            if refused.key == "report-rate-limited":
                raise Open311Refused(
                    429, "open311-error-rate-limited", **refused.args_for_message
                ) from None
            raise Open311Refused(400, "open311-error-invalid") from None
        token = secrets.token_urlsafe(16)
        session.add(
            Open311Request(token=token, case_id=result.case.id, key_id=key.id, created_at=now)
        )
        await add_to_outbox(session, submission.notifications, now=now)
        await session.flush()
        return Filed(
            number=result.case.number,
            token=token,
            joined=result.joined,
            responsible=result.responsible,
            ack_due_at=result.case.ack_due_at,
        )


# --- reading requests ---------------------------------------------------------------------------


def open_or_closed(status: str) -> str:
    """GeoReport v2 knows two states: a case is open while someone must still act on it."""
    return "open" if Status(status) in OPEN_STATUSES else "closed"


@dataclass(frozen=True)
class RequestView:
    """What Open311 shows of a case: never who reported it."""

    number: str
    status: str  # our status; `open_or_closed` maps it
    category: str
    description: str
    requested_at: datetime
    updated_at: datetime
    expected_at: datetime | None
    position: LatLon  # WGS-84
    origin_cell: str
    responsible_cell: str
    merged_into: str | None


@dataclass(frozen=True)
class RequestFilter:
    numbers: Sequence[str] = ()  # when given, the other filters are ignored (as the spec says)
    service_codes: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: Sequence[str] = ()  # "open", "closed"


def date_window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The searched window: the last 90 days by default, and never longer than 90 days."""
    if start is None and end is None:
        return now - MAX_SPAN, now
    if start is None:
        assert end is not None
        return end - MAX_SPAN, end
    if end is None:
        end = min(start + MAX_SPAN, now)
    if end < start:
        raise Open311Refused(400, "open311-error-date-order")
    if end - start > MAX_SPAN:
        raise Open311Refused(400, "open311-error-date-span", days=MAX_SPAN.days)
    return start, end


def _views(rows: Sequence[tuple[Case, str | None]], grid_datum: Datum) -> list[RequestView]:
    return [
        RequestView(
            number=case.number,
            status=case.status,
            category=case.category,
            description=case.description,
            requested_at=case.created_at,
            updated_at=case.updated_at,
            expected_at=case.resolve_due_at,
            position=convert(case.lat, case.lon, source=grid_datum, target=Datum.WGS84),
            origin_cell=case.origin_cell_code,
            responsible_cell=case.cell_code,
            merged_into=merged_into,
        )
        for case, merged_into in rows
    ]


async def find_requests(
    database: Database, grid_datum: Datum, wanted: RequestFilter, *, now: datetime
) -> list[RequestView]:
    target = aliased(Case)  # the case a merged one was merged into
    query = select(Case, target.number).outerjoin(target, target.id == Case.merged_into_id)
    if wanted.numbers:
        query = query.where(Case.number.in_(list(wanted.numbers)))
    else:
        start, end = date_window(wanted.start, wanted.end, now)
        query = query.where(Case.created_at >= start, Case.created_at <= end)
        if wanted.service_codes:
            query = query.where(Case.category.in_(list(wanted.service_codes)))
        open_values = [s.value for s in OPEN_STATUSES]
        if set(wanted.statuses) == {"open"}:
            query = query.where(Case.status.in_(open_values))
        elif set(wanted.statuses) == {"closed"}:
            query = query.where(Case.status.not_in(open_values))
    query = query.order_by(Case.created_at.desc(), Case.id.desc()).limit(MAX_RESULTS)
    async with database.reader() as session:
        rows = [(case, number) for case, number in await session.execute(query)]
    return _views(rows, grid_datum)


async def request_by_token(database: Database, token: str) -> str | None:
    """The case number a token stands for, or None."""
    async with database.reader() as session:
        return await session.scalar(
            select(Case.number)
            .join(Open311Request, Open311Request.case_id == Case.id)
            .where(Open311Request.token == token)
        )

"""What the bureau's desk reads and does: the dashboard and the operator's CLI both call these.

Every read is bounded by the staff member's subtree (the set form of `bot.domain.access.covers`);
every action loads the case, asks `may`, applies `CaseRules` through `case_actions`, writes the
notices to the outbox and the staff record, all in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.outbox import add_to_outbox
from bot.delivery.undelivered import undelivered_notices
from bot.domain.access import Actor, CaseFacts, Refusal, StaffRole, Verb, covers, may
from bot.domain.cases import OPEN_STATUSES, Status, TransitionRefused
from bot.domain.decisions import CaseRules
from bot.domain.grid import GridIndex, Level
from bot.services import case_actions, case_queries
from bot.services.case_access import facts_of
from bot.services.staff import actor_of, record
from bot.storage.db import Database
from bot.storage.models import (
    Case,
    CaseEvent,
    CasePhoto,
    Invite,
    Media,
    Person,
    SecurityEvent,
    Staff,
    Supervisor,
    SupervisorCell,
)

PAGE_SIZE = 50
MAX_TEXT = 1000
DESK_ACTOR_LABEL = "desk"

# The operator at the server's command line sees the whole grid, as an admin does.
OPERATOR = Actor(frozenset(), staff=StaffRole.ADMIN)


# --- scope ------------------------------------------------------------------------------------------


def subtree(grid: GridIndex, roots: Iterable[str]) -> set[str]:
    """The cells under (and including) each root."""
    found: set[str] = set()
    frontier = [r for r in roots if r in grid.cells]
    while frontier:
        found.update(frontier)
        frontier = [child.code for code in frontier for child in grid.children(code)]
    return found


def scope_condition(grid: GridIndex, actor: Actor) -> Any:
    """SQL condition: the case is within the actor's subtree (the set form of `covers`)."""
    if covers(actor, ()):
        return true()
    return Case.cell_code.in_(sorted(subtree(grid, actor.cells)))


# --- the case list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None  # a Status, or "open"
    category: str | None = None
    cell: str | None = None  # a subtree root
    overdue: bool = False
    since: date | None = None  # local dates, inclusive
    until: date | None = None
    text: str = ""


class FilterRefused(ValueError):
    """A filter value that means nothing; `key` names the desk message."""

    def __init__(self, key: str, english: str, **args: Any) -> None:
        super().__init__(english)
        self.key = key
        self.args_for_message = args


def parse_date(raw: str, what: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise FilterRefused(
            "desk-bad-date", f"{what}: {raw!r} is not a date like 2026-11-30", value=raw
        ) from None


def check_filter(grid: GridIndex, flt: CaseFilter) -> CaseFilter:
    if flt.status and flt.status != "open" and flt.status not in {s.value for s in Status}:
        raise FilterRefused("desk-bad-status", f"no case status {flt.status!r}", value=flt.status)
    if flt.cell and flt.cell not in grid.cells:
        raise FilterRefused("desk-cell-unknown", f"no grid cell {flt.cell!r}", cell=flt.cell)
    if flt.since and flt.until and flt.since > flt.until:
        raise FilterRefused("desk-bad-range", "the start date is after the end date")
    return flt


def local_day_start(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz))


def filter_condition(grid: GridIndex, flt: CaseFilter, *, now: datetime, tz: str) -> Any:
    conditions: list[Any] = []
    if flt.status == "open":
        conditions.append(Case.status.in_([s.value for s in OPEN_STATUSES]))
    elif flt.status:
        conditions.append(Case.status == flt.status)
    if flt.category:
        conditions.append(Case.category == flt.category)
    if flt.cell:
        conditions.append(Case.cell_code.in_(sorted(subtree(grid, [flt.cell]))))
    if flt.overdue:
        conditions.append(
            and_(
                Case.status.in_([s.value for s in OPEN_STATUSES]),
                case_queries.overdue_expression(now),
            )
        )
    if flt.since:
        conditions.append(Case.created_at >= local_day_start(flt.since, tz))
    if flt.until:
        conditions.append(Case.created_at < local_day_start(flt.until + timedelta(days=1), tz))
    if flt.text.strip():
        needle = f"%{flt.text.strip()[:100]}%"
        conditions.append(or_(Case.description.ilike(needle), Case.number.ilike(needle)))
    return and_(true(), *conditions)


@dataclass(frozen=True)
class CaseRow:
    id: int
    number: str
    category: str
    status: str
    cell_code: str
    escalation_level: int
    urgent: bool
    overdue: bool
    reporter_count: int
    created_at: datetime
    lat: float
    lon: float
    description: str


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    total: int
    page: int
    pages: int


def _rows_query(where: Any, now: datetime) -> Any:
    late = case(
        (
            and_(
                Case.status.in_([s.value for s in OPEN_STATUSES]),
                case_queries.overdue_expression(now),
            ),
            1,
        ),
        else_=0,
    )
    return select(
        Case.id,
        Case.number,
        Case.category,
        Case.status,
        Case.cell_code,
        Case.escalation_level,
        Case.urgent,
        late,
        Case.reporter_count,
        Case.created_at,
        Case.lat,
        Case.lon,
        Case.description,
    ).where(where)


def _row(values: Sequence[Any]) -> CaseRow:
    (cid, number, category, status, cell, level, urgent, late, reporters, at, lat, lon, text) = (
        values
    )
    return CaseRow(
        cid,
        number,
        category,
        status,
        cell,
        level,
        bool(urgent),
        bool(late),
        reporters,
        at,
        lat,
        lon,
        text,
    )


async def list_cases(
    session: AsyncSession,
    grid: GridIndex,
    actor: Actor,
    flt: CaseFilter,
    *,
    now: datetime,
    tz: str,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> CasePage:
    """One page of the cases the actor may see that match the filter, newest first."""
    where = and_(scope_condition(grid, actor), filter_condition(grid, flt, now=now, tz=tz))
    total = int(await session.scalar(select(func.count()).select_from(Case).where(where)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = await session.execute(
        _rows_query(where, now)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return CasePage([_row(r) for r in rows], total, page, pages)


async def all_cases(
    session: AsyncSession, grid: GridIndex, actor: Actor, flt: CaseFilter, *, now: datetime, tz: str
) -> list[CaseRow]:
    where = and_(scope_condition(grid, actor), filter_condition(grid, flt, now=now, tz=tz))
    rows = await session.execute(_rows_query(where, now).order_by(Case.created_at, Case.id))
    return [_row(r) for r in rows]


CSV_COLUMNS = (
    "number",
    "created_at",
    "status",
    "overdue",
    "category",
    "urgent",
    "cell_code",
    "cell_name",
    "escalation_level",
    "reporters",
    "lat",
    "lon",
    "description",
)


def cases_csv(rows: Iterable[CaseRow], grid: GridIndex, *, tz: str) -> str:
    """The rows as CSV, UTF-8 with a byte-order mark so that Excel reads the Chinese right.

    No reporter is named: the export leaves the desk, and anonymity must survive it.
    """
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    zone = ZoneInfo(tz)
    for r in rows:
        ref = grid.cells.get(r.cell_code)
        writer.writerow(
            [
                r.number,
                r.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                r.status,
                "yes" if r.overdue else "no",
                r.category,
                "yes" if r.urgent else "no",
                r.cell_code,
                ref.names.zh if ref else "",
                r.escalation_level,
                r.reporter_count,
                f"{r.lat:.6f}",
                f"{r.lon:.6f}",
                _spreadsheet_safe(r.description),
            ]
        )
    return out.getvalue()


def _spreadsheet_safe(value: str) -> str:
    """A resident's text must not run as a formula when the bureau opens the file."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- one case -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    actor_kind: str
    actor_name: str  # staff by name; a supervisor by name; a resident never
    from_status: str | None
    to_status: str | None
    from_cell: str | None
    to_cell: str | None
    note: str


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    facts: CaseFacts
    timeline: list[TimelineEntry]
    photos: list[CasePhoto]
    allowed: frozenset[Verb]
    transfer_cells: list[str] = field(default_factory=list)
    # The stored type of each stored photo or recording, by its SHA-256 (the media store's).
    media_types: dict[str, str] = field(default_factory=dict)


async def _names(session: AsyncSession, events: Sequence[CaseEvent]) -> dict[tuple[str, int], str]:
    staff_ids = {e.actor_id for e in events if e.actor_kind == "staff" and e.actor_id}
    person_ids = {e.actor_id for e in events if e.actor_kind == "supervisor" and e.actor_id}
    names: dict[tuple[str, int], str] = {}
    if staff_ids:
        for sid, name in await session.execute(
            select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids))
        ):
            names[("staff", sid)] = name
    if person_ids:
        rows = await session.execute(
            select(Person.id, Supervisor.name, Person.display_name)
            .outerjoin(Supervisor, Supervisor.person_id == Person.id)
            .where(Person.id.in_(person_ids))
        )
        for pid, sup_name, display in rows:
            names[("supervisor", pid)] = sup_name or display or ""
    return names


async def case_detail(
    session: AsyncSession, grid: GridIndex, actor: Actor, number: str
) -> CaseDetail | None:
    """The case if the actor may view it; None alike when it is absent or outside their subtree."""
    found = await case_queries.case_by_number(session, number)
    if found is None:
        return None
    facts = facts_of(grid, found)
    if may(actor, Verb.VIEW, facts) is not None:
        return None
    events = await case_queries.case_timeline(session, found.id)
    names = await _names(session, events)
    timeline = [
        TimelineEntry(
            e.at,
            e.kind,
            e.actor_kind,
            names.get((e.actor_kind, e.actor_id or 0), "") if e.actor_kind != "resident" else "",
            e.from_status,
            e.to_status,
            e.from_cell,
            e.to_cell,
            e.note,
        )
        for e in events
    ]
    photos = list(
        (
            await session.scalars(
                select(CasePhoto).where(CasePhoto.case_id == found.id).order_by(CasePhoto.id)
            )
        ).all()
    )
    allowed = frozenset(
        v
        for v in (Verb.TRANSFER, Verb.MERGE, Verb.NOTE, Verb.MESSAGE)
        if may(actor, v, facts) is None
    )
    stored = sorted({p.sha256 for p in photos if p.sha256 is not None})
    types: dict[str, str] = {}
    if stored:
        rows = await session.execute(
            select(Media.sha256, Media.mime_type).where(Media.sha256.in_(stored))
        )
        types = {sha: mime for sha, mime in rows}
    return CaseDetail(found, facts, timeline, photos, allowed, media_types=types)


@dataclass(frozen=True)
class StoredMedia:
    """One stored photo or recording of a case, as the media store keeps it."""

    sha256: str
    mime_type: str
    kind: str


class MediaRefused(Exception):
    """No such media to show; `key` names the desk message (the case's own when out of scope)."""

    def __init__(self, key: str, english: str, **args: Any) -> None:
        super().__init__(english)
        self.key = key
        self.args_for_message = args


async def case_media(
    session: AsyncSession, grid: GridIndex, actor: Actor, number: str, photo_id: int
) -> StoredMedia:
    """A stored photo or recording of a case the actor may view.

    Asked by the same rule as the case page (`may`, VIEW): a case outside the actor's subtree is
    refused exactly as a case that does not exist; a photo of another case, or one not yet (or
    never) stored, is refused as no such photo.
    """
    found = await case_queries.case_by_number(session, number)
    if found is None or may(actor, Verb.VIEW, facts_of(grid, found)) is not None:
        raise MediaRefused(
            "desk-case-not-found", "no such case within your area", number=number[:20]
        )
    row = (
        await session.execute(
            select(CasePhoto.kind, Media.sha256, Media.mime_type)
            .join(Media, Media.sha256 == CasePhoto.sha256)
            .where(
                CasePhoto.id == photo_id,
                CasePhoto.case_id == found.id,
                CasePhoto.fetch_status == "stored",
            )
        )
    ).first()
    if row is None:
        raise MediaRefused(
            "desk-photo-not-found", "no stored photo by that number", number=found.number
        )
    kind, sha256, mime_type = row
    return StoredMedia(sha256, mime_type, kind)


# --- the desk's actions --------------------------------------------------------------------------


class ActionRefused(Exception):
    """The desk may not do this; `key` names the message that says why and what to do."""

    def __init__(self, key: str, english: str, **args: Any) -> None:
        super().__init__(english)
        self.key = key
        self.args_for_message = args


_REFUSAL_KEYS = {
    Refusal.NOT_YOURS: ("desk-case-not-found", "no such case within your area"),
    Refusal.STALE: ("desk-case-stale", "the case's status no longer allows this"),
    Refusal.READ_ONLY: ("desk-read-only", "a viewer account cannot act on cases"),
}


@dataclass
class DeskAction:
    """What one desk action needs besides the case: who, when, and the rules to decide by."""

    database: Database
    settings: Settings
    grid: GridIndex
    rules: CaseRules
    staff: Staff
    now: datetime


def _text(raw: str) -> str:
    text = raw.strip()
    if len(text) < case_actions.MIN_TEXT:
        raise ActionRefused("desk-text-required", "write at least a few words")
    return text[:MAX_TEXT]


async def _authorized(
    act: DeskAction, session: AsyncSession, number: str, verb: Verb, what: str
) -> Case:
    found = (
        await session.scalars(select(Case).where(Case.number == number[:20]).with_for_update())
    ).first()
    actor = actor_of(act.staff)
    refusal = Refusal.NOT_YOURS if found is None else may(actor, verb, facts_of(act.grid, found))
    if refusal is None:
        assert found is not None
        return found
    session.add(
        SecurityEvent(
            at=act.now,
            actor=f"{DESK_ACTOR_LABEL}:{act.staff.name}"[:100],
            action=what[:40],
            case_id=found.id if found is not None else None,
            reason=f"{verb}: {refusal} ({number[:20]})",
        )
    )
    key, english = _REFUSAL_KEYS[refusal]
    raise ActionRefused(key, english, number=number[:20])


async def _in_transaction(
    act: DeskAction,
    number: str,
    verb: Verb,
    what: str,
    work: Callable[[case_actions.SystemContext, Case], Any],
) -> int:
    """Run one action; returns how many outbox rows it wrote. A refusal is still recorded."""
    refusal: ActionRefused | None = None
    written = 0
    async with act.database.transaction() as session:
        try:
            found = await _authorized(act, session, number, verb, what)
            ctx = case_actions.SystemContext(session, act.settings, act.grid, act.now, act.rules)
            try:
                detail = await work(ctx, found)
            except TransitionRefused:
                raise ActionRefused(
                    "desk-case-stale", "the case's status no longer allows this", number=number
                ) from None
            await add_to_outbox(session, ctx.notifications, now=act.now)
            written = len(ctx.notifications)
            record(session, act.staff, what, now=act.now, case_id=found.id, detail=str(detail))
        except ActionRefused as exc:
            refusal = exc  # the SecurityEvent commits; the case is untouched
    if refusal is not None:
        raise refusal
    return written


async def reassign(act: DeskAction, number: str, to_cell: str, reason: str) -> int:
    target = act.grid.cells.get(to_cell.strip())
    if target is None:
        raise ActionRefused("desk-cell-unknown", f"no grid cell {to_cell!r}", cell=to_cell)
    chain = [c.code for c in act.grid.chain_of(target.code)]
    if not covers(actor_of(act.staff), chain):
        raise ActionRefused(
            "desk-cell-outside", f"cell {target.code} is outside your area", cell=target.code
        )
    text = _text(reason)

    async def work(ctx: case_actions.SystemContext, found: Case) -> str:
        if found.cell_code == target.code:
            raise ActionRefused(
                "desk-same-cell", "the case is with that cell already", cell=target.code
            )
        await case_actions.reassign_by_staff(ctx, act.staff.id, found, target.code, text)
        return f"to {target.code}"

    return await _in_transaction(act, number, Verb.TRANSFER, "desk-reassign", work)


async def close_as_duplicate(act: DeskAction, number: str, of_number: str, reason: str) -> int:
    text = _text(reason)
    wanted = of_number.strip()[:20]
    if wanted == number:
        raise ActionRefused("desk-same-case", "a case cannot duplicate itself", number=number)

    async def work(ctx: case_actions.SystemContext, found: Case) -> str:
        target = await _authorized(act, ctx.session, wanted, Verb.MERGE_INTO, "desk-merge-into")
        await case_actions.merge_as(
            ctx, found, target, text, actor_kind="staff", actor_id=act.staff.id
        )
        return f"into {target.number}"

    return await _in_transaction(act, number, Verb.MERGE, "desk-merge", work)


async def add_note(act: DeskAction, number: str, note: str) -> int:
    text = _text(note)

    async def work(ctx: case_actions.SystemContext, found: Case) -> str:
        await case_actions.note_by_staff(ctx, act.staff.id, found, text)
        return ""

    return await _in_transaction(act, number, Verb.NOTE, "desk-note", work)


async def message_reporters(act: DeskAction, number: str, message: str) -> int:
    text = _text(message)

    async def work(ctx: case_actions.SystemContext, found: Case) -> str:
        await case_actions.message_by_staff(ctx, act.staff.id, found, text)
        return f"{len(ctx.notifications)} messages"

    return await _in_transaction(act, number, Verb.MESSAGE, "desk-message", work)


# --- the map -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellLoad:
    open: int
    overdue: int


async def load_by_cell(
    session: AsyncSession, grid: GridIndex, actor: Actor, level: Level | None, *, now: datetime
) -> dict[str, CellLoad]:
    """Open and overdue cases per cell of `level` (of every level when None), counting each case
    in its ancestor there: one grouped count, rolled up the grid in Python. The count reads only
    `ix_cases_cell_load`, which holds every column it needs (migration 0008)."""
    late = func.sum(case((case_queries.overdue_expression(now), 1), else_=0))
    rows = await session.execute(
        select(Case.cell_code, func.count(), late)
        .where(Case.status.in_([s.value for s in OPEN_STATUSES]), scope_condition(grid, actor))
        .group_by(Case.cell_code)
    )
    totals: dict[str, list[int]] = {}
    for code, n, n_late in rows:
        for cell in grid.chain_of(code):
            if level is not None and cell.level != level:
                continue
            slot = totals.setdefault(cell.code, [0, 0])
            slot[0] += int(n)
            slot[1] += int(n_late or 0)
    return {code: CellLoad(o, d) for code, (o, d) in totals.items()}


async def cells_geojson(
    session: AsyncSession,
    grid: GridIndex,
    actor: Actor,
    level: Level | None,
    *,
    now: datetime,
    locale: str,
) -> str:
    """The cells of a level (of every level when None) within the actor's area as GeoJSON text
    (WGS-84), with their level and their open and overdue cases.

    Only the counts are read per request; each cell's geometry comes from the grid index, which
    builds its GeoJSON once per grid load (`GridIndex.geojson_geometry`).
    """
    load = await load_by_cell(session, grid, actor, level, now=now)
    area = None if covers(actor, ()) else subtree(grid, actor.cells)
    features = []
    for at in [level] if level is not None else list(Level):
        for ref in grid.at_level(at):
            if area is not None and ref.code not in area:
                continue
            counts = load.get(ref.code, CellLoad(0, 0))
            properties = json.dumps(
                {
                    "code": ref.code,
                    "level": at.value,
                    "name": ref.names.for_locale(locale),
                    "open": counts.open,
                    "overdue": counts.overdue,
                },
                ensure_ascii=False,
            )
            features.append(
                f'{{"type":"Feature","geometry":{grid.geojson_geometry(ref.code)},'
                f'"properties":{properties}}}'
            )
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


async def open_pins(
    session: AsyncSession, grid: GridIndex, actor: Actor, *, now: datetime, limit: int = 5000
) -> list[CaseRow]:
    """The open cases within the actor's area, for the map's pins (the most recent `limit`)."""
    where = and_(scope_condition(grid, actor), Case.status.in_([s.value for s in OPEN_STATUSES]))
    rows = await session.execute(
        _rows_query(where, now).order_by(Case.created_at.desc()).limit(limit)
    )
    return [_row(r) for r in rows]


# --- supervisors and invites -------------------------------------------------------------------


@dataclass(frozen=True)
class RosterEntry:
    supervisor_id: int
    name: str
    cell_code: str
    source: str
    channels: list[str]  # where they can be reached: "telegram", "wechat", …
    reachable: bool


async def roster(
    session: AsyncSession, grid: GridIndex, actor: Actor, *, cell: str | None = None
) -> list[RosterEntry]:
    where: Any = true()
    if not covers(actor, ()):
        where = SupervisorCell.cell_code.in_(sorted(subtree(grid, actor.cells)))
    if cell:
        where = and_(where, SupervisorCell.cell_code.in_(sorted(subtree(grid, [cell]))))
    rows = await session.execute(
        select(
            Supervisor.id,
            Supervisor.name,
            SupervisorCell.cell_code,
            SupervisorCell.source,
            Supervisor.telegram_chat_id,
            Supervisor.wechat_openid,
            Person.channel,
            Person.chat_id,
            Person.reachable,
        )
        .join(SupervisorCell, SupervisorCell.supervisor_id == Supervisor.id)
        .outerjoin(Person, Person.id == Supervisor.person_id)
        .where(where)
        .order_by(SupervisorCell.cell_code, Supervisor.id)
    )
    entries = []
    for sid, name, code, source, tg, wx, channel, chat_id, ok in rows:
        bound = channel if channel is not None and ok else None
        chats = case_queries.reachable_chats(bound, chat_id, tg, wx)
        entries.append(
            RosterEntry(
                sid,
                name,
                code,
                source,
                sorted({c for c, _ in chats}),
                bool(chats) and (channel is None or bool(ok)),
            )
        )
    return entries


def unstaffed_cells(grid: GridIndex, actor: Actor, staffed: Iterable[str]) -> list[str]:
    """Cells of the actor's area that nobody supervises, by code."""
    have = set(staffed)
    area = set(grid.cells) if covers(actor, ()) else subtree(grid, actor.cells)
    return sorted(code for code in area if code not in have)


async def staffed_cells(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(SupervisorCell.cell_code).distinct())).all())


async def unreachable_supervisors(
    session: AsyncSession, grid: GridIndex, actor: Actor, *, now: datetime
) -> list[tuple[RosterEntry, str]]:
    """Supervisors who cannot be told of a case: no chat, a chat that blocked us, or a WeChat
    chat a notice could not reach in the last 48 hours (outside WeChat's customer-service window
    with no template for it: `bot.delivery.undelivered`, the one list of such notices)."""
    entries = await roster(session, grid, actor)
    since = now - timedelta(hours=48)
    lost = [n for n in await undelivered_notices(session, channel="wechat") if n.written_at > since]
    lost_openids = {n.chat_id for n in lost}
    lost_people = {n.person_id for n in lost if n.person_id is not None}
    refused = {
        supervisor_id
        for supervisor_id, openid, person_id in (
            await session.execute(
                select(Supervisor.id, Supervisor.wechat_openid, Supervisor.person_id)
            )
        ).all()
        if openid in lost_openids or person_id in lost_people
    }
    out: list[tuple[RosterEntry, str]] = []
    for e in entries:
        if not e.channels:
            out.append((e, "no-chat"))
        elif not e.reachable:
            out.append((e, "blocked"))
        elif e.supervisor_id in refused:
            out.append((e, "wechat-window"))
    return out


class NotFound(Exception):
    """Nothing by that id or code; `key` names the desk message."""

    def __init__(self, key: str, english: str) -> None:
        super().__init__(english)
        self.key = key


async def remove_supervisor(
    database: Database, supervisor_id: int, *, staff: Staff | None, grid: GridIndex, now: datetime
) -> str:
    """Remove a supervisor and their cells; returns their name. Staff must cover every cell."""
    async with database.transaction() as session:
        found = await session.get(Supervisor, supervisor_id)
        if found is None:
            raise NotFound("desk-supervisor-unknown", f"no supervisor #{supervisor_id}")
        if staff is not None:
            cells = (
                await session.scalars(
                    select(SupervisorCell.cell_code).where(
                        SupervisorCell.supervisor_id == supervisor_id
                    )
                )
            ).all()
            actor = actor_of(staff)
            if actor.staff == StaffRole.VIEWER or not all(
                covers(actor, [c.code for c in grid.chain_of(code)]) for code in cells
            ):
                raise NotFound("desk-supervisor-unknown", f"no supervisor #{supervisor_id}")
            record(session, staff, "supervisor-removed", now=now, detail=found.name)
        name = found.name
        await session.delete(found)
    return name


@dataclass(frozen=True)
class InviteRow:
    id: int
    cell_code: str
    name: str
    created_at: datetime
    expires_at: datetime
    state: str  # pending | used | expired | revoked


def invite_state(invite: Invite, now: datetime) -> str:
    if invite.revoked_at is not None:
        return "revoked"
    if invite.used_at is not None:
        return "used"
    return "expired" if invite.expires_at <= now else "pending"


async def list_invites(
    session: AsyncSession, grid: GridIndex, actor: Actor, *, now: datetime
) -> list[InviteRow]:
    where: Any = true()
    if not covers(actor, ()):
        where = Invite.cell_code.in_(sorted(subtree(grid, actor.cells)))
    rows = await session.scalars(select(Invite).where(where).order_by(Invite.id.desc()))
    return [
        InviteRow(i.id, i.cell_code, i.name, i.created_at, i.expires_at, invite_state(i, now))
        for i in rows
    ]


async def revoke_invite(
    database: Database,
    *,
    invite_id: int | None = None,
    code: str | None = None,
    staff: Staff | None,
    grid: GridIndex,
    now: datetime,
) -> InviteRow:
    """Revoke a pending invite, named by id (the desk) or by its code (the operator)."""
    from bot.services.invites import hash_code, normalise_code

    async with database.transaction() as session:
        if code is not None:
            found = (
                await session.scalars(
                    select(Invite).where(Invite.code_hash == hash_code(normalise_code(code)))
                )
            ).first()
        else:
            found = await session.get(Invite, invite_id or 0)
        if found is not None and staff is not None:
            actor = actor_of(staff)
            chain = [c.code for c in grid.chain_of(found.cell_code)]
            if actor.staff == StaffRole.VIEWER or not covers(actor, chain):
                found = None
        if found is None:
            raise NotFound("desk-invite-unknown", "no such invite")
        state = invite_state(found, now)
        if state != "pending":
            raise NotFound("desk-invite-not-pending", f"the invite is {state}, not pending")
        found.revoked_at = now
        if staff is not None:
            record(session, staff, "invite-revoked", now=now, detail=f"#{found.id}")
        return InviteRow(
            found.id, found.cell_code, found.name, found.created_at, found.expires_at, "revoked"
        )

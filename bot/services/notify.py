"""Who hears about a case, and what they read (rendered in each recipient's language)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import Envelope
from bot.domain.geo import Datum, convert
from bot.domain.grid import CellRef, GridIndex
from bot.storage.models import Case, CaseReporter, Person, Supervisor, SupervisorCell
from handlers.contract import Button, Location, Reply
from messages import Translator

if TYPE_CHECKING:
    from bot.services.conversation import Turn

log = logging.getLogger(__name__)

# The datum each channel's map shows: Telegram clients use WGS-84, WeChat uses GCJ-02.
CHANNEL_DATUM = {"telegram": Datum.WGS84, "console": Datum.WGS84, "wechat": Datum.GCJ02}


def is_workday(day: date) -> bool:
    """China's official calendar (adjusted working days included), Mon–Fri beyond its range."""
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))
    except (NotImplementedError, ImportError):
        return day.weekday() < 5


@dataclass(frozen=True, slots=True)
class Target:
    channel: str
    chat_id: str
    locale: str | None
    supervisor_id: int
    cell_code: str


_STAFFED_CELLS = select(SupervisorCell.cell_code).where(
    SupervisorCell.cell_code.in_(bindparam("codes", expanding=True))
)
# Columns, not entities: this runs for every report, and no caller changes these rows.
_SUPERVISOR_CHATS = (
    select(
        SupervisorCell.cell_code,
        Supervisor.id,
        Supervisor.telegram_chat_id,
        Supervisor.wechat_openid,
        Person.id,
        Person.channel,
        Person.chat_id,
        Person.locale,
        Person.reachable,
    )
    .join(Supervisor, Supervisor.id == SupervisorCell.supervisor_id)
    .outerjoin(Person, Person.id == Supervisor.person_id)
    .where(SupervisorCell.cell_code.in_(bindparam("codes", expanding=True)))
    .order_by(Supervisor.id)
)


def supervisor_chats(
    bound_channel: str | None,
    bound_chat_id: str | None,
    telegram_chat_id: str | None,
    wechat_openid: str | None,
) -> list[tuple[str, str]]:
    """Where one supervisor can be reached: the chat they bound by invite (if still reachable),
    then the chats their roster entry names."""
    chats: list[tuple[str, str]] = []
    if bound_channel is not None and bound_chat_id:
        chats.append((bound_channel, bound_chat_id))
    if telegram_chat_id:
        chats.append(("telegram", telegram_chat_id))
    if wechat_openid:
        chats.append(("wechat", wechat_openid))
    return chats


async def first_staffed(session: AsyncSession, chain: Sequence[CellRef]) -> CellRef | None:
    """The deepest cell of the chain that has at least one supervisor."""
    codes = [c.code for c in chain]
    if not codes:
        return None
    staffed = set((await session.scalars(_STAFFED_CELLS, {"codes": codes})).all())
    return next((c for c in chain if c.code in staffed), None)


async def supervisor_targets(session: AsyncSession, cell_codes: Iterable[str]) -> list[Target]:
    """Every chat where the supervisors of these cells can be reached (deduplicated)."""
    codes = list(dict.fromkeys(cell_codes))
    if not codes:
        return []
    await session.flush()  # as an ORM query would: pending changes to people count
    connection = await session.connection()
    rows = await connection.execute(_SUPERVISOR_CHATS, {"codes": codes})
    targets: list[Target] = []
    seen: set[tuple[str, str]] = set()
    for (
        cell_code,
        supervisor_id,
        telegram_chat_id,
        wechat_openid,
        person_id,
        channel,
        person_chat_id,
        locale,
        reachable,
    ) in rows:
        chats = supervisor_chats(
            channel if person_id is not None and reachable else None,
            person_chat_id,
            telegram_chat_id,
            wechat_openid,
        )
        for chat in chats:
            if chat in seen:
                continue
            seen.add(chat)
            targets.append(Target(chat[0], chat[1], locale, supervisor_id, cell_code))
    return targets


async def reporter_targets(session: AsyncSession, case_id: int) -> list[tuple[Person, bool]]:
    """Everyone who reported the case, with whether they asked to stay anonymous."""
    rows = await session.execute(
        select(Person, CaseReporter.anonymous)
        .join(CaseReporter, CaseReporter.person_id == Person.id)
        .where(CaseReporter.case_id == case_id)
        .order_by(CaseReporter.joined_at, Person.id)
    )
    return [(person, bool(anonymous)) for person, anonymous in rows]


def cell_name(grid: GridIndex, code: str, locale: str) -> str:
    ref = grid.cells.get(code)
    return ref.names.for_locale(locale) if ref else code


def local_time(moment: datetime | None, tz_name: str) -> str:
    if moment is None:
        return "—"
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M")


def location_for(channel: str, case: Case, grid: GridIndex) -> Location:
    target = CHANNEL_DATUM.get(channel, Datum.WGS84)
    point = convert(case.lat, case.lon, source=grid.datum, target=target)
    return Location(point.lat, point.lon, target.value)


def supervisor_case_buttons(t: Translator, case: Case) -> tuple[tuple[Button, ...], ...]:
    """The actions a supervisor can take on a new case (handled by the supervisor dialog)."""
    cid = case.id
    return (
        (Button(t("sv-button-ack"), f"sv:ack:{cid}"), Button(t("sv-button-ask"), f"sv:ask:{cid}")),
        (
            Button(t("sv-button-transfer"), f"sv:tr:{cid}"),
            Button(t("sv-button-resolve"), f"sv:res:{cid}"),
        ),
        (Button(t("sv-button-reject"), f"sv:rej:{cid}"),),
    )


def new_case_envelopes(
    case: Case,
    turn: Turn,
    recipients: Sequence[Target],
    *,
    photos: Sequence[str],
    reporter_name: str | None,
) -> list[Envelope]:
    envelopes = []
    for target in recipients:
        t = Translator(target.locale or turn.settings.default_locale)
        same_channel = target.channel == turn.channel
        text = t(
            "sv-new-case",
            number=case.number,
            urgent="yes" if case.urgent else "no",
            category=t(f"category-{case.category}"),
            cell=cell_name(turn.grid, case.origin_cell_code, t.locale),
            responsible=cell_name(turn.grid, target.cell_code, t.locale),
            description=case.description,
            reporter=reporter_name if reporter_name else t("sv-reporter-anonymous"),
            photos=len(photos),
            ack_due=local_time(case.ack_due_at, turn.settings.timezone),
        )
        reply = Reply(
            text,
            buttons=supervisor_case_buttons(t, case),
            location=location_for(target.channel, case, turn.grid),
            photos=tuple(photos) if same_channel else (),
        )
        envelopes.append(
            Envelope(
                target.channel,
                target.chat_id,
                reply.to_payload(),
                dedupe_key=f"case:{case.id}:new:{target.channel}:{target.chat_id}",
                case_id=case.id,
            )
        )
    return envelopes


def joined_case_envelopes(
    case: Case,
    turn: Turn,
    recipients: Sequence[Target],
    *,
    description: str,
    reporter_name: str | None,
) -> list[Envelope]:
    envelopes = []
    for target in recipients:
        t = Translator(target.locale or turn.settings.default_locale)
        text = t(
            "sv-case-joined",
            number=case.number,
            reporters=case.reporter_count,
            description=description,
            reporter=reporter_name if reporter_name else t("sv-reporter-anonymous"),
        )
        envelopes.append(
            Envelope(target.channel, target.chat_id, Reply(text).to_payload(), case_id=case.id)
        )
    return envelopes

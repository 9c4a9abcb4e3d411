"""Reading cases and the people around them: who supervises a cell, who reported a case, inboxes.

Each query is written once here and shared by the conversation, the sweep and the desk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import and_, bindparam, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.cases import OPEN_STATUSES, Status
from bot.domain.grid import CellRef, GridIndex
from bot.services.notices import ReporterChat, SupervisorChat
from bot.storage.models import (
    Case,
    CaseEvent,
    CaseReporter,
    GridCell,
    Person,
    Supervisor,
    SupervisorCell,
)

INBOX_LIMIT = 20

# A reporter who has a chat to be written to. People who filed through Open311 have none (their
# client polls the request instead), so no notice for them waits in the outbox for ever.
HAS_CHAT = Person.chat_id != ""

_STAFFED_CELLS = select(SupervisorCell.cell_code).where(
    SupervisorCell.cell_code.in_(bindparam("codes", expanding=True))
)
# Columns, not entities: this runs for every report, and no caller changes these rows.
_SUPERVISOR_CHATS = (
    select(
        SupervisorCell.cell_code,
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
    .order_by(SupervisorCell.cell_code, Supervisor.id)
)


def reachable_chats(
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


async def supervisor_chats(
    session: AsyncSession, cell_codes: Iterable[str], *, once_per_chat: bool = False
) -> list[SupervisorChat]:
    """Every chat of every supervisor of these cells, per cell, in the order the cells came.

    With `once_per_chat`, a chat serving several of the cells appears once (for the first).
    """
    codes = list(dict.fromkeys(cell_codes))
    if not codes:
        return []
    await session.flush()  # as an ORM query would: pending changes to people count
    connection = await session.connection()
    rows = await connection.execute(_SUPERVISOR_CHATS, {"codes": codes})
    by_cell: dict[str, list[SupervisorChat]] = {code: [] for code in codes}
    seen: set[tuple[str, ...]] = set()
    for cell_code, telegram_chat, wechat_openid, person_id, channel, chat_id, locale, ok in rows:
        bound = channel if person_id is not None and ok else None
        for option in reachable_chats(bound, chat_id, telegram_chat, wechat_openid):
            by_cell[cell_code].append(SupervisorChat(cell_code, option[0], option[1], locale))
    chats: list[SupervisorChat] = []
    for code in codes:
        for chat in by_cell[code]:
            key = (
                (chat.channel, chat.chat_id)
                if once_per_chat
                else (code, chat.channel, chat.chat_id)
            )
            if key not in seen:
                seen.add(key)
                chats.append(chat)
    return chats


async def first_staffed(session: AsyncSession, chain: Sequence[CellRef]) -> CellRef | None:
    """The deepest cell of the chain that has at least one supervisor."""
    codes = [c.code for c in chain]
    if not codes:
        return None
    staffed = set((await session.scalars(_STAFFED_CELLS, {"codes": codes})).all())
    return next((c for c in chain if c.code in staffed), None)


async def reporter_chats(session: AsyncSession, case_id: int) -> list[ReporterChat]:
    """Everyone who reported the case, where they can be reached, in the order they reported."""
    rows = await session.execute(
        select(Person.id, Person.channel, Person.chat_id, Person.locale)
        .join(CaseReporter, CaseReporter.person_id == Person.id)
        .where(CaseReporter.case_id == case_id, HAS_CHAT)
        .order_by(CaseReporter.joined_at, Person.id)
    )
    return [ReporterChat(pid, channel, chat_id, locale) for pid, channel, chat_id, locale in rows]


def reporter_label(person: Person | None, *, anonymous: bool) -> str | None:
    """How supervisors see a reporter: None (shown as anonymous) when they asked for that."""
    if anonymous or person is None:
        return None
    return person.display_name or f"{person.channel}:{person.channel_user_id}"


async def case_by_number(session: AsyncSession, number: str) -> Case | None:
    return (await session.scalars(select(Case).where(Case.number == number[:20]))).first()


async def transfer_options(session: AsyncSession, grid: GridIndex, case: Case) -> list[CellRef]:
    """Neighbours (siblings under the same parent whose polygons touch) and the parent cell."""
    ref = grid.cells.get(case.cell_code)
    if ref is None or ref.parent_code is None:
        return []
    siblings = [c for c in grid.children(ref.parent_code) if c.code != ref.code]
    codes = [ref.code] + [c.code for c in siblings]
    rows = await session.execute(
        select(GridCell.code, GridCell.geometry_wkb).where(GridCell.code.in_(codes))
    )
    shapes = {code: shapely.from_wkb(wkb) for code, wkb in rows}
    own = shapes.get(ref.code)
    neighbours = [
        c
        for c in siblings
        if own is not None and c.code in shapes and shapes[c.code].intersects(own)
    ]
    parent = grid.cells.get(ref.parent_code)
    return neighbours + ([parent] if parent is not None else [])


async def case_timeline(session: AsyncSession, case_id: int) -> list[CaseEvent]:
    return list(
        (
            await session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id)
                .order_by(CaseEvent.at, CaseEvent.id)
            )
        ).all()
    )


# --- the inbox ------------------------------------------------------------------------------------


def visibility(grid: GridIndex, mine: set[str]) -> Any:
    """SQL condition: the case is in one of my cells, or was escalated from below up to one.

    The set form of `bot.domain.access.answerable_cells` (which decides a single case).
    """
    conditions: list[Any] = [Case.cell_code.in_(sorted(mine))]
    frontier = set(mine)
    for distance in range(1, 4):
        frontier = {child.code for code in frontier for child in grid.children(code)}
        if not frontier:
            break
        conditions.append(
            and_(Case.cell_code.in_(sorted(frontier)), Case.escalation_level >= distance)
        )
    return or_(*conditions) if mine else false()


def overdue_expression(now: datetime) -> Any:
    """Late now, or late before (an escalated case is late by definition)."""
    return or_(
        Case.escalation_level > 0,
        and_(
            Case.status.in_([Status.ASSIGNED.value, Status.REOPENED.value]), Case.ack_due_at <= now
        ),
        Case.resolve_due_at <= now,
    )


@dataclass(frozen=True)
class InboxEntry:
    case: Case
    overdue: bool


async def inbox(
    session: AsyncSession, grid: GridIndex, mine: set[str], now: datetime
) -> tuple[list[InboxEntry], int]:
    where = and_(Case.status.in_([s.value for s in OPEN_STATUSES]), visibility(grid, mine))
    total = int(await session.scalar(select(func.count()).select_from(Case).where(where)) or 0)
    late = case((overdue_expression(now), 1), else_=0)
    rows = await session.execute(
        select(Case, late)
        .where(where)
        .order_by(late.desc(), Case.created_at, Case.id)
        .limit(INBOX_LIMIT)
    )
    return [InboxEntry(c, bool(flag)) for c, flag in rows], total

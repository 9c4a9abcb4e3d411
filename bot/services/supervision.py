"""Supervisors work their cases: authorisation, transitions, the inbox, and who hears what.

Every function here runs inside the caller's transaction (a conversation Turn, or a sweep batch):
the case change, its CaseEvent and the outbox rows for everyone told commit together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Protocol

import shapely
from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.outbox import Envelope
from bot.domain.cases import (
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    DeadlinePolicy,
    Status,
    escalated_cells,
    escalation_step,
    next_status,
    parse_deadline_overrides,
)
from bot.domain.grid import CellRef, GridIndex
from bot.services import notify
from bot.storage.models import (
    Case,
    CaseEvent,
    CasePhoto,
    CaseReporter,
    GridCell,
    Person,
    SecurityEvent,
    Supervisor,
    SupervisorCell,
)
from handlers.contract import Button, Reply
from messages import LOCALES, Translator

MIN_TEXT = 2
MAX_TEXT = 1000
INBOX_LIMIT = 20
DIGEST_MAX_NUMBERS = 40


class Context(Protocol):
    """What supervision needs of a Turn; the sweep provides the same without a person."""

    session: AsyncSession
    settings: Settings
    grid: GridIndex
    now: datetime

    def notify(self, envelope: Envelope) -> None: ...


@dataclass
class SystemContext:
    """A Context for work nobody asked for in chat (the deadline sweep)."""

    session: AsyncSession
    settings: Settings
    grid: GridIndex
    now: datetime
    notifications: list[Envelope] = field(default_factory=list)

    def notify(self, envelope: Envelope) -> None:
        self.notifications.append(envelope)


class ActionRefused(Exception):
    """The person may not do this (now); `key` names the message that says why."""

    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key = key
        self.args_for_message = args


def deadline_policy(settings: Settings) -> DeadlinePolicy:
    return DeadlinePolicy(
        ack_hours=settings.ack_hours,
        ack_hours_urgent=settings.ack_hours_urgent,
        resolve_days=settings.resolve_days,
        follow_up_days=settings.follow_up_days,
        follow_up_answer_days=settings.follow_up_answer_days,
        working_days=settings.working_days,
        overrides=parse_deadline_overrides(settings.deadline_overrides),
        timezone=settings.timezone,
    )


def set_deadlines(ctx: Context, case: Case, cell_code: str, *, ack: bool) -> None:
    """Fresh deadlines for the cell now answerable for the case (its level's rules)."""
    ref = ctx.grid.cells.get(cell_code)
    level = ref.level.value if ref else "*"
    policy = deadline_policy(ctx.settings)
    if ack:
        case.ack_due_at = policy.ack_due(
            ctx.now,
            level=level,
            category=case.category,
            urgent=case.urgent,
            is_workday=notify.is_workday,
        )
    case.resolve_due_at = policy.resolve_due(
        ctx.now, level=level, category=case.category, is_workday=notify.is_workday
    )


# --- who is who ---------------------------------------------------------------------------------


def actor_label(person: Person) -> str:
    return f"{person.channel}:{person.channel_user_id}"[:100]


async def record_refusal(
    session: AsyncSession,
    person: Person,
    *,
    action: str,
    case_id: int | None,
    reason: str,
    now: datetime,
) -> None:
    session.add(
        SecurityEvent(
            at=now,
            actor=actor_label(person),
            action=action[:40],
            case_id=case_id,
            reason=reason[:400],
        )
    )


def _supervisor_of(person: Person) -> Any:
    """Supervisor rows that are this person: bound by invite, or named by chat in the roster."""
    conditions = [Supervisor.person_id == person.id]
    if person.channel == "telegram":
        conditions.append(Supervisor.telegram_chat_id == person.chat_id)
    if person.channel == "wechat":
        conditions.append(Supervisor.wechat_openid == person.chat_id)
    return or_(*conditions)


async def cells_of(session: AsyncSession, person: Person) -> set[str]:
    rows = await session.scalars(
        select(SupervisorCell.cell_code)
        .join(Supervisor, Supervisor.id == SupervisorCell.supervisor_id)
        .where(_supervisor_of(person))
    )
    return set(rows.all())


def case_cells(grid: GridIndex, case: Case) -> list[str]:
    """The responsible cell and the cells the case was escalated to, deepest first."""
    chain = [c.code for c in grid.chain_of(case.cell_code)] or [case.cell_code]
    return escalated_cells(chain, case.escalation_level)


def acting_cell(grid: GridIndex, case: Case, mine: set[str]) -> str:
    """The cell in whose name this supervisor acts on the case (the deepest they hold)."""
    return next((c for c in case_cells(grid, case) if c in mine), case.cell_code)


# Which case action each button starts, and the transition that must be allowed for it.
BUTTON_ACTIONS: dict[str, Action | None] = {
    "ack": Action.ACKNOWLEDGE,
    "ask": None,  # a question changes no state; any open case may be asked about
    "tr": Action.TRANSFER,
    "res": Action.RESOLVE,
    "rej": Action.REJECT,
}


def action_allowed(status: str, action: Action | None) -> bool:
    if action is None:
        return Status(status) in OPEN_STATUSES
    return (Status(status), action) in TRANSITIONS


async def case_for_supervisor(
    ctx: Context, person: Person, case_id: int, action: Action | None, *, what: str
) -> tuple[Case, str]:
    """The case and the acting cell, or ActionRefused (recorded as a SecurityEvent)."""
    session = ctx.session
    # A row lock on PostgreSQL: a sweep batch skips the case while a supervisor works on it.
    found = await session.get(Case, case_id, with_for_update=True)
    if found is None:
        await record_refusal(
            session, person, action=f"sv-{what}", case_id=None, reason="no such case", now=ctx.now
        )
        raise ActionRefused("sv-refused-invalid")
    mine = await cells_of(session, person)
    if not mine & set(case_cells(ctx.grid, found)):
        await record_refusal(
            session,
            person,
            action=f"sv-{what}",
            case_id=found.id,
            reason=f"not a supervisor of {found.cell_code} (level {found.escalation_level})",
            now=ctx.now,
        )
        raise ActionRefused("sv-refused-not-yours", number=found.number)
    if not action_allowed(found.status, action):
        await record_refusal(
            session,
            person,
            action=f"sv-{what}",
            case_id=found.id,
            reason=f"stale: case is {found.status}",
            now=ctx.now,
        )
        raise ActionRefused("sv-refused-stale", number=found.number, status=found.status)
    return found, acting_cell(ctx.grid, found, mine)


# --- transitions --------------------------------------------------------------------------------


def transition(
    ctx: Context,
    case: Case,
    action: Action,
    *,
    actor_kind: str,
    actor_id: int | None,
    note: str = "",
    from_cell: str | None = None,
    to_cell: str | None = None,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Apply one domain transition to the case and record it as a CaseEvent."""
    new = next_status(case.status, action)
    event = CaseEvent(
        case_id=case.id,
        kind=action.value,
        actor_kind=actor_kind,
        actor_id=actor_id,
        from_status=case.status,
        to_status=new.value,
        from_cell=from_cell or case.cell_code,
        to_cell=to_cell or case.cell_code,
        note=note,
        data=data or {},
        at=ctx.now,
    )
    case.status = new.value
    if action == Action.TRANSFER and to_cell:
        case.cell_code = to_cell
    case.version += 1
    case.updated_at = ctx.now
    ctx.session.add(event)
    return event


# --- who hears what -----------------------------------------------------------------------------


BUTTON_LABELS = (
    ("ack", "sv-button-ack"),
    ("ask", "sv-button-ask"),
    ("tr", "sv-button-transfer"),
    ("res", "sv-button-resolve"),
    ("rej", "sv-button-reject"),
)


@cache
def _button_labels(locale: str) -> tuple[tuple[str, str], ...]:
    t = Translator(locale)
    return tuple((code, t(key)) for code, key in BUTTON_LABELS)


def action_buttons(t: Translator, case_id: int, status: str) -> tuple[tuple[Button, ...], ...]:
    """The buttons of the actions the case's status still allows."""
    buttons = [
        Button(label, f"sv:{code}:{case_id}")
        for code, label in _button_labels(t.locale)
        if action_allowed(status, BUTTON_ACTIONS[code])
    ]
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


async def tell_reporters(
    ctx: Context,
    case: Case,
    key: str,
    *,
    cells: dict[str, str] | None = None,
    buttons: Callable[[Translator], tuple[tuple[Button, ...], ...]] | None = None,
    photos: Sequence[str] = (),
    photo_channel: str | None = None,
    skip_person_id: int | None = None,
    **args: Any,
) -> None:
    """Every reporter of the case hears `key`, in their language; cell codes become names."""
    for person, _anonymous in await notify.reporter_targets(ctx.session, case.id):
        if person.id == skip_person_id:
            continue
        t = Translator(person.locale or ctx.settings.default_locale)
        names = {k: notify.cell_name(ctx.grid, code, t.locale) for k, code in (cells or {}).items()}
        reply = Reply(
            t(key, number=case.number, **args, **names),
            buttons=buttons(t) if buttons else (),
            photos=tuple(photos) if person.channel == photo_channel else (),
        )
        ctx.notify(Envelope(person.channel, person.chat_id, reply.to_payload(), case_id=case.id))


@dataclass(frozen=True, slots=True)
class CellChat:
    cell_code: str
    channel: str
    chat_id: str
    locale: str | None


async def cell_chats(session: AsyncSession, codes: Iterable[str]) -> list[CellChat]:
    """Every chat of every supervisor of these cells, per cell (a chat may serve several cells)."""
    wanted = sorted(set(codes))
    if not wanted:
        return []
    rows = await session.execute(
        select(
            SupervisorCell.cell_code,
            Supervisor.telegram_chat_id,
            Supervisor.wechat_openid,
            Person.channel,
            Person.chat_id,
            Person.locale,
            Person.reachable,
        )
        .join(Supervisor, Supervisor.id == SupervisorCell.supervisor_id)
        .outerjoin(Person, Person.id == Supervisor.person_id)
        .where(SupervisorCell.cell_code.in_(wanted))
        .order_by(SupervisorCell.cell_code, Supervisor.id)
    )
    chats: list[CellChat] = []
    seen: set[tuple[str, str, str]] = set()
    for cell_code, telegram_chat, wechat_openid, channel, chat_id, locale, reachable in rows:
        options = notify.supervisor_chats(
            channel if reachable else None, chat_id, telegram_chat, wechat_openid
        )
        for option in options:
            if (cell_code, *option) not in seen:
                seen.add((cell_code, *option))
                chats.append(CellChat(cell_code, option[0], option[1], locale))
    return chats


@dataclass(frozen=True, slots=True)
class EscalationNotice:
    case_id: int
    number: str
    status: str
    from_cell: str
    to_cell: str | None  # None: overdue at the top of the grid, nowhere higher to go
    reason: str  # ack | resolve | reopened


_CELL, _OTHER, _NUMBERS = "\x00cell\x00", "\x00other\x00", "\x00numbers\x00"


@cache
def _notice_template(kind: str, reason: str, locale: str) -> str:
    """The notice rendered once, with markers where the cells and the numbers go."""
    t = Translator(locale)
    if kind == "in":
        return t("sv-escalated-in", reason=reason, cell=_CELL, numbers=_NUMBERS)
    if kind == "out":
        return t(
            "sv-escalated-out", reason=reason, cell=_OTHER, numbers=_NUMBERS, **{"from": _CELL}
        )
    return t("sv-overdue-top", reason=reason, cell=_CELL, numbers=_NUMBERS)


async def escalation_envelopes(
    session: AsyncSession, grid: GridIndex, settings: Settings, notices: Sequence[EscalationNotice]
) -> list[Envelope]:
    """Tell both levels: one digest per supervisor chat, not one message per case or cell.

    A digest has a section per kind of news: cases escalated to one of the chat's cells
    ("escalated to you"), cases that left one of its cells ("escalated from you to …") and, at
    the top of the grid, cases overdue there; each section lists its case numbers. A digest about
    a single case that reached the chat carries that case's buttons. Each section's text is
    rendered once per kind, reason and language and completed by string substitution, so a
    sweep of thousands of cases costs one row and one render per chat and section.
    """
    groups: dict[tuple[str, str, str, str], list[EscalationNotice]] = defaultdict(list)
    for n in notices:
        if n.to_cell is None:
            groups[("top", n.from_cell, n.from_cell, n.reason)].append(n)
        else:
            groups[("in", n.to_cell, n.from_cell, n.reason)].append(n)
            groups[("out", n.from_cell, n.to_cell, n.reason)].append(n)
    chats_by_cell: dict[str, list[CellChat]] = defaultdict(list)
    for chat in await cell_chats(session, {g[1] for g in groups}):
        chats_by_cell[chat.cell_code].append(chat)
    sections: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    arrived: dict[tuple[str, str, str], list[EscalationNotice]] = defaultdict(list)
    for (kind, cell, other, reason), items in groups.items():
        chats = chats_by_cell.get(cell)
        if not chats:
            continue
        numbers = [n.number for n in items]
        shown = ", ".join(numbers[:DIGEST_MAX_NUMBERS]) + (
            " …" if len(numbers) > DIGEST_MAX_NUMBERS else ""
        )
        for chat in chats:
            locale = chat.locale if chat.locale in LOCALES else settings.default_locale
            key = (chat.channel, chat.chat_id, locale)
            sections[key].append(
                _notice_template(kind, reason, locale)
                .replace(_CELL, notify.cell_name(grid, cell, locale))
                .replace(_OTHER, notify.cell_name(grid, other, locale))
                .replace(_NUMBERS, shown)
            )
            if kind != "out":
                arrived[key].extend(items)
    envelopes: list[Envelope] = []
    for (channel, chat_id, locale), texts in sections.items():
        cases = arrived.get((channel, chat_id, locale), [])
        # Buttons only when the digest is about exactly one case the chat must now act on.
        single = cases[0] if len(cases) == 1 and len(texts) == 1 else None
        buttons = (
            action_buttons(Translator(locale), single.case_id, single.status) if single else ()
        )
        envelopes.append(
            Envelope(
                channel,
                chat_id,
                Reply("\n\n".join(texts), buttons=buttons).to_payload(),
                case_id=single.case_id if single else None,
            )
        )
    return envelopes


async def reporter_label(ctx: Context, case: Case, t: Translator) -> str:
    if case.anonymous:
        return t("sv-reporter-anonymous")
    person = await ctx.session.get(Person, case.reporter_id)
    if person is None:
        return t("sv-reporter-anonymous")
    return person.display_name or f"{person.channel}:{person.channel_user_id}"


async def case_card_envelopes(
    ctx: Context, case: Case, cell_code: str, header_key: str, **header: Any
) -> list[Envelope]:
    """The full case, with its buttons, for the supervisors of `cell_code`."""
    envelopes = []
    for chat in await cell_chats(ctx.session, [cell_code]):
        t = Translator(chat.locale or ctx.settings.default_locale)
        names = {
            k: notify.cell_name(ctx.grid, v, t.locale)
            for k, v in header.items()
            if k in {"cell", "from"}
        }
        args = {**header, **names}
        body = t(
            "sv-new-case",
            number=case.number,
            urgent="yes" if case.urgent else "no",
            category=t(f"category-{case.category}"),
            cell=notify.cell_name(ctx.grid, case.origin_cell_code, t.locale),
            responsible=notify.cell_name(ctx.grid, case.cell_code, t.locale),
            description=case.description,
            reporter=await reporter_label(ctx, case, t),
            photos=0,
            ack_due=notify.local_time(case.ack_due_at, ctx.settings.timezone),
        )
        reply = Reply(
            t(header_key, number=case.number, **args) + "\n\n" + body,
            buttons=action_buttons(t, case.id, case.status),
            location=notify.location_for(chat.channel, case, ctx.grid),
        )
        envelopes.append(Envelope(chat.channel, chat.chat_id, reply.to_payload(), case_id=case.id))
    return envelopes


# --- the actions --------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return text.strip()[:MAX_TEXT]


async def acknowledge(ctx: Context, person: Person, case: Case, cell: str) -> None:
    transition(ctx, case, Action.ACKNOWLEDGE, actor_kind="supervisor", actor_id=person.id)
    case.acknowledged_at = ctx.now
    case.ack_due_at = None
    await tell_reporters(ctx, case, "rp-acknowledged", cells={"cell": cell})


async def ask_reporters(ctx: Context, person: Person, case: Case, cell: str, question: str) -> None:
    event = CaseEvent(
        case_id=case.id,
        kind="question",
        actor_kind="supervisor",
        actor_id=person.id,
        note=_clean(question),
        data={"asker_person_id": person.id, "cell": cell},
        at=ctx.now,
    )
    ctx.session.add(event)
    await ctx.session.flush()
    await tell_reporters(
        ctx,
        case,
        "rp-question",
        cells={"cell": cell},
        question=_clean(question),
        buttons=lambda t: ((Button(t("rp-button-answer"), f"rq:{event.id}"),),),
    )


@dataclass(frozen=True)
class Question:
    event: CaseEvent
    case: Case


async def question_for_reporter(ctx: Context, person: Person, event_id: int) -> Question:
    """The question a reporter may answer, or ActionRefused (recorded)."""
    event = await ctx.session.get(CaseEvent, event_id)
    found = (
        await ctx.session.get(Case, event.case_id) if event and event.kind == "question" else None
    )
    if event is None or found is None:
        await record_refusal(
            ctx.session,
            person,
            action="rp-answer",
            case_id=None,
            reason="no such question",
            now=ctx.now,
        )
        raise ActionRefused("sv-refused-invalid")
    if await ctx.session.get(CaseReporter, (found.id, person.id)) is None:
        await record_refusal(
            ctx.session,
            person,
            action="rp-answer",
            case_id=found.id,
            reason="not a reporter",
            now=ctx.now,
        )
        raise ActionRefused("rp-refused-not-yours")
    if Status(found.status) not in OPEN_STATUSES:
        await record_refusal(
            ctx.session,
            person,
            action="rp-answer",
            case_id=found.id,
            reason=f"stale: {found.status}",
            now=ctx.now,
        )
        raise ActionRefused("rp-refused-stale", number=found.number, status=found.status)
    return Question(event, found)


async def relay_answer(ctx: Context, person: Person, question: Question, answer: str) -> str:
    """Pass the reporter's answer to the supervisor who asked; returns the asking cell."""
    case = question.case
    data = question.event.data or {}
    ctx.session.add(
        CaseEvent(
            case_id=case.id,
            kind="answer",
            actor_kind="resident",
            actor_id=person.id,
            note=_clean(answer),
            data={"question_id": question.event.id},
            at=ctx.now,
        )
    )
    asker = await ctx.session.get(Person, int(data.get("asker_person_id", 0)))
    if asker is not None:
        t = Translator(asker.locale or ctx.settings.default_locale)
        # Only the case number and the answer: never who answered, nor from which chat.
        reply = Reply(t("sv-answer-relayed", number=case.number, answer=_clean(answer)))
        ctx.notify(Envelope(asker.channel, asker.chat_id, reply.to_payload(), case_id=case.id))
    return str(data.get("cell", case.cell_code))


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


async def transfer(
    ctx: Context, person: Person, case: Case, cell: str, to_code: str, reason: str
) -> None:
    old = case.cell_code
    transition(
        ctx,
        case,
        Action.TRANSFER,
        actor_kind="supervisor",
        actor_id=person.id,
        note=_clean(reason),
        to_cell=to_code,
    )
    case.escalation_level = 0
    case.acknowledged_at = None
    set_deadlines(ctx, case, to_code, ack=True)
    for envelope in await case_card_envelopes(
        ctx,
        case,
        to_code,
        "sv-transferred-to-you",
        cell=to_code,
        reason=_clean(reason),
        **{"from": old},
    ):
        ctx.notify(envelope)
    await tell_reporters(ctx, case, "rp-transferred", cells={"cell": to_code})


async def resolve(
    ctx: Context,
    person: Person,
    case: Case,
    cell: str,
    note: str,
    *,
    photo: str | None,
    channel: str,
) -> None:
    transition(
        ctx, case, Action.RESOLVE, actor_kind="supervisor", actor_id=person.id, note=_clean(note)
    )
    case.resolved_at = ctx.now
    case.ack_due_at = case.resolve_due_at = None
    case.follow_up_at = deadline_policy(ctx.settings).follow_up_at(ctx.now)
    if photo:
        ctx.session.add(
            CasePhoto(case_id=case.id, kind="resolution", channel=channel, file_ref=photo[:256])
        )
    await tell_reporters(
        ctx,
        case,
        "rp-resolved",
        cells={"cell": cell},
        note=_clean(note),
        photos=[photo] if photo else [],
        photo_channel=channel,
    )


async def reject(ctx: Context, person: Person, case: Case, cell: str, reason: str) -> None:
    transition(
        ctx, case, Action.REJECT, actor_kind="supervisor", actor_id=person.id, note=_clean(reason)
    )
    case.ack_due_at = case.resolve_due_at = None
    case.closed_at = ctx.now
    await tell_reporters(ctx, case, "rp-rejected", cells={"cell": cell}, reason=_clean(reason))


async def case_by_number(session: AsyncSession, number: str) -> Case | None:
    return (await session.scalars(select(Case).where(Case.number == number[:20]))).first()


async def open_case_by_number(session: AsyncSession, number: str) -> Case | None:
    found = (await session.scalars(select(Case).where(Case.number == number[:20]))).first()
    return found if found is not None and Status(found.status) in OPEN_STATUSES else None


async def merge(ctx: Context, person: Person, case: Case, target: Case, reason: str) -> None:
    """Case is a duplicate of target: it is closed as merged and its reporters join target."""
    transition(
        ctx,
        case,
        Action.MERGE,
        actor_kind="supervisor",
        actor_id=person.id,
        note=_clean(reason),
        data={"merged_into": target.number},
    )
    case.merged_into_id = target.id
    case.ack_due_at = case.resolve_due_at = None
    case.closed_at = ctx.now
    already = set(
        (
            await ctx.session.scalars(
                select(CaseReporter.person_id).where(CaseReporter.case_id == target.id)
            )
        ).all()
    )
    moving = (
        await ctx.session.scalars(select(CaseReporter).where(CaseReporter.case_id == case.id))
    ).all()
    joined = 0
    for row in moving:
        if row.person_id in already:
            continue
        # The original joining time: moving a report is not a new report (rate limits).
        ctx.session.add(
            CaseReporter(
                case_id=target.id,
                person_id=row.person_id,
                anonymous=row.anonymous,
                original=False,
                joined_at=row.joined_at,
            )
        )
        joined += 1
    target.reporter_count += joined
    target.updated_at = ctx.now
    ctx.session.add(
        CaseEvent(
            case_id=target.id,
            kind="joined",
            actor_kind="supervisor",
            actor_id=person.id,
            note=_clean(reason),
            data={"merged_from": case.number, "reporters": target.reporter_count},
            at=ctx.now,
        )
    )
    await tell_reporters(ctx, case, "rp-merged", target=target.number, reason=_clean(reason))


# --- escalation and the follow-up ---------------------------------------------------------------


async def escalate_one(ctx: Context, case: Case, reason: str, *, actor_id: int | None) -> None:
    """Move the case one level up (or keep it at the top) and tell both levels and the reporters."""
    chain = [c.code for c in ctx.grid.chain_of(case.cell_code)] or [case.cell_code]
    step = escalation_step(chain, case.escalation_level)
    if step.target is None:
        set_deadlines(ctx, case, step.current, ack=case.status != Status.ACKNOWLEDGED)
        return
    transition(
        ctx,
        case,
        Action.ESCALATE,
        actor_kind="system" if actor_id is None else "resident",
        actor_id=actor_id,
        from_cell=step.current,
        to_cell=step.target,
        data={"level": step.new_level, "reason": reason},
    )
    case.escalation_level = step.new_level
    set_deadlines(ctx, case, step.target, ack=case.status != Status.ACKNOWLEDGED)
    notice = EscalationNotice(case.id, case.number, case.status, step.current, step.target, reason)
    for envelope in await escalation_envelopes(ctx.session, ctx.grid, ctx.settings, [notice]):
        ctx.notify(envelope)
    target = ctx.grid.cells.get(step.target)
    await tell_reporters(
        ctx, case, "rp-escalated", reason=reason, level=target.level.value if target else "city"
    )


async def case_for_follow_up(ctx: Context, person: Person, case_id: int) -> Case:
    found = await ctx.session.get(Case, case_id, with_for_update=True)
    if found is None:
        await record_refusal(
            ctx.session,
            person,
            action="rp-follow-up",
            case_id=None,
            reason="no such case",
            now=ctx.now,
        )
        raise ActionRefused("sv-refused-invalid")
    if await ctx.session.get(CaseReporter, (found.id, person.id)) is None:
        await record_refusal(
            ctx.session,
            person,
            action="rp-follow-up",
            case_id=found.id,
            reason="not a reporter",
            now=ctx.now,
        )
        raise ActionRefused("rp-refused-not-yours")
    if found.status != Status.RESOLVED.value or found.follow_up_answer_due_at is None:
        await record_refusal(
            ctx.session,
            person,
            action="rp-follow-up",
            case_id=found.id,
            reason=f"stale: {found.status}",
            now=ctx.now,
        )
        raise ActionRefused("rp-refused-stale", number=found.number, status=found.status)
    return found


async def answer_follow_up(ctx: Context, person: Person, case: Case, *, fixed: bool) -> None:
    case.follow_up_answer_due_at = None
    if fixed:
        transition(
            ctx, case, Action.CLOSE, actor_kind="resident", actor_id=person.id, data={"fixed": True}
        )
        case.closed_at = ctx.now
        await tell_reporters(ctx, case, "rp-closed", skip_person_id=person.id)
        return
    transition(
        ctx, case, Action.REOPEN, actor_kind="resident", actor_id=person.id, data={"fixed": False}
    )
    case.resolved_at = None
    case.follow_up_at = None
    await tell_reporters(ctx, case, "rp-reopened", skip_person_id=person.id)
    await escalate_one(ctx, case, "reopened", actor_id=person.id)


def follow_up_buttons(case_id: int) -> Callable[[Translator], tuple[tuple[Button, ...], ...]]:
    return lambda t: (
        (
            Button(t("rp-button-fixed"), f"fu:y:{case_id}"),
            Button(t("rp-button-not-fixed"), f"fu:n:{case_id}"),
        ),
    )


# --- the inbox and one case ---------------------------------------------------------------------


def visibility(grid: GridIndex, mine: set[str]) -> Any:
    """SQL condition: the case is in one of my cells, or was escalated from below up to one."""
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
    session: AsyncSession, grid: GridIndex, person: Person, now: datetime
) -> tuple[list[InboxEntry], int]:
    mine = await cells_of(session, person)
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


async def is_supervisor(session: AsyncSession, person: Person) -> bool:
    return bool(await cells_of(session, person))


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

"""Changing a case: load, ask the rules, save the decision, stage the notices; one transaction.

Every function runs inside the caller's transaction (a conversation Turn or a sweep batch): the
case change, its CaseEvents and the outbox rows for everyone told commit together. The decision
itself is `bot.domain.decisions.CaseRules`'; the text is `bot.services.notices`'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.outbox import Envelope
from bot.domain.cases import Status
from bot.domain.decisions import Audience, CaseRules, CaseState, Decision, Event
from bot.domain.grid import GridIndex
from bot.services import case_queries, notices
from bot.storage.models import Case, CaseEvent, CasePhoto, CaseReporter, Person

MIN_TEXT = 2
MAX_TEXT = 1000


class Context(Protocol):
    """What changing a case needs of a Turn; the sweep provides the same without a person."""

    session: AsyncSession
    settings: Settings
    grid: GridIndex
    now: datetime

    @property
    def rules(self) -> CaseRules: ...

    def notify(self, envelope: Envelope) -> None: ...


@dataclass
class SystemContext:
    """A Context for work nobody asked for in chat (the deadline sweep)."""

    session: AsyncSession
    settings: Settings
    grid: GridIndex
    now: datetime
    rules: CaseRules
    notifications: list[Envelope] = field(default_factory=list)

    def notify(self, envelope: Envelope) -> None:
        self.notifications.append(envelope)


def clean(text: str) -> str:
    return text.strip()[:MAX_TEXT]


def state_of(case: Case) -> CaseState:
    return CaseState(
        status=Status(case.status),
        cell_code=case.cell_code,
        escalation_level=case.escalation_level,
        category=case.category,
        urgent=case.urgent,
        ack_due_at=case.ack_due_at,
        resolve_due_at=case.resolve_due_at,
        follow_up_at=case.follow_up_at,
        follow_up_answer_due_at=case.follow_up_answer_due_at,
        acknowledged_at=case.acknowledged_at,
        resolved_at=case.resolved_at,
        closed_at=case.closed_at,
    )


def event_row(
    case_id: int, event: Event, *, actor_kind: str, actor_id: int | None, now: datetime
) -> dict[str, object]:
    """The CaseEvent columns of one event (the ORM path and the sweep's bulk insert share it)."""
    return {
        "case_id": case_id,
        "kind": event.kind,
        "actor_kind": actor_kind,
        "actor_id": actor_id,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value if event.to_status else None,
        "from_cell": event.from_cell,
        "to_cell": event.to_cell,
        "note": event.note,
        "data": dict(event.data),
        "at": now,
    }


def apply(
    ctx: Context, case: Case, decision: Decision, *, actor_kind: str, actor_id: int | None
) -> list[CaseEvent]:
    """Write the decision into the case row and record its events; returns the event rows."""
    changed = decision.changed()
    for name, value in changed.items():
        setattr(case, name, value.value if isinstance(value, Status) else value)
    if changed or any(e.to_status is not None for e in decision.events):
        case.version += 1
        case.updated_at = ctx.now
    rows = [
        CaseEvent(**event_row(case.id, e, actor_kind=actor_kind, actor_id=actor_id, now=ctx.now))
        for e in decision.events
    ]
    ctx.session.add_all(rows)
    return rows


async def announce(
    ctx: Context,
    case: Case,
    recorded: Sequence[notices.Recorded],
    *,
    actor_person_id: int | None = None,
    photos: Sequence[str] = (),
    photo_channel: str | None = None,
) -> None:
    """Stage the notices of these events for everyone they concern."""
    events = [r.event for r in recorded]
    wanted = set().union(*(e.audiences for e in events)) if events else set()
    settings = ctx.settings
    if wanted & {Audience.REPORTERS, Audience.OTHER_REPORTERS}:
        reporters = await case_queries.reporter_chats(ctx.session, case.id)
        for envelope in notices.reporter_envelopes(
            recorded,
            reporters,
            number=case.number,
            case_id=case.id,
            grid=ctx.grid,
            default_locale=settings.default_locale,
            follow_up_days=settings.follow_up_days,
            actor_person_id=actor_person_id,
            photos=photos,
            photo_channel=photo_channel,
        ):
            ctx.notify(envelope)
    climbs = [
        notices.EscalationNotice.of(case.id, case.number, e)
        for e in events
        if Audience.BOTH_LEVELS in e.audiences
    ]
    if climbs:
        chats = await case_queries.supervisor_chats(ctx.session, notices.escalation_cells(climbs))
        for envelope in notices.escalation_digests(
            climbs, chats, ctx.grid, default_locale=settings.default_locale
        ):
            ctx.notify(envelope)
    for event in events:
        if Audience.RECEIVING_CELL in event.audiences and event.kind == "transfer":
            await _card_for_receiving_cell(ctx, case, event)


async def _card_for_receiving_cell(ctx: Context, case: Case, event: Event) -> None:
    to_cell = event.to_cell or case.cell_code
    chats = await case_queries.supervisor_chats(ctx.session, [to_cell])
    reporter = case_queries.reporter_label(
        await ctx.session.get(Person, case.reporter_id), anonymous=case.anonymous
    )
    for envelope in notices.case_card_envelopes(
        case,
        chats,
        ctx.grid,
        default_locale=ctx.settings.default_locale,
        timezone=ctx.settings.timezone,
        reporter=reporter,
        header=(
            "sv-transferred-to-you",
            {"cell": to_cell, "from": event.from_cell or "", "reason": event.note},
        ),
    ):
        ctx.notify(envelope)


async def _decide_and_tell(
    ctx: Context,
    case: Case,
    decision: Decision,
    *,
    actor_kind: str,
    actor_id: int | None,
    photos: Sequence[str] = (),
    photo_channel: str | None = None,
) -> list[CaseEvent]:
    rows = apply(ctx, case, decision, actor_kind=actor_kind, actor_id=actor_id)
    needs_ids = any(e.kind == "question" for e in decision.events)
    if needs_ids:
        await ctx.session.flush()  # a question's answer button names its event's id
    recorded = [
        notices.Recorded(e, row.id if needs_ids else None)
        for e, row in zip(decision.events, rows, strict=True)
    ]
    await announce(
        ctx,
        case,
        recorded,
        actor_person_id=actor_id if actor_kind in ("supervisor", "resident") else None,
        photos=photos,
        photo_channel=photo_channel,
    )
    return rows


# --- a supervisor's actions -----------------------------------------------------------------------


async def acknowledge(ctx: Context, person: Person, case: Case, cell: str) -> None:
    decision = ctx.rules.acknowledge(state_of(case), acting_cell=cell, now=ctx.now)
    await _decide_and_tell(ctx, case, decision, actor_kind="supervisor", actor_id=person.id)


async def ask_reporters(ctx: Context, person: Person, case: Case, cell: str, question: str) -> None:
    decision = ctx.rules.ask(
        state_of(case), acting_cell=cell, question=clean(question), asker=person.id
    )
    await _decide_and_tell(ctx, case, decision, actor_kind="supervisor", actor_id=person.id)


async def transfer(
    ctx: Context, person: Person, case: Case, cell: str, to_code: str, reason: str
) -> None:
    decision = ctx.rules.transfer(
        state_of(case), to_cell=to_code, reason=clean(reason), now=ctx.now
    )
    await _decide_and_tell(ctx, case, decision, actor_kind="supervisor", actor_id=person.id)


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
    decision = ctx.rules.resolve(state_of(case), acting_cell=cell, note=clean(note), now=ctx.now)
    if photo:
        ctx.session.add(
            CasePhoto(case_id=case.id, kind="resolution", channel=channel, file_ref=photo[:256])
        )
    await _decide_and_tell(
        ctx,
        case,
        decision,
        actor_kind="supervisor",
        actor_id=person.id,
        photos=[photo] if photo else [],
        photo_channel=channel,
    )


async def reject(ctx: Context, person: Person, case: Case, cell: str, reason: str) -> None:
    decision = ctx.rules.reject(state_of(case), acting_cell=cell, reason=clean(reason), now=ctx.now)
    await _decide_and_tell(ctx, case, decision, actor_kind="supervisor", actor_id=person.id)


async def merge(ctx: Context, person: Person, case: Case, target: Case, reason: str) -> None:
    """Case is a duplicate of target: it is closed as merged and its reporters join target.

    The caller has authorized both: `Verb.MERGE` on the duplicate, `Verb.MERGE_INTO` on target.
    """
    await merge_as(ctx, case, target, reason, actor_kind="supervisor", actor_id=person.id)


async def merge_as(
    ctx: Context, case: Case, target: Case, reason: str, *, actor_kind: str, actor_id: int
) -> None:
    """`merge`, by whoever decided it (a supervisor in chat, staff on the desk)."""
    decision = ctx.rules.merge(
        state_of(case), into_number=target.number, reason=clean(reason), now=ctx.now
    )
    case.merged_into_id = target.id
    await _decide_and_tell(ctx, case, decision, actor_kind=actor_kind, actor_id=actor_id)
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
            actor_kind=actor_kind,
            actor_id=actor_id,
            note=clean(reason),
            data={"merged_from": case.number, "reporters": target.reporter_count},
            at=ctx.now,
        )
    )


# --- what the bureau's staff do on the desk (authorized by the caller through `may`) -------------


async def reassign_by_staff(
    ctx: Context, staff_id: int, case: Case, to_code: str, reason: str
) -> None:
    """The desk hands a case to another cell: the same decision as a supervisor's transfer."""
    decision = ctx.rules.transfer(
        state_of(case), to_cell=to_code, reason=clean(reason), now=ctx.now
    )
    await _decide_and_tell(ctx, case, decision, actor_kind="staff", actor_id=staff_id)


async def note_by_staff(ctx: Context, staff_id: int, case: Case, text: str) -> None:
    decision = ctx.rules.note(state_of(case), text=clean(text))
    await _decide_and_tell(ctx, case, decision, actor_kind="staff", actor_id=staff_id)


async def message_by_staff(ctx: Context, staff_id: int, case: Case, text: str) -> None:
    decision = ctx.rules.message_reporters(state_of(case), text=clean(text))
    await _decide_and_tell(ctx, case, decision, actor_kind="staff", actor_id=staff_id)


# --- the reporters' side ----------------------------------------------------------------------


async def relay_answer(
    ctx: Context, person: Person, case: Case, question: CaseEvent, answer: str
) -> str:
    """Pass the reporter's answer to the supervisor who asked; returns the asking cell."""
    decision = ctx.rules.answer(state_of(case), question_id=question.id, answer=clean(answer))
    apply(ctx, case, decision, actor_kind="resident", actor_id=person.id)
    data = question.data or {}
    asker = await ctx.session.get(Person, int(data.get("asker_person_id", 0)))
    if asker is not None:
        ctx.notify(
            notices.answer_relayed(
                notices.Chat(asker.channel, asker.chat_id, asker.locale),
                number=case.number,
                answer=clean(answer),
                case_id=case.id,
                default_locale=ctx.settings.default_locale,
            )
        )
    return str(data.get("cell", case.cell_code))


async def answer_follow_up(ctx: Context, person: Person, case: Case, *, fixed: bool) -> None:
    decision = ctx.rules.answer_follow_up(state_of(case), fixed=fixed, now=ctx.now)
    await _decide_and_tell(ctx, case, decision, actor_kind="resident", actor_id=person.id)


# --- what the clock does (the sweep applies the same decisions in sets) --------------------------


async def escalate_if_late(ctx: Context, case: Case) -> bool:
    """One late case climbs: the per-case twin of the sweep's batch (the desk's "escalate now").

    Returns False, changing nothing, when no deadline of the case has passed.
    """
    state = state_of(case)
    reason = ctx.rules.late_reason(state, ctx.now)
    if reason is None:
        return False
    decision = ctx.rules.escalate(state, reason, now=ctx.now)
    await _decide_and_tell(ctx, case, decision, actor_kind="system", actor_id=None)
    return True


async def ask_follow_up(ctx: Context, case: Case) -> None:
    decision = ctx.rules.ask_follow_up(state_of(case), now=ctx.now)
    await _decide_and_tell(ctx, case, decision, actor_kind="system", actor_id=None)


async def close_unanswered(ctx: Context, case: Case) -> None:
    decision = ctx.rules.close_unanswered(state_of(case), now=ctx.now)
    await _decide_and_tell(ctx, case, decision, actor_kind="system", actor_id=None)

"""Loading a case for someone who wants to act on it, through the one authorization rule.

`bot.domain.access.may` decides; this module loads what it needs (the case, the person's cells,
whether they reported it), records every refusal as a SecurityEvent, and answers a lookup by
number the same whether the case does not exist or is not theirs. Misses by number are counted,
and too many within an hour make the person wait, as wrong invite codes do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.access import SUPERVISOR_VERBS, Actor, CaseFacts, Refusal, Verb, acting_cell, may
from bot.domain.cases import Status
from bot.domain.grid import GridIndex
from bot.storage.models import (
    Case,
    CaseEvent,
    CaseReporter,
    Person,
    SecurityEvent,
    Supervisor,
    SupervisorCell,
)

NUMBER_MISS = "case-number-miss"
MAX_NUMBER_MISSES = 10
MISS_WINDOW = timedelta(hours=1)


class ActionRefused(Exception):
    """The person may not do this (now); `key` names the message that says why."""

    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key = key
        self.args_for_message = args


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


def facts_of(grid: GridIndex, case: Case) -> CaseFacts:
    chain = [c.code for c in grid.chain_of(case.cell_code)] or [case.cell_code]
    return CaseFacts(
        status=Status(case.status),
        chain=chain,
        escalation_level=case.escalation_level,
        awaiting_follow_up=case.follow_up_answer_due_at is not None,
    )


async def actor_for(session: AsyncSession, person: Person, case: Case | None) -> Actor:
    cells = frozenset(await cells_of(session, person))
    reported = (
        case is not None and await session.get(CaseReporter, (case.id, person.id)) is not None
    )
    return Actor(cells, reported)


async def allows(
    session: AsyncSession, grid: GridIndex, person: Person, case: Case, verb: Verb
) -> bool:
    """Whether `may` allows the verb, without recording anything (for choosing what to show)."""
    return may(await actor_for(session, person, case), verb, facts_of(grid, case)) is None


@dataclass(frozen=True)
class Granted:
    case: Case
    cell: str  # the cell in whose name a supervisor acts (the case's own cell for a reporter)


async def authorize(
    session: AsyncSession,
    grid: GridIndex,
    person: Person,
    case: Case | None,
    verb: Verb,
    *,
    what: str,
    now: datetime,
) -> Granted:
    """The case and the acting cell if `may` allows it; otherwise ActionRefused, recorded.

    "Does not exist" and "not yours" are refused alike: nobody learns which numbers exist.
    """
    not_yours = "sv-refused-not-yours" if verb in SUPERVISOR_VERBS else "rp-refused-not-yours"
    if case is None:
        await record_refusal(
            session, person, action=what, case_id=None, reason="no such case", now=now
        )
        raise ActionRefused(not_yours)
    actor = await actor_for(session, person, case)
    facts = facts_of(grid, case)
    refusal = may(actor, verb, facts)
    if refusal == Refusal.NOT_YOURS:
        await record_refusal(
            session,
            person,
            action=what,
            case_id=case.id,
            reason=f"{verb}: not theirs ({case.cell_code}, level {case.escalation_level})",
            now=now,
        )
        raise ActionRefused(not_yours)
    if refusal == Refusal.STALE:
        await record_refusal(
            session,
            person,
            action=what,
            case_id=case.id,
            reason=f"stale: case is {case.status}",
            now=now,
        )
        stale = "sv-refused-stale" if verb in SUPERVISOR_VERBS else "rp-refused-stale"
        raise ActionRefused(stale, number=case.number, status=case.status)
    return Granted(case, acting_cell(actor, facts))


async def authorize_by_id(
    session: AsyncSession,
    grid: GridIndex,
    person: Person,
    case_id: int,
    verb: Verb,
    *,
    what: str,
    now: datetime,
) -> Granted:
    # A row lock on PostgreSQL: a sweep batch skips the case while someone acts on it.
    found = await session.get(Case, case_id, with_for_update=True)
    return await authorize(session, grid, person, found, verb, what=what, now=now)


async def number_misses(session: AsyncSession, person: Person, now: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .where(
                SecurityEvent.actor == actor_label(person),
                SecurityEvent.action == NUMBER_MISS,
                SecurityEvent.at > now - MISS_WINDOW,
            )
        )
        or 0
    )


async def case_by_number_for(
    session: AsyncSession,
    grid: GridIndex,
    person: Person,
    number: str,
    *verbs: Verb,
    now: datetime,
) -> Case | None:
    """The numbered case if one of `verbs` is allowed on it, else None: absent and not-theirs
    look alike.

    Each miss is a SecurityEvent; after MAX_NUMBER_MISSES within an hour every lookup misses
    (and is recorded) until the oldest is an hour old, so numbers cannot be probed in bulk.
    """
    throttled = await number_misses(session, person, now) >= MAX_NUMBER_MISSES
    found = None
    if not throttled:
        found = (await session.scalars(select(Case).where(Case.number == number[:20]))).first()
    if found is not None:
        actor = await actor_for(session, person, found)
        facts = facts_of(grid, found)
        if any(may(actor, verb, facts) is None for verb in verbs):
            return found
    await record_refusal(
        session,
        person,
        action=NUMBER_MISS,
        case_id=found.id if found is not None else None,
        reason=f"{'/'.join(verbs)} {number[:20]!r}: "
        + ("throttled" if throttled else "absent or not theirs"),
        now=now,
    )
    return None


async def question_for(
    session: AsyncSession, grid: GridIndex, person: Person, event_id: int, *, now: datetime
) -> tuple[CaseEvent, Case]:
    """A supervisor's question this reporter may answer, and its case; or ActionRefused."""
    event = await session.get(CaseEvent, event_id)
    found = None
    if event is not None and event.kind == "question":
        found = await session.get(Case, event.case_id)
    granted = await authorize(
        session, grid, person, found, Verb.ANSWER_QUESTION, what="rp-answer", now=now
    )
    assert event is not None  # authorize refuses a missing case, and a missing event has none
    return event, granted.case

"""Every change of a case, decided in one place.

`CaseRules` takes a case's state and what is asked of it and returns a `Decision`: the new state
(status, responsible cell, escalation level, deadlines) and the events that record what happened,
each naming whom it concerns. It does no I/O: a conversation turn, the deadline sweep and the staff
desk all apply the same decision, and only differ in how they load and save the rows.

Deadlines come from the one `DeadlinePolicy` the rules were built with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.cases import (
    OPEN_STATUSES,
    Action,
    DeadlinePolicy,
    EscalationStep,
    Status,
    TransitionRefused,
    escalation_step,
    next_status,
)
from bot.domain.grid import GridIndex

# A case waits for its cell's acknowledgement in these states (a reopened case must be taken up
# again); an acknowledged case only waits to be resolved.
ACK_WAITING: frozenset[Status] = frozenset({Status.ASSIGNED, Status.REOPENED})


class Reason(StrEnum):
    """Why a case climbs the grid."""

    ACK = "ack"  # not acknowledged in time
    RESOLVE = "resolve"  # not resolved in time
    REOPENED = "reopened"  # a reporter answered the follow-up: not fixed


class Audience(StrEnum):
    """Who must hear of an event; the notices module decides what each of them reads."""

    REPORTERS = "reporters"  # everyone who reported the case
    OTHER_REPORTERS = "other-reporters"  # every reporter but the one who acted
    RECEIVING_CELL = "receiving-cell"  # the supervisors of the cell the case was handed to
    BOTH_LEVELS = "both-levels"  # the supervisors of the cell left and of the cell reached
    ASKER = "asker"  # the supervisor whose question this answers


@dataclass(frozen=True, slots=True)
class CaseState:
    """The part of a case its rules read and change."""

    status: Status
    cell_code: str
    escalation_level: int
    category: str
    urgent: bool
    ack_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    follow_up_at: datetime | None = None
    follow_up_answer_due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


# The CaseState fields that are also columns of the stored case, in one list for every saver.
STATE_FIELDS: tuple[str, ...] = (
    "status",
    "cell_code",
    "escalation_level",
    "category",
    "urgent",
    "ack_due_at",
    "resolve_due_at",
    "follow_up_at",
    "follow_up_answer_due_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to a case, as its history records it."""

    kind: str
    from_status: Status | None
    to_status: Status | None
    from_cell: str | None
    to_cell: str | None
    note: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    audiences: frozenset[Audience] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision:
    before: CaseState
    state: CaseState
    events: tuple[Event, ...]

    def changed(self) -> dict[str, Any]:
        """The fields whose value the decision changed, by name."""
        return {
            name: getattr(self.state, name)
            for name in STATE_FIELDS
            if getattr(self.state, name) != getattr(self.before, name)
        }


class CaseRules:
    """The case's rules with one deadline policy and one grid; pure, and safe to share."""

    def __init__(self, policy: DeadlinePolicy, grid: GridIndex) -> None:
        self.policy = policy
        self.grid = grid
        # Deadlines and escalation steps repeat across a sweep's thousands of cases (one `now`,
        # a few levels and categories); remembered here, they are worked out once each.
        self._dues: dict[tuple[datetime, str, str, bool, bool], datetime] = {}
        self._steps: dict[tuple[str, int], tuple[EscalationStep, str | None]] = {}

    # --- deadlines ----------------------------------------------------------------------------

    def level_of(self, cell_code: str) -> str:
        ref = self.grid.cells.get(cell_code)
        return ref.level.value if ref else "*"

    def _due(
        self, now: datetime, cell_code: str, category: str, urgent: bool, ack: bool
    ) -> datetime:
        level = self.level_of(cell_code)
        key = (now, level, category, urgent, ack)
        due = self._dues.get(key)
        if due is None:
            if len(self._dues) > 4096:
                self._dues.clear()
            if ack:
                due = self.policy.ack_due(now, level=level, category=category, urgent=urgent)
            else:
                due = self.policy.resolve_due(now, level=level, category=category)
            self._dues[key] = due
        return due

    def ack_due(self, state: CaseState, cell_code: str, now: datetime) -> datetime:
        return self._due(now, cell_code, state.category, state.urgent, True)

    def resolve_due(self, state: CaseState, cell_code: str, now: datetime) -> datetime:
        return self._due(now, cell_code, state.category, state.urgent, False)

    # --- a new case ---------------------------------------------------------------------------

    def create(
        self,
        *,
        origin_cell: str,
        responsible_cell: str,
        category: str,
        urgent: bool,
        now: datetime,
        location_source: str,
    ) -> Decision:
        """A report becomes a case assigned to the deepest staffed cell above where it is."""
        new = CaseState(
            status=Status.NEW,
            cell_code=responsible_cell,
            escalation_level=0,
            category=category,
            urgent=urgent,
        )
        assigned = replace(
            new,
            status=next_status(Status.NEW, Action.ASSIGN),
            ack_due_at=self.ack_due(new, responsible_cell, now),
            resolve_due_at=self.resolve_due(new, responsible_cell, now),
        )
        return Decision(
            new,
            assigned,
            (
                Event("created", None, Status.NEW, None, origin_cell),
                Event(
                    "assigned",
                    Status.NEW,
                    assigned.status,
                    None,
                    responsible_cell,
                    data={"urgent": urgent, "location_source": location_source},
                    audiences=frozenset({Audience.RECEIVING_CELL}),
                ),
            ),
        )

    # --- what a supervisor does ---------------------------------------------------------------

    def _transition(
        self, state: CaseState, action: Action, **changes: Any
    ) -> tuple[CaseState, Status]:
        to = next_status(state.status, action)
        return replace(state, status=to, **changes), to

    @staticmethod
    def _in_place(
        kind: str,
        state: CaseState,
        to: Status | None,
        *,
        note: str = "",
        data: Mapping[str, Any] | None = None,
        audience: Audience = Audience.REPORTERS,
    ) -> Event:
        """An event that leaves the case in its cell (all but transfer and escalation)."""
        return Event(
            kind,
            state.status,
            to,
            state.cell_code,
            state.cell_code,
            note=note,
            data=data or {},
            audiences=frozenset({audience}),
        )

    def _step_in_place(
        self,
        state: CaseState,
        action: Action,
        *,
        note: str = "",
        data: Mapping[str, Any] | None = None,
        audience: Audience = Audience.REPORTERS,
        **changes: Any,
    ) -> Decision:
        """One transition that leaves the case in its cell, recorded as one event."""
        after, to = self._transition(state, action, **changes)
        event = self._in_place(action.value, state, to, note=note, data=data, audience=audience)
        return Decision(state, after, (event,))

    def acknowledge(self, state: CaseState, *, acting_cell: str, now: datetime) -> Decision:
        return self._step_in_place(
            state,
            Action.ACKNOWLEDGE,
            data={"cell": acting_cell},
            acknowledged_at=now,
            ack_due_at=None,
        )

    def ask(self, state: CaseState, *, acting_cell: str, question: str, asker: int) -> Decision:
        """A question to the reporters changes nothing, and any open case may be asked about."""
        if state.status not in OPEN_STATUSES:
            raise TransitionRefused(state.status, "ask")
        return Decision(
            state,
            state,
            (
                Event(
                    "question",
                    None,
                    None,
                    None,
                    None,
                    note=question,
                    data={"asker_person_id": asker, "cell": acting_cell},
                    audiences=frozenset({Audience.REPORTERS}),
                ),
            ),
        )

    def note(self, state: CaseState, *, text: str) -> Decision:
        """An internal note from the desk: part of the history, told to nobody."""
        return Decision(state, state, (Event("note", None, None, None, None, note=text),))

    def message_reporters(self, state: CaseState, *, text: str) -> Decision:
        """The desk writes to the reporters of an open case; nobody at the desk learns who they are."""
        if state.status not in OPEN_STATUSES:
            raise TransitionRefused(state.status, "message")
        return Decision(
            state,
            state,
            (
                Event(
                    "desk_message",
                    None,
                    None,
                    None,
                    None,
                    note=text,
                    audiences=frozenset({Audience.REPORTERS}),
                ),
            ),
        )

    def answer(self, state: CaseState, *, question_id: int, answer: str) -> Decision:
        return Decision(
            state,
            state,
            (
                Event(
                    "answer",
                    None,
                    None,
                    None,
                    None,
                    note=answer,
                    data={"question_id": question_id},
                    audiences=frozenset({Audience.ASKER}),
                ),
            ),
        )

    def transfer(self, state: CaseState, *, to_cell: str, reason: str, now: datetime) -> Decision:
        """Handed to a neighbouring or parent cell, which must acknowledge it afresh."""
        after, to = self._transition(
            state,
            Action.TRANSFER,
            cell_code=to_cell,
            escalation_level=0,
            acknowledged_at=None,
            ack_due_at=self.ack_due(state, to_cell, now),
            resolve_due_at=self.resolve_due(state, to_cell, now),
        )
        return Decision(
            state,
            after,
            (
                Event(
                    Action.TRANSFER.value,
                    state.status,
                    to,
                    state.cell_code,
                    to_cell,
                    note=reason,
                    audiences=frozenset({Audience.RECEIVING_CELL, Audience.REPORTERS}),
                ),
            ),
        )

    def resolve(self, state: CaseState, *, acting_cell: str, note: str, now: datetime) -> Decision:
        return self._step_in_place(
            state,
            Action.RESOLVE,
            note=note,
            data={"cell": acting_cell},
            resolved_at=now,
            ack_due_at=None,
            resolve_due_at=None,
            follow_up_at=self.policy.follow_up_at(now),
        )

    def reject(self, state: CaseState, *, acting_cell: str, reason: str, now: datetime) -> Decision:
        return self._step_in_place(
            state,
            Action.REJECT,
            note=reason,
            data={"cell": acting_cell},
            ack_due_at=None,
            resolve_due_at=None,
            closed_at=now,
        )

    def merge(self, state: CaseState, *, into_number: str, reason: str, now: datetime) -> Decision:
        """A duplicate: closed as merged; its reporters join the case it duplicates."""
        return self._step_in_place(
            state,
            Action.MERGE,
            note=reason,
            data={"merged_into": into_number},
            ack_due_at=None,
            resolve_due_at=None,
            closed_at=now,
        )

    def late_reason(self, state: CaseState, now: datetime) -> Reason | None:
        """Why an open case is late now, or None: acknowledgement first, then resolution."""
        if state.status in ACK_WAITING and state.ack_due_at is not None and state.ack_due_at <= now:
            return Reason.ACK
        if (
            state.status in OPEN_STATUSES
            and state.resolve_due_at is not None
            and state.resolve_due_at <= now
        ):
            return Reason.RESOLVE
        return None

    def _step(self, state: CaseState) -> tuple[EscalationStep, str | None]:
        """Where a case at this cell and level goes, and the level of the cell it reaches."""
        key = (state.cell_code, state.escalation_level)
        found = self._steps.get(key)
        if found is None:
            chain = [c.code for c in self.grid.chain_of(state.cell_code)] or [state.cell_code]
            step = escalation_step(chain, state.escalation_level)
            level = None if step.target is None else self.level_of(step.target)
            if len(self._steps) > 65536:
                self._steps.clear()
            found = self._steps[key] = (step, level)
        return found

    def escalate(self, state: CaseState, reason: Reason, *, now: datetime) -> Decision:
        """The one escalation rule, for a missed deadline and for a "not fixed" answer alike.

        The case climbs one level; the deadlines that called for it start afresh at the cell it
        reaches (for a reopened case both: it must be taken up and resolved again), the others
        run on. At the top of the grid there is nowhere to climb: a missed deadline is spent (so
        the sweep does not take the case again) and a reopened case gets fresh deadlines where
        it is; either way the top cell is told.
        """
        step, reached_level = self._step(state)
        if reason == Reason.REOPENED:
            renew_ack, renew_resolve = state.status in ACK_WAITING, True
        else:
            renew_ack = (
                state.status in ACK_WAITING
                and state.ack_due_at is not None
                and state.ack_due_at <= now
            )
            renew_resolve = state.resolve_due_at is not None and state.resolve_due_at <= now
        if step.target is None:
            if reason == Reason.REOPENED:
                after = replace(
                    state,
                    ack_due_at=self.ack_due(state, step.current, now)
                    if renew_ack
                    else state.ack_due_at,
                    resolve_due_at=self.resolve_due(state, step.current, now),
                )
            else:
                after = replace(
                    state,
                    ack_due_at=None if renew_ack else state.ack_due_at,
                    resolve_due_at=None if renew_resolve else state.resolve_due_at,
                )
            event = Event(
                "overdue",
                state.status,
                state.status,
                step.current,
                step.current,
                data={"reason": reason.value},
                audiences=frozenset({Audience.BOTH_LEVELS}),
            )
            return Decision(state, after, (event,))
        after, to = self._transition(
            state,
            Action.ESCALATE,
            escalation_level=step.new_level,
            ack_due_at=self.ack_due(state, step.target, now) if renew_ack else state.ack_due_at,
            resolve_due_at=self.resolve_due(state, step.target, now)
            if renew_resolve
            else state.resolve_due_at,
        )
        event = Event(
            Action.ESCALATE.value,
            state.status,
            to,
            step.current,
            step.target,
            data={"level": step.new_level, "reason": reason.value, "reached": reached_level},
            audiences=frozenset({Audience.BOTH_LEVELS, Audience.REPORTERS}),
        )
        return Decision(state, after, (event,))

    # --- the follow-up ("回头看") --------------------------------------------------------------

    def ask_follow_up(self, state: CaseState, *, now: datetime) -> Decision:
        """Some days after resolution the reporters are asked whether it is really fixed."""
        if state.status != Status.RESOLVED:
            raise TransitionRefused(state.status, "follow-up")
        after = replace(
            state, follow_up_at=None, follow_up_answer_due_at=self.policy.follow_up_answer_due(now)
        )
        return Decision(
            state,
            after,
            (
                Event(
                    "follow_up",
                    state.status,
                    state.status,
                    state.cell_code,
                    state.cell_code,
                    audiences=frozenset({Audience.REPORTERS}),
                ),
            ),
        )

    def answer_follow_up(self, state: CaseState, *, fixed: bool, now: datetime) -> Decision:
        """Fixed: the case closes. Not fixed: it reopens and climbs a level (`escalate`)."""
        if fixed:
            return self._step_in_place(
                state,
                Action.CLOSE,
                data={"fixed": True},
                audience=Audience.OTHER_REPORTERS,
                follow_up_answer_due_at=None,
                closed_at=now,
            )
        reopened, to = self._transition(
            state, Action.REOPEN, follow_up_answer_due_at=None, resolved_at=None, follow_up_at=None
        )
        reopen = self._in_place(
            Action.REOPEN.value,
            state,
            to,
            data={"fixed": False},
            audience=Audience.OTHER_REPORTERS,
        )
        climbed = self.escalate(reopened, Reason.REOPENED, now=now)
        return Decision(state, climbed.state, (reopen, *climbed.events))

    def close_unanswered(self, state: CaseState, *, now: datetime) -> Decision:
        """Nobody answered the follow-up in time: the case closes as resolved."""
        return self._step_in_place(
            state, Action.CLOSE, data={"fixed": None}, follow_up_answer_due_at=None, closed_at=now
        )

"""Who may do what to a case: the one authorization rule.

A supervisor acts on the cases of the cells they hold, and on cases escalated from below up to one
of them; a resident acts only on cases they reported; a member of the bureau's staff acts on the
desk on every case within their subtree (an admin's is the whole grid; a viewer only looks). Every entry (a chat button, a typed number,
the follow-up answer, the staff desk) asks `may` and records what it refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.cases import OPEN_STATUSES, TRANSITIONS, Action, Status, escalated_cells


class Verb(StrEnum):
    # A supervisor's verbs.
    VIEW = "view"
    ACKNOWLEDGE = "ack"
    ASK = "ask"
    TRANSFER = "tr"
    RESOLVE = "res"
    REJECT = "rej"
    MERGE = "merge"  # close this case as a duplicate of another …
    MERGE_INTO = "merge-into"  # … which must be an open case the same supervisor may see
    # A reporter's verbs.
    VIEW_AS_REPORTER = "view-reported"
    ANSWER_QUESTION = "answer"
    ANSWER_FOLLOW_UP = "follow-up"
    # The desk's own verbs (staff also VIEW, TRANSFER to reassign, MERGE and MERGE_INTO).
    NOTE = "note"  # an internal note, never sent to anyone
    MESSAGE = "message"  # a message to the case's reporters, who stay anonymous to staff


class StaffRole(StrEnum):
    ADMIN = "admin"  # the whole grid
    COUNTY = "county"  # the subtree of one cell
    VIEWER = "viewer"  # looks at the whole grid, acts on nothing


# The transition a verb needs the case's status to allow; None: any open case will do.
_NEEDS: dict[Verb, Action | None] = {
    Verb.ACKNOWLEDGE: Action.ACKNOWLEDGE,
    Verb.ASK: None,
    Verb.TRANSFER: Action.TRANSFER,
    Verb.RESOLVE: Action.RESOLVE,
    Verb.REJECT: Action.REJECT,
    Verb.MERGE: Action.MERGE,
    Verb.MERGE_INTO: None,
    Verb.ANSWER_QUESTION: None,
    Verb.MESSAGE: None,
}
SUPERVISOR_VERBS = frozenset(
    {
        Verb.VIEW,
        Verb.ACKNOWLEDGE,
        Verb.ASK,
        Verb.TRANSFER,
        Verb.RESOLVE,
        Verb.REJECT,
        Verb.MERGE,
        Verb.MERGE_INTO,
    }
)
STAFF_VERBS = frozenset(
    {Verb.VIEW, Verb.TRANSFER, Verb.MERGE, Verb.MERGE_INTO, Verb.NOTE, Verb.MESSAGE}
)


class Refusal(StrEnum):
    NOT_YOURS = "not-yours"  # answered as "no such case": a refusal must not reveal existence
    STALE = "stale"  # yours, but its status no longer allows this
    READ_ONLY = "read-only"  # a viewer may look but not act


@dataclass(frozen=True, slots=True)
class Actor:
    cells: frozenset[str]  # the grid cells the person supervises
    reported: bool = False  # whether they reported the case in question
    # Desk staff: `cells` are the roots of their subtree (empty for an admin or a viewer).
    staff: StaffRole | None = None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    status: Status
    chain: Sequence[str]  # the responsible cell's chain, itself first and the city last
    escalation_level: int
    awaiting_follow_up: bool = False  # asked "is it fixed?", answer not yet in


def answerable_cells(case: CaseFacts) -> list[str]:
    """The responsible cell and each cell the case has climbed to, deepest first."""
    return escalated_cells(list(case.chain), case.escalation_level)


def covers(actor: Actor, chain: Sequence[str]) -> bool:
    """Whether a staff member's subtree holds a cell with this chain (itself first)."""
    if actor.staff in (StaffRole.ADMIN, StaffRole.VIEWER):
        return True
    return actor.staff == StaffRole.COUNTY and bool(actor.cells & set(chain))


def may(actor: Actor, verb: Verb, case: CaseFacts) -> Refusal | None:
    """None if the actor may take this action on the case now; otherwise why not."""
    if actor.staff is not None:
        if verb not in STAFF_VERBS or not covers(actor, case.chain):
            return Refusal.NOT_YOURS
        if verb == Verb.VIEW:
            return None
        if actor.staff == StaffRole.VIEWER:
            return Refusal.READ_ONLY
        if verb == Verb.NOTE:
            return None
    elif verb in SUPERVISOR_VERBS:
        if not actor.cells & set(answerable_cells(case)):
            return Refusal.NOT_YOURS
    elif not actor.reported:
        return Refusal.NOT_YOURS
    if verb in (Verb.VIEW, Verb.VIEW_AS_REPORTER):
        return None
    if verb == Verb.ANSWER_FOLLOW_UP:
        ok = case.status == Status.RESOLVED and case.awaiting_follow_up
        return None if ok else Refusal.STALE
    action = _NEEDS[verb]
    if action is None:
        return None if case.status in OPEN_STATUSES else Refusal.STALE
    return None if (case.status, action) in TRANSITIONS else Refusal.STALE


def acting_cell(actor: Actor, case: CaseFacts) -> str:
    """The cell in whose name a supervisor acts on the case: the deepest of theirs it reached."""
    cells = answerable_cells(case)
    return next((c for c in cells if c in actor.cells), cells[0] if cells else "")


def offered_verbs(status: Status) -> list[Verb]:
    """The case-card buttons a status still allows, in the card's order."""
    card = (Verb.ACKNOWLEDGE, Verb.ASK, Verb.TRANSFER, Verb.RESOLVE, Verb.REJECT)
    everyone = CaseFacts(status, ("",), 0)
    return [v for v in card if may(Actor(frozenset({""})), v, everyone) is None]

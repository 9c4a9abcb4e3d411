"""Case lifecycle: states, allowed transitions, deadlines and the escalation target.

Pure rules: the services apply them inside a transaction and record each transition as a
CaseEvent, so a case's history can be replayed from its events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    REJECTED = "rejected"
    MERGED = "merged"


class Action(StrEnum):
    ASSIGN = "assign"
    ACKNOWLEDGE = "acknowledge"
    TRANSFER = "transfer"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    REJECT = "reject"
    MERGE = "merge"


OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.NEW, Status.ASSIGNED, Status.ACKNOWLEDGED, Status.REOPENED}
)
FINAL_STATUSES: frozenset[Status] = frozenset({Status.CLOSED, Status.REJECTED, Status.MERGED})

# (from, action) → to. Transfer and escalation move the case to another cell and leave it
# waiting for that cell's acknowledgement.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.NEW, Action.ASSIGN): Status.ASSIGNED,
    (Status.ASSIGNED, Action.ACKNOWLEDGE): Status.ACKNOWLEDGED,
    (Status.REOPENED, Action.ACKNOWLEDGE): Status.ACKNOWLEDGED,
    (Status.ASSIGNED, Action.TRANSFER): Status.ASSIGNED,
    (Status.ACKNOWLEDGED, Action.TRANSFER): Status.ASSIGNED,
    (Status.REOPENED, Action.TRANSFER): Status.ASSIGNED,
    (Status.ASSIGNED, Action.ESCALATE): Status.ASSIGNED,
    (Status.ACKNOWLEDGED, Action.ESCALATE): Status.ACKNOWLEDGED,
    (Status.REOPENED, Action.ESCALATE): Status.REOPENED,
    (Status.ASSIGNED, Action.RESOLVE): Status.RESOLVED,
    (Status.ACKNOWLEDGED, Action.RESOLVE): Status.RESOLVED,
    (Status.REOPENED, Action.RESOLVE): Status.RESOLVED,
    (Status.RESOLVED, Action.CLOSE): Status.CLOSED,
    (Status.RESOLVED, Action.REOPEN): Status.REOPENED,
    (Status.NEW, Action.REJECT): Status.REJECTED,
    (Status.ASSIGNED, Action.REJECT): Status.REJECTED,
    (Status.ACKNOWLEDGED, Action.REJECT): Status.REJECTED,
    (Status.REOPENED, Action.REJECT): Status.REJECTED,
    (Status.NEW, Action.MERGE): Status.MERGED,
    (Status.ASSIGNED, Action.MERGE): Status.MERGED,
    (Status.ACKNOWLEDGED, Action.MERGE): Status.MERGED,
    (Status.REOPENED, Action.MERGE): Status.MERGED,
}


class TransitionRefused(Exception):
    def __init__(self, status: Status, action: Action) -> None:
        super().__init__(f"a {status} case cannot be {action}d")
        self.status = status
        self.action = action


def next_status(status: Status | str, action: Action) -> Status:
    current = Status(status)
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise TransitionRefused(current, action) from None


def allowed_actions(status: Status | str) -> list[Action]:
    current = Status(status)
    return [action for (s, action) in TRANSITIONS if s == current]


def is_open(status: Status | str) -> bool:
    return Status(status) in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """How long each step may take; per grid level and category overrides win over defaults."""

    ack_hours: float = 24.0
    ack_hours_urgent: float = 2.0
    resolve_days: float = 15.0
    follow_up_days: float = 3.0
    follow_up_answer_days: float = 7.0
    working_days: bool = False
    # {(level or "*", category or "*"): (ack_hours, resolve_days)}
    overrides: tuple[tuple[str, str, float, float], ...] = ()

    def _override(self, level: str, category: str) -> tuple[float, float] | None:
        for lvl, cat, ack, resolve in self.overrides:
            if lvl in {level, "*"} and cat in {category, "*"}:
                return ack, resolve
        return None

    def ack_due(
        self,
        start: datetime,
        *,
        level: str,
        category: str,
        urgent: bool,
        is_workday: Callable[[date], bool] | None = None,
    ) -> datetime:
        override = self._override(level, category)
        hours = self.ack_hours_urgent if urgent else (override[0] if override else self.ack_hours)
        # Urgent cases are clocked in plain hours, always: a hazard does not wait for Monday.
        return add_duration(
            start,
            timedelta(hours=hours),
            is_workday=None if urgent or not self.working_days else is_workday,
        )

    def resolve_due(
        self,
        start: datetime,
        *,
        level: str,
        category: str,
        is_workday: Callable[[date], bool] | None = None,
    ) -> datetime:
        override = self._override(level, category)
        days = override[1] if override else self.resolve_days
        return add_duration(
            start, timedelta(days=days), is_workday=is_workday if self.working_days else None
        )

    def follow_up_at(self, resolved_at: datetime) -> datetime:
        return resolved_at + timedelta(days=self.follow_up_days)

    def follow_up_answer_due(self, asked_at: datetime) -> datetime:
        return asked_at + timedelta(days=self.follow_up_answer_days)


def add_duration(
    start: datetime, duration: timedelta, *, is_workday: Callable[[date], bool] | None = None
) -> datetime:
    """`start + duration`, counting only working days when `is_workday` is given.

    Working time is counted in whole calendar days of 24 h that fall on working days: a 24-hour
    deadline set on a Friday evening falls due on Monday evening (or later, around holidays).
    """
    if is_workday is None:
        return start + duration
    remaining = duration
    current = start
    step = timedelta(days=1)
    guard = 0
    while remaining > timedelta(0):
        guard += 1
        if guard > 3660:
            raise ValueError("no working days found within ten years")
        if not is_workday(current.date()):
            current += step
            continue
        chunk = min(step, remaining)
        current += chunk
        remaining -= chunk
    # A deadline that lands on a day off moves on to the next working day.
    while not is_workday(current.date()):
        current += step
        guard += 1
        if guard > 3660:
            raise ValueError("no working days found within ten years")
    return current


def escalation_target(chain_codes: list[str], current: str) -> str | None:
    """The next cell up from `current` in a chain (deepest first), or None at the top."""
    try:
        i = chain_codes.index(current)
    except ValueError:
        return None
    return chain_codes[i + 1] if i + 1 < len(chain_codes) else None


def format_case_number(year: int, sequence: int) -> str:
    """Short and readable aloud: 2026-00042."""
    return f"{year}-{sequence:05d}"

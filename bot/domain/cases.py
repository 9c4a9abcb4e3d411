"""Case lifecycle: states, allowed transitions, deadlines and the escalation target.

Pure rules: the services apply them inside a transaction and record each transition as a
CaseEvent, so a case's history can be replayed from its events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo


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
    def __init__(self, status: Status, action: Action | str) -> None:
        super().__init__(f"a {status} case does not allow {action}")
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
    # Working days are days of the bureau's calendar, so they are counted in its time zone.
    timezone: str = "Asia/Shanghai"
    # The bureau's calendar (a service supplies China's official one); None: Monday to Friday.
    is_workday: Callable[[date], bool] | None = None

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone)) if moment.tzinfo else moment

    def _calendar(self, is_workday: Callable[[date], bool] | None) -> Callable[[date], bool] | None:
        """The day filter deadlines count with: None when they count calendar time."""
        if not self.working_days:
            return None
        return is_workday or self.is_workday or _monday_to_friday

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
            self._local(start),
            timedelta(hours=hours),
            is_workday=None if urgent else self._calendar(is_workday),
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
            self._local(start), timedelta(days=days), is_workday=self._calendar(is_workday)
        )

    def follow_up_at(self, resolved_at: datetime) -> datetime:
        return resolved_at + timedelta(days=self.follow_up_days)

    def follow_up_answer_due(self, asked_at: datetime) -> datetime:
        return asked_at + timedelta(days=self.follow_up_answer_days)


def _monday_to_friday(day: date) -> bool:
    return day.weekday() < 5


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


# --- supervision: who may act, where a late case goes, and replaying history ----------------------


def escalated_cells(chain_codes: list[str], escalation_level: int) -> list[str]:
    """The responsible cell and every cell the case has been escalated to, deepest first.

    `chain_codes` is the responsible cell's chain (itself first, the city last). Their supervisors
    are the ones who may act on the case and who see it in their inbox.
    """
    return chain_codes[: max(escalation_level, 0) + 1]


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One level up: from the cell the case sits with now to the next, or None at the top."""

    current: str
    target: str | None
    new_level: int


def escalation_step(chain_codes: list[str], escalation_level: int) -> EscalationStep:
    cells = escalated_cells(chain_codes, escalation_level)
    current = cells[-1] if cells else ""
    target = escalation_target(chain_codes, current) if current else None
    return EscalationStep(
        current=current,
        target=target,
        new_level=escalation_level + 1 if target is not None else escalation_level,
    )


def parse_deadline_overrides(raw: str) -> tuple[tuple[str, str, float, float], ...]:
    """`village:water-sewage:12:10;county:*:48:20` → DeadlinePolicy.overrides.

    Each entry is level:category:ack_hours:resolve_days, `*` matching any level or category;
    the first matching entry wins, so list specific entries before general ones.
    """
    entries: list[tuple[str, str, float, float]] = []
    for chunk in raw.replace("\n", ";").split(";"):
        chunk = chunk.strip()
        if not chunk:
            continue
        parts = [p.strip() for p in chunk.split(":")]
        if len(parts) != 4 or not parts[0] or not parts[1]:
            raise ValueError(f"{chunk!r} is not level:category:ack_hours:resolve_days")
        try:
            ack, resolve = float(parts[2]), float(parts[3])
        except ValueError:
            raise ValueError(f"{chunk!r}: hours and days must be numbers") from None
        if not (ack > 0 and resolve > 0):
            raise ValueError(f"{chunk!r}: hours and days must be positive")
        entries.append((parts[0], parts[1], ack, resolve))
    return tuple(entries)


class RecordedEvent(Protocol):
    """What replay needs of a stored CaseEvent (the ORM row satisfies it)."""

    kind: str
    to_status: str | None
    to_cell: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReplayedCase:
    status: Status
    cell_code: str
    escalation_level: int


# Event kinds that move the responsible cell; escalation only raises the level above it.
_CELL_EVENTS = frozenset({"created", "assigned", Action.TRANSFER.value})


def replay(events: Iterable[RecordedEvent]) -> ReplayedCase:
    """Reconstruct a case's status, responsible cell and escalation level from its events."""
    status: Status | None = None
    cell = ""
    level = 0
    for event in events:
        if event.to_status:
            status = Status(event.to_status)
        if event.kind in _CELL_EVENTS and event.to_cell:
            cell = event.to_cell
            level = 0
        elif event.kind == Action.ESCALATE.value:
            level = int((event.data or {}).get("level", level + 1))
    if status is None:
        raise ValueError("no event sets a status: not a case's history")
    return ReplayedCase(status=status, cell_code=cell, escalation_level=level)

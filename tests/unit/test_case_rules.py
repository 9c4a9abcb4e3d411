"""The case rules, pure: transitions, deadlines (working days too), escalation and replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.domain.cases import (
    FINAL_STATUSES,
    Action,
    DeadlinePolicy,
    Status,
    TransitionRefused,
    allowed_actions,
    escalated_cells,
    escalation_step,
    escalation_target,
    next_status,
    parse_deadline_overrides,
    replay,
)
from bot.services.policy import is_workday

CHAIN = ["540202006005", "540202006", "540202", "540200"]  # village → township → county → city
WED_BEFORE_NATIONAL_DAY = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shigatse


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (Status.NEW, {Action.ASSIGN, Action.REJECT, Action.MERGE}),
        (
            Status.ASSIGNED,
            {
                Action.ACKNOWLEDGE,
                Action.TRANSFER,
                Action.ESCALATE,
                Action.RESOLVE,
                Action.REJECT,
                Action.MERGE,
            },
        ),
        (
            Status.ACKNOWLEDGED,
            {Action.TRANSFER, Action.ESCALATE, Action.RESOLVE, Action.REJECT, Action.MERGE},
        ),
        (Status.RESOLVED, {Action.CLOSE, Action.REOPEN}),
        (
            Status.REOPENED,
            {
                Action.ACKNOWLEDGE,
                Action.TRANSFER,
                Action.ESCALATE,
                Action.RESOLVE,
                Action.REJECT,
                Action.MERGE,
            },
        ),
    ],
)
def test_each_open_status_allows_exactly_its_actions(status: Status, actions: set[Action]):
    assert set(allowed_actions(status)) == actions


def test_final_statuses_allow_nothing_and_refuse_every_action():
    for status in FINAL_STATUSES:
        assert allowed_actions(status) == []
        for action in Action:
            with pytest.raises(TransitionRefused):
                next_status(status, action)


def test_the_main_path_runs_from_assignment_to_closing():
    status = Status.NEW
    for action, expected in [
        (Action.ASSIGN, Status.ASSIGNED),
        (Action.ESCALATE, Status.ASSIGNED),
        (Action.ACKNOWLEDGE, Status.ACKNOWLEDGED),
        (Action.RESOLVE, Status.RESOLVED),
        (Action.REOPEN, Status.REOPENED),
        (Action.ESCALATE, Status.REOPENED),
        (Action.ACKNOWLEDGE, Status.ACKNOWLEDGED),
        (Action.RESOLVE, Status.RESOLVED),
        (Action.CLOSE, Status.CLOSED),
    ]:
        status = next_status(status, action)
        assert status == expected


def test_acknowledging_twice_is_refused():
    with pytest.raises(TransitionRefused):
        next_status(Status.ACKNOWLEDGED, Action.ACKNOWLEDGE)


# --- deadlines ----------------------------------------------------------------------------------


def test_default_deadlines_are_a_day_to_acknowledge_two_hours_if_urgent_and_15_days_to_resolve():
    policy = DeadlinePolicy()
    start = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    kwargs: dict[str, Any] = {"level": "village", "category": "noise"}
    assert policy.ack_due(start, urgent=False, **kwargs) == start + timedelta(hours=24)
    assert policy.ack_due(start, urgent=True, **kwargs) == start + timedelta(hours=2)
    assert policy.resolve_due(start, **kwargs) == start + timedelta(days=15)
    assert policy.follow_up_at(start) == start + timedelta(days=3)
    assert policy.follow_up_answer_due(start) == start + timedelta(days=7)


def test_overrides_apply_per_level_and_category_first_match_first():
    overrides = parse_deadline_overrides("village:noise:12:5; county:*:48:20; *:*:30:10")
    policy = DeadlinePolicy(overrides=overrides)
    start = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

    def due(level: str, category: str) -> tuple[timedelta, timedelta]:
        ack = policy.ack_due(start, level=level, category=category, urgent=False)
        resolve = policy.resolve_due(start, level=level, category=category)
        return ack - start, resolve - start

    assert due("village", "noise") == (timedelta(hours=12), timedelta(days=5))
    assert due("county", "noise") == (timedelta(hours=48), timedelta(days=20))
    assert due("township", "air-dust") == (timedelta(hours=30), timedelta(days=10))
    # Urgent cases keep the urgent clock whatever the overrides say.
    urgent = policy.ack_due(start, level="village", category="noise", urgent=True)
    assert urgent == start + timedelta(hours=2)


@pytest.mark.parametrize(
    "bad", ["village:noise:12", "village:noise:x:5", "village:noise:0:5", ":*:1:1"]
)
def test_malformed_overrides_are_refused_with_the_entry_named(bad: str):
    with pytest.raises(ValueError) as refused:
        parse_deadline_overrides(bad)
    assert repr(bad) in str(refused.value)


def test_the_official_calendar_knows_national_day_and_its_adjusted_saturday():
    assert is_workday(date(2026, 9, 30))
    assert not any(is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert is_workday(date(2026, 10, 10))  # a Saturday made a working day


def test_in_working_days_a_day_to_acknowledge_set_before_national_day_falls_after_it():
    policy = DeadlinePolicy(working_days=True)
    due = policy.ack_due(
        WED_BEFORE_NATIONAL_DAY,
        level="village",
        category="noise",
        urgent=False,
        is_workday=is_workday,
    )
    # Wednesday counts; the deadline would land on 1 October and moves past the holiday.
    assert due == datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    plain = DeadlinePolicy(working_days=False)
    assert plain.ack_due(
        WED_BEFORE_NATIONAL_DAY,
        level="village",
        category="noise",
        urgent=False,
        is_workday=is_workday,
    ) == datetime(2026, 10, 1, 2, 0, tzinfo=UTC)


def test_in_working_days_resolving_skips_the_holiday_week_and_counts_the_adjusted_saturday():
    policy = DeadlinePolicy(resolve_days=3, working_days=True)
    due = policy.resolve_due(
        WED_BEFORE_NATIONAL_DAY, level="village", category="noise", is_workday=is_workday
    )
    # 30 Sep, 8 Oct and 9 Oct are the three working days: due on Saturday 10 October.
    assert due == datetime(2026, 10, 10, 2, 0, tzinfo=UTC)


def test_urgent_cases_are_clocked_in_plain_hours_even_over_a_holiday():
    policy = DeadlinePolicy(working_days=True)
    start = datetime(2026, 10, 2, 2, 0, tzinfo=UTC)
    due = policy.ack_due(start, level="village", category="x", urgent=True, is_workday=is_workday)
    assert due == start + timedelta(hours=2)


# --- escalation ---------------------------------------------------------------------------------


def test_the_escalation_target_is_the_next_cell_up_and_none_at_the_city():
    assert escalation_target(CHAIN, CHAIN[0]) == CHAIN[1]
    assert escalation_target(CHAIN, CHAIN[2]) == CHAIN[3]
    assert escalation_target(CHAIN, CHAIN[3]) is None
    assert escalation_target(CHAIN, "elsewhere") is None


def test_an_escalated_case_belongs_to_every_level_it_reached():
    assert escalated_cells(CHAIN, 0) == CHAIN[:1]
    assert escalated_cells(CHAIN, 2) == CHAIN[:3]
    assert escalated_cells(CHAIN, 9) == CHAIN


def test_each_escalation_step_climbs_one_level_until_the_top():
    steps = [escalation_step(CHAIN, level) for level in range(4)]
    assert [(s.current, s.target, s.new_level) for s in steps] == [
        (CHAIN[0], CHAIN[1], 1),
        (CHAIN[1], CHAIN[2], 2),
        (CHAIN[2], CHAIN[3], 3),
        (CHAIN[3], None, 3),
    ]


# --- replay -------------------------------------------------------------------------------------


@dataclass
class Event:
    kind: str
    to_status: str | None = None
    to_cell: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def test_replaying_events_rebuilds_status_cell_and_escalation_level():
    history = [
        Event("created", "new", CHAIN[0]),
        Event("assigned", "assigned", CHAIN[0]),
        Event("escalate", "assigned", CHAIN[1], {"level": 1}),
        Event("question"),
        Event("transfer", "assigned", "540202006004"),
        Event("escalate", "assigned", CHAIN[1], {"level": 1}),
        Event("acknowledge", "acknowledged", "540202006004"),
        Event("resolve", "resolved", "540202006004"),
        Event("follow_up", "resolved", "540202006004"),
        Event("reopen", "reopened", "540202006004"),
        Event("escalate", "reopened", CHAIN[2], {"level": 2}),
    ]
    state = replay(history)
    assert (state.status, state.cell_code, state.escalation_level) == (
        Status.REOPENED,
        "540202006004",
        2,
    )
    assert replay(history[:5]).escalation_level == 0  # a transfer starts the climb afresh


def test_replaying_nothing_is_refused():
    with pytest.raises(ValueError):
        replay([Event("question")])


def test_working_days_are_counted_on_the_bureaus_calendar_not_utcs():
    from bot.domain.cases import DeadlinePolicy
    from bot.services.policy import is_workday

    policy = DeadlinePolicy(working_days=True, ack_hours=24, timezone="Asia/Shanghai")
    # Monday 2026-11-30 01:00 in Shigatse is still Sunday 17:00 in UTC.
    monday_small_hours = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    due = policy.ack_due(
        monday_small_hours, level="village", category="noise", urgent=False, is_workday=is_workday
    )
    assert due == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # Tuesday 01:00 local

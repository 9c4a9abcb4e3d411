"""The case's decisions and the one authorization rule, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import shapely

from bot.domain.access import Actor, CaseFacts, Refusal, Verb, may
from bot.domain.cases import DeadlinePolicy, Status, TransitionRefused
from bot.domain.decisions import Audience, CaseRules, CaseState, Reason
from bot.domain.grid import CellNames, CellRef, CellShape, GridIndex, Level

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
CITY, COUNTY, TOWNSHIP, VILLAGE = "5402", "540202", "540202006", "540202006005"


def grid() -> GridIndex:
    cells = [
        CellRef(CITY, Level.CITY, None, CellNames("市", "", "City")),
        CellRef(COUNTY, Level.COUNTY, CITY, CellNames("区", "", "County")),
        CellRef(TOWNSHIP, Level.TOWNSHIP, COUNTY, CellNames("乡", "", "Township")),
        CellRef(VILLAGE, Level.VILLAGE, TOWNSHIP, CellNames("村", "", "Village")),
    ]
    return GridIndex.build(
        [CellShape(c, shapely.box(88 + i, 29, 88.5 + i, 29.5)) for i, c in enumerate(cells)]
    )


RULES = CaseRules(DeadlinePolicy(), grid())
LATE_TO_ACK = CaseState(
    Status.ASSIGNED,
    VILLAGE,
    0,
    "noise",
    False,
    ack_due_at=NOW - timedelta(hours=1),
    resolve_due_at=NOW + timedelta(days=10),
)


def test_a_case_late_to_be_acknowledged_climbs_one_level_with_a_fresh_ack_deadline_only():
    decision = RULES.escalate(LATE_TO_ACK, Reason.ACK, now=NOW)
    assert decision.state.escalation_level == 1
    assert decision.state.ack_due_at == NOW + timedelta(hours=24)
    assert decision.state.resolve_due_at == LATE_TO_ACK.resolve_due_at  # not late: runs on
    (event,) = decision.events
    assert (event.kind, event.from_cell, event.to_cell) == ("escalate", VILLAGE, TOWNSHIP)
    assert event.audiences == {Audience.BOTH_LEVELS, Audience.REPORTERS}


def test_at_the_top_a_missed_deadline_is_spent_and_the_top_cell_told():
    at_top = replace(LATE_TO_ACK, escalation_level=3)
    decision = RULES.escalate(at_top, Reason.ACK, now=NOW)
    assert decision.state.escalation_level == 3
    assert decision.state.ack_due_at is None
    assert RULES.late_reason(decision.state, NOW) is None  # the sweep will not take it again
    (event,) = decision.events
    assert (event.kind, event.to_cell, event.audiences) == (
        "overdue",
        CITY,
        {Audience.BOTH_LEVELS},
    )


def test_not_fixed_reopens_the_case_and_it_climbs_with_both_deadlines_fresh():
    resolved = CaseState(
        Status.RESOLVED, VILLAGE, 0, "noise", False, follow_up_answer_due_at=NOW, resolved_at=NOW
    )
    decision = RULES.answer_follow_up(resolved, fixed=False, now=NOW)
    assert decision.state.status == Status.REOPENED
    assert decision.state.escalation_level == 1
    assert decision.state.ack_due_at is not None and decision.state.resolve_due_at is not None
    assert [e.kind for e in decision.events] == ["reopen", "escalate"]


def test_a_closed_case_cannot_be_asked_about():
    with pytest.raises(TransitionRefused):
        RULES.ask(
            replace(LATE_TO_ACK, status=Status.CLOSED), acting_cell=VILLAGE, question="?", asker=1
        )


FACTS = CaseFacts(Status.ASSIGNED, [VILLAGE, TOWNSHIP, COUNTY, CITY], escalation_level=1)


@pytest.mark.parametrize(
    ("actor", "verb", "expected"),
    [
        (Actor(frozenset({VILLAGE})), Verb.ACKNOWLEDGE, None),
        (Actor(frozenset({TOWNSHIP})), Verb.ACKNOWLEDGE, None),  # escalated up to them
        (Actor(frozenset({COUNTY})), Verb.ACKNOWLEDGE, Refusal.NOT_YOURS),  # not yet
        (Actor(frozenset({"540222"})), Verb.MERGE_INTO, Refusal.NOT_YOURS),
        (Actor(frozenset(), reported=True), Verb.ACKNOWLEDGE, Refusal.NOT_YOURS),
        (Actor(frozenset(), reported=True), Verb.VIEW_AS_REPORTER, None),
        (Actor(frozenset(), reported=True), Verb.ANSWER_FOLLOW_UP, Refusal.STALE),
        (Actor(frozenset({VILLAGE})), Verb.VIEW_AS_REPORTER, Refusal.NOT_YOURS),
    ],
)
def test_who_may_do_what(actor: Actor, verb: Verb, expected: Refusal | None):
    assert may(actor, verb, FACTS) == expected


def test_a_closed_case_is_no_merge_target_even_for_its_own_supervisor():
    closed = replace(FACTS, status=Status.CLOSED)
    assert may(Actor(frozenset({VILLAGE})), Verb.MERGE_INTO, closed) == Refusal.STALE

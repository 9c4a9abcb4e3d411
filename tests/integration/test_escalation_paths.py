"""One escalation rule: a late case climbs alike through the per-case path and the batch sweep.

Each scenario seeds the same late case twice on the same database: one copy is escalated through
`case_actions.escalate` (the ORM path a conversation uses), the other by `DeadlineSweep`. The case
rows, their events and the outbox rows they produce must be identical, once ids and numbers are
set aside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from bot.config import Settings
from bot.delivery.outbox import add_to_outbox
from bot.domain.decisions import CaseRules
from bot.domain.grid import GridIndex
from bot.services import case_actions
from bot.services.policy import deadline_policy
from bot.services.sweep import DeadlineSweep
from bot.storage.db import Database
from bot.storage.models import (
    Case,
    CaseEvent,
    CaseReporter,
    OutboxMessage,
    Person,
    Supervisor,
    SupervisorCell,
)
from tests.integration.test_sweep import NOW, TOWNSHIP, VILLAGE

COUNTY, CITY = "540202", "540200"
STATE_COLUMNS = (
    "status",
    "cell_code",
    "escalation_level",
    "ack_due_at",
    "resolve_due_at",
    "acknowledged_at",
    "resolved_at",
    "follow_up_at",
    "follow_up_answer_due_at",
    "closed_at",
    "version",
    "updated_at",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    status: str
    escalation_level: int
    ack_late: bool
    resolve_late: bool
    urgent: bool = False


SCENARIOS = [
    Scenario("not acknowledged in time, village to township", "assigned", 0, True, False),
    Scenario("not resolved in time, acknowledged", "acknowledged", 0, False, True),
    Scenario("both deadlines missed", "assigned", 0, True, True),
    Scenario("urgent, already at the township, to the county", "assigned", 1, True, False, True),
    Scenario("a reopened case not taken up again", "reopened", 1, True, False),
    Scenario("at the city: nowhere higher, overdue at the top", "assigned", 3, True, False),
    Scenario("acknowledged at the city, not resolved", "acknowledged", 3, False, True),
]


@pytest.fixture
def database(sample_database: Database) -> Database:
    return sample_database


@pytest.fixture
async def staffed_grid(database: Database, sample_grid: GridIndex) -> GridIndex:
    grid = sample_grid
    async with database.transaction() as s:
        # A supervisor with a chat at every level, so every level's notices are written.
        for i, cell in enumerate((VILLAGE, TOWNSHIP, COUNTY, CITY)):
            supervisor = Supervisor(name=f"level {i}", telegram_chat_id=str(9000 + i))
            s.add(supervisor)
            await s.flush()
            s.add(SupervisorCell(supervisor_id=supervisor.id, cell_code=cell))
    return grid


async def seed(database: Database, scenario: Scenario, number: str) -> int:
    async with database.transaction() as s:
        person = Person(
            channel="telegram", channel_user_id=number, chat_id=f"chat-{number}", locale="en"
        )
        s.add(person)
        await s.flush()
        case = Case(
            number=number,
            category="water-sewage",
            description="Grey water into the river",
            urgent=scenario.urgent,
            status=scenario.status,
            lat=29.267,
            lon=88.881,
            origin_cell_code=VILLAGE,
            cell_code=VILLAGE,
            escalation_level=scenario.escalation_level,
            reporter_id=person.id,
            created_at=NOW - timedelta(days=20),
            updated_at=NOW - timedelta(days=20),
            ack_due_at=None
            if scenario.status == "acknowledged"
            else NOW - timedelta(hours=1 if scenario.ack_late else -5),
            resolve_due_at=NOW - timedelta(hours=1 if scenario.resolve_late else -50),
        )
        s.add(case)
        await s.flush()
        s.add(CaseReporter(case_id=case.id, person_id=person.id, original=True))
        return case.id


async def outcome(database: Database, case_id: int, number: str) -> dict[str, Any]:
    """The case's state, its events and every outbox row, with its id and number set aside."""

    def neutral(value: Any) -> Any:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        text = text.replace(number, "NUMBER").replace(f':{case_id}"', ':ID"')
        return text.replace(f"chat-{number}", "REPORTER")

    async with database.reader() as s:
        case = await s.get(Case, case_id)
        assert case is not None
        events = (
            await s.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.at == NOW)
            )
        ).all()
        outbox = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return {
        "case": {c: getattr(case, c) for c in STATE_COLUMNS},
        "events": [
            (e.kind, e.actor_kind, e.from_status, e.to_status, e.from_cell, e.to_cell, e.data)
            for e in events
        ],
        "outbox": sorted(
            neutral([m.channel, m.chat_id, m.payload, m.case_id == case_id, m.status])
            for m in outbox
        ),
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_a_late_case_climbs_alike_through_the_per_case_path_and_the_sweep(
    database: Database, staffed_grid: GridIndex, scenario: Scenario
):
    grid = staffed_grid
    settings = Settings()
    policy = deadline_policy(settings)

    one = await seed(database, scenario, "2026-00001")
    async with database.transaction() as s:
        case = await s.get(Case, one)
        assert case is not None
        rules = CaseRules(policy, grid)
        ctx = case_actions.SystemContext(s, settings, grid, NOW, rules)
        assert await case_actions.escalate_if_late(ctx, case)
        await add_to_outbox(s, ctx.notifications, now=NOW)
    by_hand = await outcome(database, one, "2026-00001")

    async with database.transaction() as s:
        await s.execute(delete(OutboxMessage))
    other = await seed(database, scenario, "2026-00002")
    stats = await DeadlineSweep(
        database, settings, lambda: grid, clock=lambda: NOW, policy=policy
    ).run()
    assert stats.escalated + stats.overdue_at_top == 1  # the first copy is no longer late
    by_sweep = await outcome(database, other, "2026-00002")

    assert by_sweep == by_hand
    assert by_hand["events"], "the escalation was recorded"
    assert by_hand["outbox"], "somebody was told"

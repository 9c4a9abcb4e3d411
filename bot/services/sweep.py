"""The deadline sweep: late cases climb the grid; resolved ones get their follow-up ("回头看").

Deadlines are columns (`ack_due_at`, `resolve_due_at`, `follow_up_at`, `follow_up_answer_due_at`);
this job finds the ones that have passed, in batches. Each batch is one transaction: the claimed
rows, their new level and deadlines, their CaseEvents and every outbox row commit together, so a
crash loses nothing (the rows are still due and the next run takes them) and duplicates nothing
(a committed batch moved its deadlines, so no run takes those rows again). On PostgreSQL the
batch claims its rows with FOR UPDATE SKIP LOCKED, so several processes may sweep at once; on
SQLite the single writer serialises them.

Escalation is set-based, so 10,000 late cases cost a handful of statements per batch, not
thousands of ORM round trips, and no statement carries a parameter per row:

- one SELECT claims the batch (the same columns an indexed SELECT of the late cases reads);
- where a case goes is worked out once per (cell, escalation level), its new deadlines once per
  (level, category, urgency, which deadline passed); one UPDATE per group of equal new values,
  its ids bound as one array (PostgreSQL) or JSON list (SQLite);
- the CaseEvents are one INSERT … SELECT from a JSON document of the rows (`bot.storage.bulk`);
- reporters are told by one INSERT … SELECT for the batch: the message is rendered once per
  (reason, new level, locale) with a marker where the case number goes, and the database puts in
  each case's number (digits and a dash, so the JSON stays valid);
- each supervisor chat gets one digest for the batch, with a section per cell and reason listing
  the cases escalated to (or from) it, instead of one message per case.

Batches are 5,000 cases, taken in id order after the last one this run took (a keyset cursor,
so a batch never rescans what the run has passed). Follow-up questions and closures are rarer
and go through the ordinary per-case code.

Measured by bench/escalation.py (100,000 open cases, 10% late, 2 CPUs) the sweep takes about
10× (SQLite) and 13× (PostgreSQL) the time of a bare SELECT of the late rows. What remains is
the writing itself: bench/escalation_floor.py runs only the writes this sweep must make, as bare
SQL with no Python per case, and they alone take about 5.7× (SQLite) and 8.7× (PostgreSQL) the
SELECT; on PostgreSQL the UPDATE of the case rows, whose indexed deadlines move (so every index
of the row is written again), is 4.5× by itself. The README has the figures.
"""

from __future__ import annotations

import json
import logging
import typing
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.config import Settings
from bot.delivery.outbox import add_to_outbox
from bot.domain.cases import OPEN_STATUSES, Action, EscalationStep, Status, escalation_step
from bot.domain.grid import GridIndex
from bot.services import notify
from bot.services.supervision import (
    EscalationNotice,
    SystemContext,
    deadline_policy,
    escalation_envelopes,
    follow_up_buttons,
    tell_reporters,
    transition,
)
from bot.storage.bulk import among, insert_many, json_rows
from bot.storage.db import Database
from bot.storage.models import (
    Case,
    CaseEvent,
    CaseReporter,
    OutboxMessage,
    Person,
    UTCDateTime,
    utcnow,
)
from handlers.contract import Reply
from messages import LOCALES, Translator

log = logging.getLogger(__name__)

NUMBER_MARK = "@@CASE_NUMBER@@"
# Core tables for executemany: thousands of rows without the ORM's unit of work.
OUTBOX_TABLE = typing.cast(Table, OutboxMessage.__table__)
EVENTS_TABLE = typing.cast(Table, CaseEvent.__table__)
ACK_WAITING = (Status.ASSIGNED.value, Status.REOPENED.value)
OPEN = tuple(s.value for s in OPEN_STATUSES)

# Called inside each batch's transaction after its writes, before the commit (tests inject
# failures here to show that a crash mid-sweep loses and duplicates nothing).
BatchHook = Callable[[str, int], Awaitable[None]]


def overdue_condition(now: datetime, dialect: str) -> Any:
    """Open cases past a deadline: not acknowledged in time, or not resolved in time.

    Each half has an index, (status, ack_due_at) and (status, resolve_due_at). PostgreSQL
    combines them for the OR (a BitmapOr). SQLite does so only while it has no statistics: once
    ANALYZE (or `PRAGMA optimize`) has recorded that each status covers a third of the table,
    it reads the whole table instead, on every sweep, late cases or not (18 ms at 100,000 cases
    with nothing due, where the indexes answer in 0.1 ms). On SQLite the two halves are
    therefore asked separately, each through its index, and their ids combined.
    """
    ack_late = and_(Case.status.in_(ACK_WAITING), Case.ack_due_at <= now)
    resolve_late = and_(Case.status.in_(OPEN), Case.resolve_due_at <= now)
    if dialect == "sqlite":
        return Case.id.in_(
            union_all(select(Case.id).where(ack_late), select(Case.id).where(resolve_late))
        )
    return or_(ack_late, resolve_late)


LATE_COLUMNS = (
    Case.id,
    Case.number,
    Case.status,
    Case.cell_code,
    Case.escalation_level,
    Case.category,
    Case.urgent,
    Case.ack_due_at,
    Case.resolve_due_at,
)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where cases in one cell at one escalation level go (see `_escalation_batch`)."""

    step: EscalationStep
    level: str | None  # the level of the cell they climb to; None: already at the top

    def event_data(self, reason: str) -> dict[str, Any]:
        if self.level is None:
            return {"reason": reason}
        return {"reason": reason, "level": self.step.new_level}


@dataclass
class SweepStats:
    escalated: int = 0
    overdue_at_top: int = 0
    follow_ups_asked: int = 0
    closed: int = 0
    batches: int = 0
    outbox_rows: int = 0
    # Keyset cursor: each batch starts after the last case the run took, not from the start.
    after_id: int = 0
    by_level: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class DeadlineSweep:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        grid: Callable[[], GridIndex],
        *,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = 5000,
        hook: BatchHook | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.grid = grid
        self.clock = clock
        self.batch_size = batch_size
        self.hook = hook

    async def run(self, *, max_batches: int = 100_000) -> SweepStats:
        """Everything due now, batch by batch, until nothing is left."""
        now = self.clock()
        stats = SweepStats()
        for step in (self._escalation_batch, self._follow_up_batch, self._closing_batch):
            for _ in range(max_batches):
                if not await step(now, stats):
                    break
        return stats

    async def _after_writes(self, kind: str, stats: SweepStats) -> None:
        stats.batches += 1
        if self.hook is not None:
            await self.hook(kind, stats.batches)

    def _claim(self, query: Any) -> Any:
        query = query.limit(self.batch_size)
        if self.database.is_postgres:
            query = query.with_for_update(skip_locked=True)
        return query

    # --- escalation ---------------------------------------------------------------------------

    async def _escalation_batch(self, now: datetime, stats: SweepStats) -> int:
        grid = self.grid()
        policy = deadline_policy(self.settings)
        dialect = self.database.engine.dialect.name
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    self._claim(
                        select(*LATE_COLUMNS)
                        .where(overdue_condition(now, dialect), Case.id > stats.after_id)
                        .order_by(Case.id)
                    )
                )
            ).all()
            if not rows:
                return 0
            stats.after_id = rows[-1].id
            dues: dict[tuple[str, str, bool, bool], datetime] = {}

            def due(level: str, category: str, urgent: bool, ack: bool) -> datetime:
                key = (level, category, urgent, ack)
                if key not in dues:
                    if ack:
                        dues[key] = policy.ack_due(
                            now,
                            level=level,
                            category=category,
                            urgent=urgent,
                            is_workday=notify.is_workday,
                        )
                    else:
                        dues[key] = policy.resolve_due(
                            now, level=level, category=category, is_workday=notify.is_workday
                        )
                return dues[key]

            updates: dict[tuple[Any, ...], list[int]] = defaultdict(list)
            events: list[dict[str, Any]] = []
            notices: list[EscalationNotice] = []
            # Reporters' news: [case id, number, template]; a template per (reason, new level).
            told: list[tuple[int, str, int]] = []
            templates: dict[tuple[str, str], int] = {}
            # Cases in the same cell at the same level climb alike: the step is worked out once
            # per (cell, level), the new deadlines once per (level, category, urgency, kind).
            plans: dict[tuple[str, int], _Plan] = {}
            for (
                case_id,
                number,
                status,
                cell_code,
                at_level,
                category,
                urgent,
                ack,
                resolve,
            ) in rows:
                plan = plans.get((cell_code, at_level))
                if plan is None:
                    chain = [c.code for c in grid.chain_of(cell_code)] or [cell_code]
                    step = escalation_step(chain, at_level)
                    target = None if step.target is None else grid.cells[step.target].level.value
                    plan = plans[(cell_code, at_level)] = _Plan(step, target)
                step = plan.step
                ack_late = status in ACK_WAITING and ack is not None and ack <= now
                resolve_late = resolve is not None and resolve <= now
                reason = "ack" if ack_late else "resolve"
                level = plan.level
                if level is None:
                    # Nowhere higher to go: the deadline is spent, the top cell is told once.
                    updates[(False, ack_late, None, resolve_late, None)].append(case_id)
                    kind, to_cell = "overdue", step.current
                    stats.overdue_at_top += 1
                else:
                    new_ack = due(level, category, urgent, True) if ack_late else None
                    new_resolve = due(level, category, urgent, False) if resolve_late else None
                    updates[(True, ack_late, new_ack, resolve_late, new_resolve)].append(case_id)
                    kind, to_cell = Action.ESCALATE.value, step.target or step.current
                    told.append(
                        (case_id, number, templates.setdefault((reason, level), len(templates)))
                    )
                    stats.escalated += 1
                    stats.by_level[level] += 1
                events.append(
                    {
                        "case_id": case_id,
                        "kind": kind,
                        "from_status": status,
                        "to_status": status,
                        "from_cell": step.current,
                        "to_cell": to_cell,
                        "data": plan.event_data(reason),
                    }
                )
                notices.append(
                    EscalationNotice(case_id, number, status, step.current, step.target, reason)
                )
            for (climbs, ack_late, new_ack, resolve_late, new_resolve), ids in updates.items():
                values: dict[str, Any] = {"version": Case.version + 1, "updated_at": now}
                if climbs:
                    values["escalation_level"] = Case.escalation_level + 1
                if ack_late:
                    values["ack_due_at"] = new_ack
                if resolve_late:
                    values["resolve_due_at"] = new_resolve
                await session.execute(
                    update(Case)
                    .where(among(Case.id, ids, dialect))
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            await insert_many(
                session,
                EVENTS_TABLE,
                events,
                {"actor_kind": "system", "actor_id": None, "note": "", "at": now},
            )
            stats.outbox_rows += await self._tell_reporters(session, told, templates, now)
            envelopes = await escalation_envelopes(session, grid, self.settings, notices)
            await insert_many(
                session,
                OUTBOX_TABLE,
                [
                    {
                        "channel": e.channel,
                        "chat_id": e.chat_id,
                        "payload": e.payload,
                        "case_id": e.case_id,
                    }
                    for e in envelopes
                ],
                {
                    "dedupe_key": None,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": "",
                    "created_at": now,
                },
            )
            stats.outbox_rows += len(envelopes)
            await self._after_writes("escalation", stats)
            return len(rows)

    async def _tell_reporters(
        self,
        session: AsyncSession,
        told: list[tuple[int, str, int]],
        templates: dict[tuple[str, str], int],
        now: datetime,
    ) -> int:
        """One INSERT … SELECT for the batch: every reporter of every case, in their language.

        The cases come as one JSON document of (case id, number, template); each template (a
        reason and the level reached) is rendered once per language with a marker where the
        number goes, and the database puts in each case's number (digits and a dash, so the
        JSON stays valid).
        """
        if not told:
            return 0
        dialect = session.get_bind().dialect.name
        source, (case_id, number, template) = json_rows(dialect, [Integer(), String(), Integer()])
        default = self.settings.default_locale
        locale = func.coalesce(Person.locale, default)

        def rendered(loc: str, reason: str, level: str) -> Any:
            text = Translator(loc)("rp-escalated", number=NUMBER_MARK, reason=reason, level=level)
            return func.replace(literal(json.dumps(Reply(text).to_payload())), NUMBER_MARK, number)

        branches = [
            (and_(template == no, locale == loc), rendered(loc, reason, level))
            for (reason, level), no in templates.items()
            for loc in LOCALES
            if loc != default
        ] + [(template == no, rendered(default, *key)) for key, no in templates.items()]
        text_sql = case(*branches)
        payload = cast(text_sql, JSON) if dialect == "postgresql" else type_coerce(text_sql, JSON)
        query = (
            select(
                Person.channel,
                Person.chat_id,
                payload,
                CaseReporter.case_id,
                literal("pending", String),
                literal(0),
                literal(now, UTCDateTime()),
                literal("", String),
                literal(now, UTCDateTime()),
            )
            .select_from(source)
            .join(CaseReporter, CaseReporter.case_id == case_id)
            .join(Person, Person.id == CaseReporter.person_id)
        )
        statement = insert(OutboxMessage).from_select(
            [
                "channel",
                "chat_id",
                "payload",
                "case_id",
                "status",
                "attempts",
                "next_attempt_at",
                "last_error",
                "created_at",
            ],
            query,
        )
        connection = await session.connection()
        result = await connection.execute(statement, {"rows": json.dumps(told)})
        return int(result.rowcount or 0)

    # --- the follow-up ------------------------------------------------------------------------

    async def _claim_resolved(
        self, session: AsyncSession, due: InstrumentedAttribute[datetime | None], now: datetime
    ) -> Sequence[Case]:
        """A batch of resolved cases whose `due` time has come, claimed for this transaction."""
        # `due IS NOT NULL` spelled out: it is the condition of the partial index on `due`, and
        # with statistics SQLite otherwise walks the whole table in id order instead.
        query = select(Case).where(
            Case.status == Status.RESOLVED.value, due.is_not(None), due <= now
        )
        return (await session.scalars(self._claim(query.order_by(Case.id)))).all()

    async def _follow_up_batch(self, now: datetime, stats: SweepStats) -> int:
        policy = deadline_policy(self.settings)
        async with self.database.transaction() as session:
            cases = await self._claim_resolved(session, Case.follow_up_at, now)
            if not cases:
                return 0
            ctx = SystemContext(session, self.settings, self.grid(), now)
            days = _days(self.settings.follow_up_days)
            for c in cases:
                c.follow_up_at = None
                c.follow_up_answer_due_at = policy.follow_up_answer_due(now)
                c.version += 1
                c.updated_at = now
                session.add(
                    CaseEvent(
                        case_id=c.id,
                        kind="follow_up",
                        actor_kind="system",
                        from_status=c.status,
                        to_status=c.status,
                        from_cell=c.cell_code,
                        to_cell=c.cell_code,
                        at=now,
                    )
                )
                await tell_reporters(
                    ctx, c, "rp-follow-up", days=days, buttons=follow_up_buttons(c.id)
                )
                stats.follow_ups_asked += 1
            await add_to_outbox(session, ctx.notifications, now=now)
            stats.outbox_rows += len(ctx.notifications)
            await self._after_writes("follow-up", stats)
            return len(cases)

    async def _closing_batch(self, now: datetime, stats: SweepStats) -> int:
        async with self.database.transaction() as session:
            cases = await self._claim_resolved(session, Case.follow_up_answer_due_at, now)
            if not cases:
                return 0
            ctx = SystemContext(session, self.settings, self.grid(), now)
            for c in cases:
                transition(
                    ctx, c, Action.CLOSE, actor_kind="system", actor_id=None, data={"fixed": None}
                )
                c.closed_at = now
                c.follow_up_answer_due_at = None
                await tell_reporters(ctx, c, "rp-closed-no-answer")
                stats.closed += 1
            await add_to_outbox(session, ctx.notifications, now=now)
            stats.outbox_rows += len(ctx.notifications)
            await self._after_writes("closing", stats)
            return len(cases)


def _days(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value

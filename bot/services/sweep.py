"""The deadline sweep: late cases climb the grid; resolved ones get their follow-up ("回头看").

Deadlines are columns (`ack_due_at`, `resolve_due_at`, `follow_up_at`, `follow_up_answer_due_at`);
this job finds the ones that have passed, in batches. Each batch is one transaction: the claimed
rows, their new level and deadlines, their CaseEvents and every outbox row commit together, so a
crash loses nothing (the rows are still due and the next run takes them) and duplicates nothing
(a committed batch moved its deadlines, so no run takes those rows again). On PostgreSQL the
batch claims its rows with FOR UPDATE SKIP LOCKED, so several processes may sweep at once; on
SQLite the single writer serialises them.

Each late case gets the same decision the interactive path applies
(`CaseRules.escalate`, through `bot.services.case_actions` for one case); only the reading and
writing are set-based, so 10,000 late cases cost a handful of statements per batch, not
thousands of ORM round trips:

- one SELECT claims the batch (the columns the rules read);
- the rules decide each case in Python; cases whose decisions changed the same columns to the
  same values share one UPDATE, its ids bound as one array (PostgreSQL) or JSON list (SQLite);
- the CaseEvents are one INSERT … SELECT from a JSON document of the rows (`bot.storage.bulk`);
- the reporters of the batch's cases are read in one SELECT, their notices rendered in Python by
  `bot.services.notices` and written as one bulk INSERT;
- each supervisor chat gets one digest for the batch, with a section per cell and reason listing
  the cases escalated to (or from) it, instead of one message per case.

Batches are taken in id order after the last case the run took (a keyset cursor, so a batch
never rescans what the run has passed); their size depends on the database (`batch_size_for`). Follow-up questions and closures are rarer
and go through the per-case code of `bot.services.case_actions`.

bench/escalation.py measures it against bench/escalation_floor.py, the bare writes it must make;
bench/README.md has the figures.
"""

from __future__ import annotations

import logging
import typing
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.config import Settings
from bot.delivery.outbox import Envelope, add_to_outbox
from bot.domain.cases import OPEN_STATUSES, DeadlinePolicy, Status
from bot.domain.decisions import ACK_WAITING, Audience, CaseRules, CaseState, Decision
from bot.domain.grid import GridIndex
from bot.services import case_actions, case_queries, notices
from bot.services.notices import ReporterChat
from bot.services.policy import deadline_policy
from bot.storage.bulk import among, insert_many
from bot.storage.db import Database
from bot.storage.models import Case, CaseEvent, CaseReporter, OutboxMessage, Person, utcnow

log = logging.getLogger(__name__)

# Core tables for bulk inserts: thousands of rows without the ORM's unit of work.
OUTBOX_TABLE = typing.cast(Table, OutboxMessage.__table__)
EVENTS_TABLE = typing.cast(Table, CaseEvent.__table__)
ACK_WAITING_VALUES = tuple(s.value for s in ACK_WAITING)
OPEN = tuple(s.value for s in OPEN_STATUSES)

# A batch is one transaction. On SQLite it holds the one writer from its claim to its commit,
# and a resident's message that arrives meanwhile waits behind it; the writer lock is first come,
# first served, so the message goes in before the sweep's next batch. Measured by
# bench/escalation.py --mixed (dialogs at 50 steps/s during a sweep of 10,000 late cases), p99:
# 1,040 ms at 5,000 a batch, 295 ms at 1,000, 179 ms at 500. The price: each batch sends its own
# digest to each supervisor chat, so a burst of thousands of late cases (after downtime) sends
# more digests (22,587 outbox rows instead of 13,861 for 10,090 cases). PostgreSQL has no single
# writer, and larger batches spend fewer round trips.
SQLITE_BATCH = 500
POSTGRES_BATCH = 5000


def batch_size_for(database: Database) -> int:
    return SQLITE_BATCH if database.is_sqlite else POSTGRES_BATCH


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
    ack_late = and_(Case.status.in_(ACK_WAITING_VALUES), Case.ack_due_at <= now)
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
        batch_size: int | None = None,
        hook: BatchHook | None = None,
        policy: DeadlinePolicy | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.grid = grid
        self.policy = policy or deadline_policy(settings)
        self.clock = clock
        self.batch_size = batch_size or batch_size_for(database)
        self.hook = hook

    async def run(self, *, max_batches: int = 100_000) -> SweepStats:
        """Everything due now, batch by batch, until nothing is left."""
        now = self.clock()
        stats = SweepStats()
        # One set of rules per run: its memo of deadlines and steps serves every batch.
        rules = CaseRules(self.policy, self.grid())
        for step in (self._escalation_batch, self._follow_up_batch, self._closing_batch):
            for _ in range(max_batches):
                if not await step(rules, now, stats):
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

    async def _escalation_batch(self, rules: CaseRules, now: datetime, stats: SweepStats) -> int:
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
            decided: list[tuple[int, str, Decision]] = []
            for case_id, number, *state in rows:
                before = CaseState(Status(state[0]), *state[1:])
                reason = rules.late_reason(before, now)
                if reason is None:  # late by the query, not by the rules: the rules win
                    continue
                decided.append((case_id, number, rules.escalate(before, reason, now=now)))
            await self._save(session, decided, now, dialect)
            stats.outbox_rows += await self._announce(session, rules.grid, decided, now)
            for _, _, decision in decided:
                climbed = decision.state.escalation_level > decision.before.escalation_level
                if climbed:
                    stats.escalated += 1
                    stats.by_level[str(decision.events[0].data.get("reached"))] += 1
                else:
                    stats.overdue_at_top += 1
            await self._after_writes("escalation", stats)
            return len(rows)

    async def _save(
        self,
        session: AsyncSession,
        decided: Sequence[tuple[int, str, Decision]],
        now: datetime,
        dialect: str,
    ) -> None:
        """Each decision's new values and events: one UPDATE per set of equal changes."""
        updates: dict[tuple[tuple[str, Any], ...], list[int]] = defaultdict(list)
        events: list[dict[str, Any]] = []
        for case_id, _number, decision in decided:
            changed = decision.changed()
            key = tuple(
                sorted((k, v.value if isinstance(v, Status) else v) for k, v in changed.items())
            )
            updates[key].append(case_id)
            events.extend(
                case_actions.event_row(case_id, e, actor_kind="system", actor_id=None, now=now)
                for e in decision.events
            )
        for changes, ids in updates.items():
            values: dict[str, Any] = {"version": Case.version + 1, "updated_at": now}
            values.update(changes)
            await session.execute(
                update(Case)
                .where(among(Case.id, ids, dialect))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        # `at` is bound once for every row (a JSON document carries no timestamps).
        for row in events:
            del row["at"]
        await insert_many(session, EVENTS_TABLE, events, {"at": now})

    async def _announce(
        self,
        session: AsyncSession,
        grid: GridIndex,
        decided: Sequence[tuple[int, str, Decision]],
        now: datetime,
    ) -> int:
        """The batch's notices: the reporters' news, and one digest per supervisor chat."""
        settings = self.settings
        climbs: list[notices.EscalationNotice] = []
        told: list[int] = []
        for case_id, number, decision in decided:
            for event in decision.events:
                if Audience.BOTH_LEVELS in event.audiences:
                    climbs.append(notices.EscalationNotice.of(case_id, number, event))
                if Audience.REPORTERS in event.audiences:
                    told.append(case_id)
        reporters = await self._reporters_of(session, told, self.database.engine.dialect.name)
        envelopes: list[Envelope] = []
        for case_id, number, decision in decided:
            if case_id in reporters:
                envelopes += notices.reporter_envelopes(
                    [notices.Recorded(e) for e in decision.events],
                    reporters[case_id],
                    number=number,
                    case_id=case_id,
                    grid=grid,
                    default_locale=settings.default_locale,
                    follow_up_days=settings.follow_up_days,
                )
        chats = await case_queries.supervisor_chats(session, notices.escalation_cells(climbs))
        envelopes += notices.escalation_digests(
            climbs, chats, grid, default_locale=settings.default_locale
        )
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
        return len(envelopes)

    @staticmethod
    async def _reporters_of(
        session: AsyncSession, case_ids: Sequence[int], dialect: str
    ) -> dict[int, list[ReporterChat]]:
        """Every reporter of these cases, per case, in the order they reported (one SELECT)."""
        if not case_ids:
            return {}
        rows = await session.execute(
            select(CaseReporter.case_id, Person.id, Person.channel, Person.chat_id, Person.locale)
            .join(Person, Person.id == CaseReporter.person_id)
            .where(among(CaseReporter.case_id, list(case_ids), dialect), case_queries.HAS_CHAT)
            .order_by(CaseReporter.case_id, CaseReporter.joined_at, Person.id)
        )
        found: dict[int, list[ReporterChat]] = defaultdict(list)
        for case_id, person_id, channel, chat_id, locale in rows:
            found[case_id].append(ReporterChat(person_id, channel, chat_id, locale))
        return found

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

    async def _follow_up_batch(self, rules: CaseRules, now: datetime, stats: SweepStats) -> int:
        asked = await self._resolved_batch(
            rules, now, stats, Case.follow_up_at, case_actions.ask_follow_up, "follow-up"
        )
        stats.follow_ups_asked += asked
        return asked

    async def _closing_batch(self, rules: CaseRules, now: datetime, stats: SweepStats) -> int:
        closed = await self._resolved_batch(
            rules,
            now,
            stats,
            Case.follow_up_answer_due_at,
            case_actions.close_unanswered,
            "closing",
        )
        stats.closed += closed
        return closed

    async def _resolved_batch(
        self,
        rules: CaseRules,
        now: datetime,
        stats: SweepStats,
        due: Any,
        act: Callable[[case_actions.Context, Case], Awaitable[None]],
        kind: str,
    ) -> int:
        """One batch of resolved cases whose `due` has come, each given `act` (ask the follow-up,
        or close for want of an answer) in one transaction with the notices it causes."""
        async with self.database.transaction() as session:
            cases = await self._claim_resolved(session, due, now)
            if not cases:
                return 0
            ctx = case_actions.SystemContext(session, self.settings, rules.grid, now, rules)
            for c in cases:
                await act(ctx, c)
            await add_to_outbox(session, ctx.notifications, now=now)
            stats.outbox_rows += len(ctx.notifications)
            await self._after_writes(kind, stats)
            return len(cases)

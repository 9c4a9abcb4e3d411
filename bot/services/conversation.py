"""One inbound event, one transaction: dedupe, who is it, what were we talking about, reply.

The handler (channel-neutral conversation code in `handlers/`) receives a Turn: the person, their
dialog state, the grid and a way to reply. Everything it changes, the replies it writes and the
notifications it stages for others commit together, or not at all.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.message import Reply
from bot.delivery.outbox import Envelope, OutboxDispatcher, add_to_outbox
from bot.domain.cases import DeadlinePolicy
from bot.domain.decisions import CaseRules
from bot.domain.grid import GridIndex
from bot.services.inbound import Inbound, Outcome
from bot.services.people import get_or_create_person
from bot.services.policy import deadline_policy
from bot.storage.db import Database, NotStored, database_unavailable, insert_ignore
from bot.storage.models import Dialog, Person, ProcessedUpdate, utcnow
from messages import Translator, normalize_locale

log = logging.getLogger(__name__)

# Seconds an update's transaction is tried again while the database is unreachable (a
# PostgreSQL restart takes a few); then the channel is told it was not stored.
STORE_PATIENCE = 30.0

Clock = Callable[[], datetime]


@dataclass
class DialogState:
    flow: str = ""
    step: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def start(self, flow: str, step: str, **data: Any) -> None:
        self.flow, self.step, self.data = flow, step, dict(data)

    def clear(self) -> None:
        self.flow, self.step, self.data = "", "", {}

    @property
    def active(self) -> bool:
        return bool(self.flow)


@dataclass
class Turn:
    """Everything a handler may use while handling one inbound event."""

    session: AsyncSession
    settings: Settings
    grid: GridIndex
    person: Person
    dialog: DialogState
    now: datetime
    channel: str
    chat_id: str
    policy: DeadlinePolicy = field(default_factory=DeadlinePolicy)
    replies: list[Reply] = field(default_factory=list)
    notifications: list[Envelope] = field(default_factory=list)

    @cached_property
    def rules(self) -> CaseRules:
        """The case rules, with the service's one deadline policy and this turn's grid."""
        return CaseRules(self.policy, self.grid)

    @property
    def locale(self) -> str:
        return self.person.locale or self.settings.default_locale

    @property
    def t(self) -> Translator:
        return Translator(self.locale)

    def reply(self, reply: Reply | str) -> None:
        self.replies.append(Reply(reply) if isinstance(reply, str) else reply)

    def notify(self, envelope: Envelope) -> None:
        self.notifications.append(envelope)


Handler = Callable[[Turn, Inbound], Awaitable[None]]
# Told of every event once it is handled and its replies are sent (metrics; tests wait on it).
HandledObserver = Callable[[Inbound, Outcome], None]


# The dialog is read with the person and written back with prebuilt Core statements, outside
# the ORM: it changes on nearly every message, and a unit of work for that one row cost more than
# its SQL. (Statements built once memoise their cache key.)
StoredDialog = tuple[str, str, dict[str, Any]]  # flow, step, data as stored

_PERSON_AND_DIALOG = (
    select(Person, Dialog.flow, Dialog.step, Dialog.data)
    .outerjoin(Dialog, Dialog.person_id == Person.id)
    .where(Person.channel == bindparam("channel"), Person.channel_user_id == bindparam("user"))
)
_INSERT_DIALOG = insert(Dialog)
_UPDATE_DIALOG = (
    update(Dialog)
    .where(Dialog.person_id == bindparam("person"))
    .values(
        flow=bindparam("new_flow", type_=Dialog.flow.type),
        step=bindparam("new_step", type_=Dialog.step.type),
        data=bindparam("new_data", type_=Dialog.data.type),
        updated_at=bindparam("now", type_=Dialog.updated_at.type),
    )
)
_DELETE_DIALOG = delete(Dialog).where(Dialog.person_id == bindparam("person"))


async def find_person_and_dialog(
    session: AsyncSession, inbound: Inbound
) -> tuple[Person | None, StoredDialog | None]:
    """The person who wrote and their open dialog, in one query (the common, known-person case)."""
    row = (
        await session.execute(
            _PERSON_AND_DIALOG, {"channel": inbound.channel, "user": inbound.user_id}
        )
    ).first()
    if row is None:
        return None, None
    person, flow, step, data = row
    return person, None if flow is None else (flow, step, data or {})


def refresh_person(person: Person, inbound: Inbound) -> None:
    if person.chat_id != inbound.chat_id:
        person.chat_id = inbound.chat_id
    name = inbound.display_name[:200]
    if name and person.display_name != name:
        person.display_name = name
    if not person.reachable:
        person.reachable = True  # they wrote to us, so they have unblocked the bot


class ConversationService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        grid: Callable[[], GridIndex],
        handler: Handler,
        *,
        dispatcher: OutboxDispatcher | None = None,
        clock: Clock = utcnow,
        policy: DeadlinePolicy | None = None,
        on_handled: HandledObserver | None = None,
        on_notified: Callable[[], None] | None = None,
    ) -> None:
        """`on_notified` is called after a commit that staged notices for others (a report, a
        resolution): background work that follows them, such as fetching photos, starts now."""
        self.database = database
        self.settings = settings
        self.grid = grid
        self.handler = handler
        self.dispatcher = dispatcher
        self.clock = clock
        self.policy = policy or deadline_policy(settings)
        self.on_handled = on_handled
        self.on_notified = on_notified
        # Replies are born claimed for this long; the drain resends them if we die first.
        self.reply_lease = timedelta(seconds=60)

    @property
    def _claimer(self) -> str | None:
        """The process that sends the replies on the spot: its rows name it."""
        return self.dispatcher.process_id if self.dispatcher is not None else None

    async def process(self, inbound: Inbound) -> Outcome:
        """Handle one event and send the replies; a redelivered update does nothing."""
        try:
            outcome, notified = await self._stored(inbound)
        except NotStored:
            raise  # the channel must not confirm it: it comes again
        except Exception:
            log.exception("handling %s update %s failed", inbound.channel, inbound.update_id)
            outcome, notified = await self._apologise(inbound), False
        if self.dispatcher is not None:
            await self.dispatcher.send_now(outcome.replies)
            if notified:
                self.dispatcher.poke()
        if notified and self.on_notified is not None:
            self.on_notified()
        if self.on_handled is not None:
            self.on_handled(inbound, outcome)
        return outcome

    async def _stored(self, inbound: Inbound) -> tuple[Outcome, bool]:
        """The update's transaction, tried again while the database is unreachable (a restart,
        a failover) for up to STORE_PATIENCE seconds; then NotStored, so that the channel does
        not confirm an update that was not stored (the webhook answers 503, polling waits)."""
        deadline = time.monotonic() + STORE_PATIENCE
        delay = 0.25
        while True:
            try:
                return await self._process_in_transaction(inbound)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise NotStored(f"{inbound.channel} update {inbound.update_id}") from exc
                log.warning(
                    "the database is unreachable (%s); %s update %s is tried again in %gs",
                    type(exc).__name__,
                    inbound.channel,
                    inbound.update_id,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _process_in_transaction(self, inbound: Inbound) -> tuple[Outcome, bool]:
        now = self.clock()
        async with self.database.transaction() as session:
            if inbound.update_id is not None:
                fresh = await insert_ignore(
                    session,
                    ProcessedUpdate,
                    {
                        "channel": inbound.channel,
                        "update_id": inbound.update_id,
                        "processed_at": now,
                    },
                )
                if not fresh:
                    return Outcome(duplicate=True), False
            person, stored = await find_person_and_dialog(session, inbound)
            if person is None:
                person = await get_or_create_person(
                    session,
                    channel=inbound.channel,
                    user_id=inbound.user_id,
                    chat_id=inbound.chat_id,
                    display_name=inbound.display_name,
                )
            else:
                refresh_person(person, inbound)
            dialog = (
                # A deep copy: handlers change the data in place, and `_save_dialog` compares
                # it with what was stored to skip writing an unchanged dialog.
                DialogState(stored[0], stored[1], copy.deepcopy(stored[2]))
                if stored
                else DialogState()
            )
            turn = Turn(
                session=session,
                settings=self.settings,
                grid=self.grid(),
                person=person,
                dialog=dialog,
                now=now,
                channel=inbound.channel,
                chat_id=inbound.chat_id,
                policy=self.policy,
            )
            if person.locale is None and inbound.language_code:
                # A first guess from the platform; /start and /language let the person choose.
                person.locale = normalize_locale(
                    inbound.language_code, self.settings.default_locale
                )
            await self.handler(turn, inbound)
            await self._save_dialog(session, person.id, stored, dialog, now)
            replies = [
                Envelope(inbound.channel, inbound.chat_id, r.to_payload()) for r in turn.replies
            ]
            # The replies are claimed by this process at birth and sent right after the commit;
            # should it die first, their lease runs out and the drain sends them.
            rows = await add_to_outbox(
                session,
                replies,
                now=now,
                claimed_for=self.reply_lease,
                claimed_by=self._claimer,
            )
            outcome = Outcome(replies=rows)
            await add_to_outbox(session, turn.notifications, now=now)
            await session.flush()
            return outcome, bool(turn.notifications)

    @staticmethod
    async def _save_dialog(
        session: AsyncSession,
        person_id: int,
        stored: StoredDialog | None,
        dialog: DialogState,
        now: datetime,
    ) -> None:
        if stored is not None and (dialog.flow, dialog.step, dialog.data) == stored:
            return  # the dialog is as stored
        connection = await session.connection()
        if not dialog.active:
            if stored is not None:
                await connection.execute(_DELETE_DIALOG, {"person": person_id})
        elif stored is None:
            await connection.execute(
                _INSERT_DIALOG,
                {
                    "person_id": person_id,
                    "flow": dialog.flow,
                    "step": dialog.step,
                    "data": dialog.data,
                    "updated_at": now,
                },
            )
        else:
            await connection.execute(
                _UPDATE_DIALOG,
                {
                    "person": person_id,
                    "new_flow": dialog.flow,
                    "new_step": dialog.step,
                    "new_data": dialog.data,
                    "now": now,
                },
            )

    async def _apologise(self, inbound: Inbound) -> Outcome:
        """Something broke: tell the person, in their language, and change nothing else."""
        now = self.clock()
        try:
            async with self.database.transaction() as session:
                person = await get_or_create_person(
                    session,
                    channel=inbound.channel,
                    user_id=inbound.user_id,
                    chat_id=inbound.chat_id,
                )
                t = Translator(person.locale or self.settings.default_locale)
                rows = await add_to_outbox(
                    session,
                    [
                        Envelope(
                            inbound.channel,
                            inbound.chat_id,
                            Reply(t("error-internal")).to_payload(),
                        )
                    ],
                    now=now,
                    claimed_for=self.reply_lease,
                    claimed_by=self._claimer,
                )
                await session.flush()
                return Outcome(replies=rows)
        except Exception:
            log.exception("could not even apologise to %s:%s", inbound.channel, inbound.user_id)
            return Outcome()

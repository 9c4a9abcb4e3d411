"""What every process shares through the database: a platform token, a send budget.

`DatabaseTokenStore` is the WeChat channel's token port: one process fetches the access token
(under a row lock, so two processes never both fetch — WeChat invalidates the previous token on
every fetch), stores it with its expiry, and every process reads it. It is fetched again a few
minutes before it expires, by whichever process needs it first, or when WeChat refuses the one
stored (then only if nobody has stored a newer one meanwhile).

`DatabaseSendBudget` is one bot token's send budget on PostgreSQL, shared by every sender:
a row holds the next free sending slot; each request takes the next slot with one UPDATE
(slots are a little more than 1/rate apart, on the database's clock, so hosts' clocks do not
matter; `SLOT_STRETCH` says why more) and waits
for it, placing the slot on its own clock by `DatabaseClock`. A slot is used on time or not at
all: a sender more than `LATE_AFTER` past its slot (kept off a busy CPU, its event loop held up,
or the database's answer slow to arrive) gives it up and takes a fresh one. Otherwise a late
request would land among the requests of later slots, and the platform would count more than
the rate in one second; a slot given up only leaves that second one short.
Why a budget in the database and not one elected sender: replies go out from the web
process that handled the update (at once, without a hop through another process), broadcasts
from the scheduler leader and retries from any sender; a row every one of them takes slots
from keeps one limit over all of them, and no election has to fail over before anything can
be sent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select, text

from bot.config import Settings
from bot.storage.db import Database, insert_ignore
from bot.storage.models import SendBudget, SharedToken, utcnow

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[tuple[str, int]]]

# How late past its slot a request may still leave; later ones take a new slot.
LATE_AFTER = 0.02  # seconds
# How much closer together than they left requests may reach the platform: the network, and a
# platform's front end that reads its connections in bursts. Measured against the fake Bot API
# in a process of its own (bench/crash.py --broadcast), 16 requests sent 10 ms apart were
# stamped within 5 ms after a stall.
ARRIVAL_SPREAD = 0.05  # seconds
# The slots are this much further apart than 1/rate, so that requests leaving up to LATE_AFTER
# late and arriving up to ARRIVAL_SPREAD bunched still count at most `rate` in any second at
# the platform: every `rate` consecutive slots span 1 + LATE_AFTER + ARRIVAL_SPREAD seconds.
SLOT_STRETCH = 1.0 + LATE_AFTER + ARRIVAL_SPREAD


class DatabaseTokenStore:
    """A token one process fetches and every process reads (see the module's docstring)."""

    def __init__(
        self,
        database: Database,
        name: str,
        holder: str,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.name = name
        self.holder = holder
        self.clock = clock
        self.fetches = 0  # fetches made by this process (logged, and read by tests)

    def _usable(self, row: SharedToken | None, refused: str | None) -> bool:
        return (
            row is not None
            and bool(row.value)
            and row.value != refused
            and row.expires_at is not None
            and row.expires_at > self.clock()
        )

    async def token(self, fetch: Fetch, *, refused: str | None = None) -> tuple[str, datetime]:
        """(token, use until): the stored one while it is good, else one fetched now.

        `fetch()` returns (token, lifetime in seconds); `refused` is a token the platform has
        just refused, which is not handed out again."""
        async with self.database.reader() as session:
            row = await session.get(SharedToken, self.name)
            if row is not None and self._usable(row, refused):
                assert row.expires_at is not None
                return row.value, row.expires_at
        async with self.database.transaction() as session:
            await insert_ignore(session, SharedToken, {"name": self.name, "value": ""})
            query = select(SharedToken).where(SharedToken.name == self.name)
            if self.database.is_postgres:
                query = query.with_for_update()  # the other processes wait here, then read
            row = (await session.scalars(query.execution_options(populate_existing=True))).one()
            if self._usable(row, refused):
                assert row.expires_at is not None
                return row.value, row.expires_at
            value, lifetime = await fetch()
            self.fetches += 1
            now = self.clock()
            # Renewed a little early, so a token never expires between our check and WeChat's.
            margin = min(300, lifetime // 2)
            row.value = value
            row.expires_at = now + timedelta(seconds=lifetime - margin)
            row.fetched_at = now
            row.fetched_by = self.holder
            return value, row.expires_at


# The next free slot, at least `lead` seconds ahead of the database's clock; returns the slot and
# the database's clock as read then (seconds since the epoch, both on the database's clock).
_TAKE_SLOT = text(
    """
    UPDATE send_budgets
    SET next_slot_at = GREATEST(
            next_slot_at,
            clock_timestamp() AT TIME ZONE 'UTC' + make_interval(secs => :lead)
        ) + make_interval(secs => :spacing)
    WHERE name = :name
    RETURNING EXTRACT(EPOCH FROM next_slot_at) - :spacing,
        EXTRACT(EPOCH FROM clock_timestamp() AT TIME ZONE 'UTC')
    """
)

# How far ahead a fresh slot may be asked for after a late one (see `DatabaseSendBudget.take`).
MAX_LEAD = 1.0  # seconds
# How fast an estimate of the database's clock is trusted less as it ages: clocks drift apart
# by far less, but the database's host may be set to another time.
CLOCK_ESTIMATE_AGEING = 1e-3  # seconds of doubt per second


class DatabaseClock:
    """The database's clock, as seen from this process's monotonic clock.

    Each answer carries the time the database read while answering, somewhere between our
    asking and our reading the answer; so the answer that came back fastest places the
    database's clock best (as NTP does), within half its round trip. Placing a slot this way,
    rather than as "wait this long from when the answer was read", keeps the slot where the
    database put it however late its answer came: a busy process may read one answer 100 ms
    later than the next, which would otherwise move its slot by as much.
    """

    def __init__(self) -> None:
        self.offset = 0.0  # database time minus monotonic time
        self.error = math.inf  # the offset is right within this many seconds
        self.observed_at = 0.0

    def observe(self, database_now: float, asked: float, answered: float) -> None:
        error = (answered - asked) / 2
        doubt = self.error + (answered - self.observed_at) * CLOCK_ESTIMATE_AGEING
        if error <= doubt:
            self.offset = database_now - (asked + answered) / 2
            self.error = error
            self.observed_at = answered

    def local(self, database_time: float) -> float:
        """A moment on the database's clock, on this process's monotonic clock."""
        return database_time - self.offset


class DatabaseSendBudget:
    """One bot token's sending slots, shared by every process (PostgreSQL only)."""

    def __init__(
        self,
        database: Database,
        name: str,
        per_second: float,
        *,
        late_after: float = LATE_AFTER,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("the send rate must be positive")
        self.database = database
        self.name = name
        self.spacing = SLOT_STRETCH / per_second
        self.late_after = late_after
        self.monotonic = monotonic
        self.sleep = sleep
        self.clock = DatabaseClock()
        self.given_up = 0  # slots this process was too late for (logged, and read by tests)
        self._row_made = False

    async def take(self) -> None:
        """Wait for a slot and return on time for it: the platform sees at most `per_second`
        requests in any second, counted over every process sharing the database, even when they
        leave a little late or arrive bunched (`SLOT_STRETCH`; the module's docstring)."""
        lead = 0.0
        while True:
            slot = await self._next_slot(lead)
            delay = slot - self.monotonic()
            if delay > 0:
                await self.sleep(delay)
            late = self.monotonic() - slot
            if late <= self.late_after:
                return
            self.given_up += 1
            log.debug("%.0f ms late for a send slot: took a fresh one", late * 1000)
            # The fresh slot is asked for at least as far ahead as this one was missed by, so
            # that a slow answer from the database cannot make every slot it hands out stale.
            lead = min(late, MAX_LEAD)

    async def _next_slot(self, lead: float) -> float:
        """Take the next free slot at least `lead` seconds ahead; when it is, on this
        process's monotonic clock."""
        async with self.database.transaction() as session:
            if not self._row_made:
                await insert_ignore(
                    session, SendBudget, {"name": self.name, "next_slot_at": utcnow()}
                )
                self._row_made = True
            asked = self.monotonic()
            params = {"name": self.name, "spacing": self.spacing, "lead": lead}
            slot, database_now = (await session.execute(_TAKE_SLOT, params)).one()
            self.clock.observe(float(database_now), asked, self.monotonic())
        return self.clock.local(float(slot))


def telegram_send_budget(database: Database, settings: Settings) -> DatabaseSendBudget | None:
    """The bot token's send budget every process on this database shares (PostgreSQL), or
    None (SQLite: one process, its own limits). Whatever sends as the bot takes from it: the
    running processes and `campaign send-now` alike."""
    if not database.is_postgres:
        return None
    bot_id = settings.telegram_bot_token.partition(":")[0]  # not the secret part
    return DatabaseSendBudget(database, f"telegram:{bot_id}", settings.send_rate_per_second)

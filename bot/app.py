"""Composition root: builds the database, services, channels and scheduler from Settings.

Nothing is built at import time; `Jingtu(settings)` builds, `start()` connects, `stop()` closes.
Tests build the same object with a fake platform's URL in the settings and a controllable clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.channels.console import ConsoleChannel, ConsoleMedia, ConsoleSender
from bot.config import ConfigError, Settings, redact_url
from bot.delivery.broadcast import BroadcastEngine
from bot.delivery.outbox import OutboxDispatcher, Sender
from bot.domain.decisions import CaseRules
from bot.domain.grid import GridIndex
from bot.logs import configure_logging
from bot.scheduler import PeriodicJob, build_scheduler
from bot.services import people
from bot.services.conversation import ConversationService, HandledObserver
from bot.services.grid import load_grid_index
from bot.services.housekeeping import Housekeeping
from bot.services.inbound import Inbound, Outcome
from bot.services.media import MediaFetcher
from bot.services.ops import database_reachable
from bot.services.outreach import OutreachService
from bot.services.policy import deadline_policy
from bot.services.processes import BEAT_SECONDS, Heartbeat, default_name
from bot.services.shared import DatabaseSendBudget, DatabaseTokenStore, telegram_send_budget
from bot.services.sweep import DeadlineSweep
from bot.storage import migrate
from bot.storage.db import Database
from bot.storage.media_store import MediaSource, MediaStore
from bot.storage.models import utcnow
from bot.web.desk import Desk, DeskDeps
from bot.web.health import Health, SweepRun
from bot.web.metrics import Metrics
from bot.web.open311 import Open311Api
from bot.web.server import build_web_app, start_web
from handlers import router

if TYPE_CHECKING:
    # The platform modules (and python-telegram-bot) load only when a channel is attached.
    from bot.channels.telegram import TelegramChannel
    from bot.channels.wechat import WeChatChannel

log = logging.getLogger("jingtu")

DATABASE_TIMEOUT = 10.0  # seconds `run` waits for the database to answer before giving up
# What each `python -m bot run --role` does (README, "Deployment for a province"):
# web: the channel receivers (webhooks, polling) and the web server, sending the replies of the
# updates it handled at once; sender: the outbox drain (notices, retries, taken-back rows) and
# photo downloads; scheduler: the sweep, campaigns and housekeeping, done by the one process
# that holds the scheduler lease.
ROLES: dict[str, frozenset[str]] = {
    "web": frozenset({"web"}),
    "sender": frozenset({"sender"}),
    "scheduler": frozenset({"scheduler"}),
    "all": frozenset({"web", "sender", "scheduler"}),
}


class Jingtu:
    """The running service: one database, one grid index, the outbox, the channels."""

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database | None = None,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_handled: HandledObserver | None = None,
        role: str = "all",
    ) -> None:
        """`clock`, `monotonic` and `sleep` are injected so tests run the app on virtual time
        (`monotonic` and `sleep` pace broadcasts: rate limits, retries, the leader lease);
        `role` is one of ROLES."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        self.settings = settings
        self.role = role
        self.roles = ROLES[role]
        # The deadline policy, built once: the conversation and the sweep share it.
        self.policy = deadline_policy(settings)
        self.database = database or Database.from_url(settings.database_url)
        self.clock = clock
        self.on_handled = on_handled  # the caller's observer; /metrics counts alongside it
        self.monotonic = monotonic
        self.sleep = sleep
        self.grid_index = GridIndex.build([])
        # The process's Prometheus registry, built here rather than at import (bot/web/metrics.py).
        self.metrics = Metrics(self.database, clock=clock)
        self.last_sweep: SweepRun | None = None
        self.senders: dict[str, Sender] = {}
        # The media store, and each attached channel's way to download into it.
        self.media_store = MediaStore(settings.media_dir)
        self.media_sources: dict[str, MediaSource] = {}
        self.heartbeat = Heartbeat(
            self.database,
            name=settings.process_name or default_name(role),
            role=role,
            clock=clock,
        )
        self.dispatcher = OutboxDispatcher(
            self.database,
            self.senders,
            clock=clock,
            on_unreachable=self._unreachable,
            process_id=self.heartbeat.id,
        )
        self.conversation = ConversationService(
            self.database,
            settings,
            lambda: self.grid_index,
            router.handle,
            dispatcher=self.dispatcher,
            clock=clock,
            policy=self.policy,
            on_handled=self._observer(on_handled),
            on_notified=lambda: self.media.poke(),
        )
        # Periodic jobs the scheduler runs; features append theirs in `_register_features`.
        self.periodic_jobs: list[PeriodicJob] = [
            PeriodicJob("outbox-retry", self.dispatcher.drain_until_empty, 5.0, role="sender"),
        ]
        self._register_features()
        self.scheduler: AsyncIOScheduler | None = None
        self._job_runs: set[asyncio.Task[None]] = set()  # periodic jobs running now
        self.console_sender: ConsoleSender | None = None
        self.telegram: TelegramChannel | None = None
        self.wechat: WeChatChannel | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._web_runner: web.AppRunner | None = None

    def _register_features(self) -> None:
        """Wire the feature services that need periodic work or hooks (one line each)."""
        # The broadcast engine: one limiter per channel, shared by every run of this process.
        self.broadcasts = BroadcastEngine(
            self.database,
            self.senders,
            self.settings.broadcast_rate_per_second,
            on_blocked=people.unsubscribe_unreachable,
            clock=self.clock,
            monotonic=self.monotonic,
            sleep=self.sleep,
            holder=self.heartbeat.id,
        )
        self.outreach = OutreachService(
            self.database,
            self.settings,
            self.broadcasts,
            grid=lambda: self.grid_index,
            clock=self.clock,
            monotonic=self.monotonic,
            stopping=lambda: self._stop.is_set(),
            holder=self.heartbeat.id,
        )
        self.periodic_jobs.append(PeriodicJob("outreach", self.outreach.tick, 5.0))
        self.sweep = DeadlineSweep(
            self.database,
            self.settings,
            lambda: self.grid_index,
            clock=self.clock,
            policy=self.policy,
        )

        async def sweep_deadlines() -> None:
            started = time.perf_counter()
            stats = await self.sweep.run()
            seconds = time.perf_counter() - started
            self.last_sweep = SweepRun(self.clock(), seconds)
            self.metrics.swept(seconds, stats.escalated)
            self.dispatcher.poke()  # what the sweep staged goes out now, not at the next drain

        interval = self.settings.sweep_interval_seconds
        self.periodic_jobs.append(PeriodicJob("deadline-sweep", sweep_deadlines, interval))
        self.desk = Desk(
            DeskDeps(
                self.database,
                self.settings,
                grid=lambda: self.grid_index,
                rules=lambda: CaseRules(self.policy, self.grid_index),
                clock=self.clock,
                poke=self.dispatcher.poke,
                media=self.media_store,
            )
        )
        self.housekeeping = Housekeeping(
            self.database, self.settings.retention_days, clock=self.clock
        )
        self.periodic_jobs.append(PeriodicJob("housekeeping", self.housekeeping.run, 3600.0))
        # Photos and voice messages of cases, downloaded into the store; it runs as a loop of
        # its own (like the outbox drain), poked after every commit that staged notices.
        self.media = MediaFetcher(
            self.database,
            self.media_store,
            self.media_sources,
            self.settings,
            clock=self.clock,
            on_notified=self.dispatcher.poke,
        )

        self.open311 = Open311Api(
            self.database,
            self.settings,
            lambda: self.grid_index,
            self.policy,
            clock=self.clock,
            on_filed=self.dispatcher.poke,
        )

    def _observer(self, then: HandledObserver | None) -> HandledObserver:
        """Count each handled event for /metrics, then tell the caller's observer."""

        def observe(inbound: Inbound, outcome: Outcome) -> None:
            self.metrics.handled(inbound, outcome)
            if then is not None:
                then(inbound, outcome)

        return observe

    def health(self) -> Health:
        return Health(
            self.database,
            self.clock,
            scheduler_alive=lambda: self.scheduler is not None and self.scheduler.running,
            last_sweep=lambda: self.last_sweep,
            details=lambda: {"cells": len(self.grid_index)},
        )

    async def _unreachable(self, channel: str, chat_id: str) -> None:
        await people.mark_unreachable_and_unsubscribe(self.database, channel, chat_id)

    async def load_grid(self) -> None:
        self.grid_index = await load_grid_index(self.database)

    def attach_console(self, sender: ConsoleSender | None = None) -> ConsoleChannel:
        self.console_sender = sender or ConsoleSender()
        self.senders["console"] = self.console_sender
        self.media_sources["console"] = ConsoleMedia()
        channel = ConsoleChannel(self.conversation.process, self.console_sender)
        channel.run_id = uuid.uuid4().hex[:8] + ":"
        return channel

    def attach_telegram(self) -> TelegramChannel:
        from bot.channels.telegram import TelegramChannel

        channel = TelegramChannel(
            self.settings,
            self.conversation.process,
            store=self.media_store,
            budget=telegram_send_budget(self.database, self.settings),
            sleep=self.sleep,
        )
        self.senders["telegram"] = channel.sender
        self.media_sources["telegram"] = channel.media
        self.telegram = channel
        return channel

    def attach_wechat(self) -> WeChatChannel:
        from bot.channels.wechat import WeChatChannel

        async def locale_of(openid: str) -> str | None:
            return await people.locale_of(self.database, "wechat", openid)

        channel = WeChatChannel(
            self.settings,
            self.conversation.process,
            clock=self.clock,
            locale_of=locale_of,
            store=self.media_store,
            tokens=DatabaseTokenStore(
                self.database,
                f"wechat:{self.settings.wechat_app_id}",
                self.heartbeat.id,
                clock=self.clock,
            ),
            budget=(
                DatabaseSendBudget(
                    self.database,
                    f"wechat:{self.settings.wechat_app_id}",
                    self.settings.send_rate_per_second,
                )
                if self.database.is_postgres
                else None
            ),
        )
        self.senders["wechat"] = channel.sender
        self.media_sources["wechat"] = channel.media
        self.wechat = channel
        return channel

    async def start(self, *, web_server: bool = False, background: bool = True) -> None:
        """Connect channels; `background=False` leaves draining the outbox to the caller.

        First of all the process registers its heartbeat, taking back at once what a dead
        predecessor of its name (or any process gone stale) had claimed."""
        await self.load_grid()
        await self.heartbeat.start()
        if self.telegram is not None:
            await self.telegram.start(receive="web" in self.roles)
        if background:
            self._tasks.append(asyncio.create_task(self._beat()))
            sending = "sender" in self.roles
            # Without the sender role the loop only marks sent the replies sent on the spot.
            self._tasks.append(asyncio.create_task(self.dispatcher.run(self._stop, claim=sending)))
            if sending:
                self._tasks.append(asyncio.create_task(self.media.run(self._stop)))
            jobs = [
                self._as_leader(job) if job.role == "scheduler" else job
                for job in self.periodic_jobs
                if job.role in self.roles
            ]
            if jobs:
                self.scheduler = build_scheduler(
                    jobs, timezone=self.settings.timezone, running=self._job_runs
                )
                self.scheduler.start()
        if web_server and "web" in self.roles:
            adders = [self.desk.add_routes, self.open311.add_routes, self.metrics.add_routes]
            if self.telegram is not None and self.settings.telegram_mode == "webhook":
                adders.append(self.telegram.add_routes)
            if self.wechat is not None:
                adders.append(self.wechat.add_routes)
            app = build_web_app(adders, health=self.health().handle)
            self._web_runner = await start_web(app, self.settings.web_host, self.settings.web_port)

    def _as_leader(self, job: PeriodicJob) -> PeriodicJob:
        """The job, done only by the process holding the scheduler lease (one among all)."""

        async def run() -> None:
            if await self.outreach.lead():
                await job.run()

        return replace(job, run=run)

    async def _beat(self) -> None:
        """Renew the heartbeat every few seconds until stopped (and take back stale claims)."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=BEAT_SECONDS)
            if self._stop.is_set():
                return
            try:
                await self.heartbeat.beat()
            except Exception:
                log.exception("heartbeat failed; trying again in %gs", BEAT_SECONDS)

    async def stop(self) -> None:
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self._job_runs:  # let a sweep or a broadcast batch in progress commit, not be cut
            await asyncio.wait(set(self._job_runs), timeout=10)
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self._tasks.clear()
        try:
            await self.dispatcher.flush_sent()
        except Exception:
            log.exception("could not record the last sent replies; they will be sent again")
        if self._web_runner is not None:
            await self._web_runner.cleanup()
            self._web_runner = None
        if self.wechat is not None:
            await self.wechat.stop()  # lets webhook tasks finish
            await self.dispatcher.flush_sent()
        if self.telegram is not None:
            await self.telegram.stop()
        try:
            await self.dispatcher.flush_sent()
            await self.heartbeat.stop()  # what is still claimed is due again, for the others
        except Exception:
            log.exception("could not hand back this process's claimed rows; others take them")
        await self.database.dispose()

    @property
    def web_port(self) -> int | None:
        """The port the web server listens on (the real one when WEB_PORT=0 asked for any)."""
        if self._web_runner is None:
            return None
        for address in self._web_runner.addresses:
            return int(address[1])
        return None

    async def wait_for_stop(self) -> None:
        await self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()


def freeze_startup_heap() -> None:
    """Take what startup built out of the garbage collector's sight, for the process's life.

    The grid index, the message catalogs and the libraries' own tables are hundreds of
    thousands of objects that live as long as the process. Every full collection walked them
    all: a pause of about 120 ms in the middle of handling updates (bench/ingest.py's Jingtu,
    measured with gc.callbacks); frozen, the same collection takes about 13 ms. Objects frozen
    here are still freed when nothing refers to them; only a cycle among them would outlive
    its use, which is why this is for the serving process and not for every `start()`.
    """
    gc.collect()
    gc.freeze()


async def _serve(settings: Settings, *, console: bool, role: str = "all") -> int:
    app = Jingtu(settings, role="all" if console else role)
    problem = await database_reachable(app.database, timeout=DATABASE_TIMEOUT)
    if problem is not None:
        print(
            f"cannot reach the database at {redact_url(settings.database_url)} ({problem}); "
            "check DATABASE_URL and that the server is running",
            file=sys.stderr,
        )
        await app.database.dispose()
        return 1
    revision = await migrate.current_revision(app.database)
    if revision is None:
        print("The database has no schema yet: run `python -m bot db upgrade` (or `make run`).")
        await app.database.dispose()
        return 1
    use_telegram = bool(settings.telegram_bot_token) and not console
    use_wechat = bool(settings.wechat_token and settings.wechat_app_id)
    if use_wechat:
        app.attach_wechat()
    if use_telegram or (use_wechat and not console):
        running = []
        if use_telegram:
            app.attach_telegram()
            running.append(
                f"Telegram ({settings.telegram_mode} mode, {settings.telegram_base_url})"
            )
        if use_wechat:
            running.append(f"WeChat (webhook /wechat, {settings.wechat_api_base_url})")
        try:
            await app.start(web_server=True)
        except ConfigError:  # e.g. a token the Bot API refuses: close what started, then say so
            await app.stop()
            raise
        freeze_startup_heap()
        log.info(
            "Jingtu (%s, role %s) running on %s; web (and the staff desk, /desk/) on %s; "
            "database %s; %d cells",
            app.heartbeat.name,
            role,
            " and ".join(running),
            f"{settings.web_host}:{app.web_port}" if app.web_port is not None else "(none)",
            redact_url(settings.database_url),
            len(app.grid_index),
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, app.request_stop)
        await app.wait_for_stop()
        await app.stop()
        return 0
    channel = app.attach_console(ConsoleSender(out=sys.stdout))
    await app.start(web_server=True)
    freeze_startup_heap()
    print(
        f"No TELEGRAM_BOT_TOKEN set: running the console channel on the sample grid "
        f"({len(app.grid_index)} cells, database {redact_url(settings.database_url)})."
    )
    print(f"The staff desk: http://{settings.web_host}:{app.web_port}/desk/")
    try:
        await channel.interact()
    finally:
        await app.stop()
    return 0


def run_main(settings: Settings, *, console: bool = False, role: str = "all") -> int:
    configure_logging(settings)
    try:
        return asyncio.run(_serve(settings, console=console, role=role))
    except KeyboardInterrupt:
        return 130

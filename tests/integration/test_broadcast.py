"""Broadcasts against the fake Bot API enforcing Telegram's limits, on a virtual clock.

Subscribers for big runs are bulk-inserted; the real TelegramSender talks HTTP to FakeBotApi,
whose rate limits read the same VirtualTime the limiter sleeps on, so a 2,000-recipient run at
30/s takes ~67 virtual seconds and well under a few real seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.sql.cache_key import HasCacheKey

from bot.app import Jingtu
from bot.channels.telegram import TelegramChannel
from bot.cli import main as cli_main
from bot.config import Settings
from bot.delivery.broadcast import BroadcastEngine
from bot.services import campaigns, people
from bot.services.grid import load_grid_index
from bot.services.outreach import OutreachService
from bot.storage.db import Database
from bot.storage.models import (
    CampaignRun,
    CampaignSchedule,
    Case,
    Delivery,
    GridCell,
    Person,
    Subscription,
)
from tests.conftest import run_blocking
from tests.fakes.telegram_api import FakeBotApi
from tests.support.telegram_driver import telegram_settings
from tests.support.virtual_time import VirtualTime

FIRST_CHAT = 500_000
SAMZHUBZE = "540202"
NAMLING = "540221"
NYANG = {"date": "June 5"}
# 2026-11-30 02:00 UTC is Monday 10:00 in Shigatse: outside quiet hours.
MORNING = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@dataclass
class World:
    api: FakeBotApi
    database: Database
    settings: Settings
    time: VirtualTime
    channel: TelegramChannel

    def service(self, **settings: Any) -> OutreachService:
        """A fresh process-equivalent on the virtual clock: its own limiter and leader identity,
        wired as the composition root wires it (the engine built here, handed to the service)."""
        grid_settings = replace(self.settings, **settings)
        broadcasts = BroadcastEngine(
            self.database,
            {"telegram": self.channel.sender},
            grid_settings.broadcast_rate_per_second,
            on_blocked=people.unsubscribe_unreachable,
            clock=self.time,
            monotonic=self.time.monotonic,
            sleep=self.time.sleep,
        )
        self.time.track(broadcasts.limiter_for("telegram"))  # requests take no virtual time
        return OutreachService(
            self.database,
            grid_settings,
            broadcasts,
            grid=lambda: self.grid,
            clock=self.time,
            monotonic=self.time.monotonic,
        )

    grid: Any = None


@pytest.fixture
async def world(sample_database_url: str) -> AsyncIterator[World]:
    vt = VirtualTime(MORNING)
    async with FakeBotApi() as api:
        api.set_rate_limits(global_per_second=30, per_chat_per_second=1, clock=vt.monotonic)
        settings = telegram_settings(replace(Settings(), database_url=sample_database_url), api)

        async def ignore(_: Any) -> None:
            return None

        channel = TelegramChannel(settings, ignore)
        await channel.application.initialize()
        database = Database.from_url(sample_database_url)
        world = World(api, database, settings, vt, channel)
        world.grid = await load_grid_index(database)
        try:
            yield world
        finally:
            await channel.application.shutdown()
            await database.dispose()


async def add_subscribers(
    database: Database,
    count: int,
    *,
    topic: str = "campaigns",
    area: str | None = SAMZHUBZE,
    locales: tuple[str | None, ...] = ("zh-Hans", "bo", "en"),
    first_chat: int = FIRST_CHAT,
    channel: str = "telegram",
) -> list[int]:
    """Bulk-insert `count` people subscribed to `topic`; returns their chat ids."""
    chats = list(range(first_chat, first_chat + count))
    async with database.transaction() as session:
        await session.execute(
            insert(Person),
            [
                {
                    "channel": channel,
                    "channel_user_id": str(chat),
                    "chat_id": str(chat),
                    "display_name": "",
                    "locale": locales[i % len(locales)],
                    "reachable": True,
                    "created_at": MORNING,
                }
                for i, chat in enumerate(chats)
            ],
        )
        ids = dict(
            (
                await session.execute(
                    select(Person.chat_id, Person.id).where(
                        Person.channel == channel, Person.chat_id.in_([str(c) for c in chats])
                    )
                )
            ).all()
        )
        await session.execute(
            insert(Subscription),
            [
                {
                    "person_id": ids[str(chat)],
                    "topic": topic,
                    "area_cell_code": area,
                    "created_at": MORNING,
                }
                for chat in chats
            ],
        )
    return chats


def engine(service: OutreachService) -> BroadcastEngine:
    """The broadcast engine `World.service` handed to the service."""
    assert isinstance(service.broadcaster, BroadcastEngine)
    return service.broadcaster


async def send_now(service: OutreachService, campaign: str = "nyang-river", **target: Any):
    request = campaigns.build_request(campaign, params=target.pop("params", NYANG), **target)
    run_id, _ = await service.start_run(request)
    return run_id, await service.drain_run(run_id, max_retry_wait=float("inf"))


async def run_row(database: Database, run_id: int) -> CampaignRun:
    async with database.reader() as session:
        run = await session.get(CampaignRun, run_id)
        assert run is not None
        return run


async def add_case(
    database: Database, cell: str, *, created: datetime, resolved: datetime | None = None
) -> None:
    async with database.transaction() as session:
        reporter = Person(channel="console", channel_user_id="r", chat_id="r", created_at=created)
        existing = await session.scalar(select(Person).where(Person.channel_user_id == "r"))
        if existing is None:
            session.add(reporter)
            await session.flush()
        else:
            reporter = existing
        serial = await session.scalar(select(func.count()).select_from(Case))
        session.add(
            Case(
                number=f"2026-{int(serial or 0) + 1:05d}",
                category="air-construction",
                description="dust",
                status="resolved" if resolved else "assigned",
                lat=29.267,
                lon=88.881,
                origin_cell_code=cell,
                cell_code=cell,
                reporter_id=reporter.id,
                created_at=created,
                updated_at=created,
                resolved_at=resolved,
            )
        )


def messages_per_chat(api: FakeBotApi, chats: list[int]) -> dict[int, int]:
    return {chat: len(api.sent_to(chat)) for chat in chats}


# --- delivery, limits, exactly once ------------------------------------------------------------


async def test_a_run_to_2000_subscribers_reaches_each_once_without_a_429_and_drops_the_blocked(
    world: World,
):
    chats = await add_subscribers(world.database, 2000)
    blocked = chats[10:13]
    for chat in blocked:
        world.api.block_chat(chat)

    run_id, result = await send_now(world.service())

    assert result.status == "done"
    counts = messages_per_chat(world.api, chats)
    assert {c for c, n in counts.items() if n != 1} == set(blocked)
    assert all(counts[c] == 0 for c in blocked)
    assert world.api.stats["429"] == 0
    # 1,997 messages at 30/s: about 66.6 virtual seconds, and not much more.
    assert 1997 / 30 - 1 <= world.time.seconds <= 1997 / 30 * 1.05
    run = await run_row(world.database, run_id)
    assert run.status == "done"
    assert run.stats["sent"] == 1997 and run.stats["blocked"] == 3
    assert run.stats["remaining"] == 0
    async with world.database.reader() as s:
        gone = (
            await s.execute(
                select(Person.reachable, func.count(Subscription.id))
                .outerjoin(Subscription, Subscription.person_id == Person.id)
                .where(Person.chat_id.in_([str(c) for c in blocked]))
                .group_by(Person.reachable)
            )
        ).all()
    assert gone == [(False, 0)]


async def test_each_subscriber_reads_the_campaign_in_their_own_language(world: World):
    zh, bo, en = await add_subscribers(world.database, 3)
    await send_now(world.service(), params={"date": "6月5日"})
    assert "保护年楚河" in world.api.sent_to(zh)[0]["text"]
    assert "མྱང་ཆུ" in world.api.sent_to(bo)[0]["text"]
    assert "Protect the Nyang River" in world.api.sent_to(en)[0]["text"]
    assert "年楚河桑珠孜段" in world.api.sent_to(zh)[0]["text"]  # the default parameter


async def test_a_run_killed_midway_and_resumed_reaches_everyone_within_the_duplicate_bound(
    world: World,
):
    chats = await add_subscribers(world.database, 600)
    first = world.service()
    halfway = asyncio.Event()
    quiet = asyncio.Event()
    sender = world.channel.sender

    class Watching:
        """Kills the run between requests: once 250 have arrived, nothing new starts, and the
        kill comes when those already under way have been answered. (A request cut off mid-way
        may still reach the server after the kill, and the fake server would count it at the
        virtual time of the resumed run, a second later than it belongs.)"""

        in_flight = 0

        async def send(self, chat_id: str, payload: dict[str, Any]) -> None:
            if halfway.is_set():
                await asyncio.Event().wait()  # the process is about to die
            self.in_flight += 1
            try:
                await sender.send(chat_id, payload)
            finally:
                self.in_flight -= 1
                if world.api.stats["sent"] >= 250:
                    halfway.set()
                if halfway.is_set() and self.in_flight == 0:
                    quiet.set()

    engine(first).senders = {"telegram": Watching()}
    request = campaigns.build_request("nyang-river", params=NYANG)
    run_id, _ = await first.start_run(request)
    drain = asyncio.create_task(first.drain_run(run_id, max_retry_wait=float("inf")))
    await quiet.wait()
    drain.cancel()  # the process dies mid-run, with sends not yet marked in the database
    with pytest.raises(asyncio.CancelledError):
        await drain
    bound = engine(first).sender().duplicate_bound

    async with world.database.reader() as s:
        left = await s.scalar(
            select(func.count()).where(Delivery.run_id == run_id, Delivery.status != "sent")
        )
    assert left and left > 0
    world.time.advance(minutes=3)  # the dead process's claims expire
    result = await world.service().drain_run(run_id, max_retry_wait=float("inf"))

    assert result.status == "done"
    counts = messages_per_chat(world.api, chats)
    assert min(counts.values()) == 1
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= bound
    assert world.api.stats["429"] == 0
    assert (await run_row(world.database, run_id)).stats["sent"] == 600


async def test_a_429_pauses_sending_for_retry_after_and_the_message_still_arrives_once(
    world: World,
):
    chats = await add_subscribers(world.database, 40)
    world.api.fail_next("sendMessage", error_code=429, retry_after=7)
    service = world.service()
    run_id, result = await send_now(service)
    assert result.status == "done"
    assert set(messages_per_chat(world.api, chats).values()) == {1}
    assert world.api.stats["429"] == 1  # the injected one only: the pause was honoured
    assert world.time.seconds >= 7
    assert (await run_row(world.database, run_id)).stats["throttled"] == 1


async def test_transient_errors_are_retried_with_backoff_until_delivered(world: World):
    chats = await add_subscribers(world.database, 5)
    world.api.fail_next("sendMessage", error_code=502, times=2)
    _, result = await send_now(world.service())
    assert result.status == "done"
    assert set(messages_per_chat(world.api, chats).values()) == {1}


async def test_a_paid_broadcast_runs_at_1000_per_second_without_a_429(world: World):
    world.api.set_rate_limits(
        global_per_second=1000, per_chat_per_second=1, clock=world.time.monotonic
    )
    chats = await add_subscribers(world.database, 1000)
    service = world.service(broadcast_rate_per_second=1000.0, paid_broadcast=True)
    _, result = await send_now(service)
    assert result.status == "done"
    assert set(messages_per_chat(world.api, chats).values()) == {1}
    assert world.api.stats["429"] == 0
    assert world.time.seconds <= 1000 / 1000 * 1.05


async def test_the_limiter_remembers_only_recent_chats_however_many_it_sent_to(world: World):
    await add_subscribers(world.database, 300)
    service = world.service()
    await send_now(service)
    assert engine(service).limiter_for("telegram").tracked_chats <= 3 * 30 + 1


async def deliveries(database: Database, run_id: int) -> dict[int, tuple[str, int, str]]:
    """chat -> (status, attempts, last_error) of each delivery in the run."""
    async with database.reader() as session:
        rows = await session.execute(
            select(Person.chat_id, Delivery.status, Delivery.attempts, Delivery.last_error)
            .join(Person, Person.id == Delivery.person_id)
            .where(Delivery.run_id == run_id)
        )
        return {int(chat): (status, attempts, error) for chat, status, attempts, error in rows}


async def test_a_refused_message_fails_and_a_blocked_chat_is_marked_each_with_its_error(
    world: World,
):
    refused, gone = await add_subscribers(world.database, 2)
    world.api.fail_next("sendMessage", error_code=400, description="Bad Request: text is too long")
    world.api.block_chat(gone)

    run_id, result = await send_now(world.service())

    assert result.status == "done"
    got = await deliveries(world.database, run_id)
    assert got[refused][:2] == ("failed", 1) and got[refused][2].startswith("400 ")
    assert got[gone][:2] == ("blocked", 1) and got[gone][2].startswith("403 ")
    stats = (await run_row(world.database, run_id)).stats
    assert (stats["sent"], stats["failed"], stats["blocked"], stats["remaining"]) == (0, 1, 1, 0)


async def test_a_message_that_keeps_failing_is_given_up_after_the_last_attempt(world: World):
    (chat,) = await add_subscribers(world.database, 1)
    service = world.service()
    attempts = engine(service).sender().max_attempts
    world.api.fail_next("sendMessage", error_code=502, times=attempts)

    run_id, result = await send_now(service)

    assert result.status == "done"
    status, tried, error = (await deliveries(world.database, run_id))[chat]
    assert (status, tried) == ("failed", attempts) and error
    assert world.api.sent_to(chat) == []
    stats = (await run_row(world.database, run_id)).stats
    assert (stats["failed"], stats["retries"], stats["remaining"]) == (1, attempts - 1, 0)


async def test_sending_to_more_people_derives_no_more_sql_statements(world: World, monkeypatch):
    """Every write of a broadcast reuses a statement built once: none is derived afresh per
    page or per batch of results. (Executing them through the ORM session re-derived each one
    with a new cache key, and the work of computing it left memory behind that grew with the
    number of recipients until a full garbage collection.)"""
    world.api.set_rate_limits(
        global_per_second=1000, per_chat_per_second=1, clock=world.time.monotonic
    )
    derived = 0
    generate = HasCacheKey._generate_cache_key

    def counting(self: HasCacheKey) -> Any:
        nonlocal derived
        derived += 1
        return generate(self)

    monkeypatch.setattr(HasCacheKey, "_generate_cache_key", counting)
    counts = []
    for size, first_chat in (
        (50, FIRST_CHAT),
        (200, FIRST_CHAT + 1_000),
        (1200, FIRST_CHAT + 2_000),
    ):
        await add_subscribers(world.database, size, first_chat=first_chat)
        service = world.service(broadcast_rate_per_second=1000.0, paid_broadcast=True)
        derived = 0
        _, result = await send_now(service)
        assert result.status == "done"
        assert result.progress is not None and result.progress.sent == size
        counts.append(derived)
        async with world.database.transaction() as session:  # the next run reaches new people
            await session.execute(delete(Subscription))
        world.time.advance(minutes=1)

    # The first run builds what is built once; then one page and 2 batches of results written,
    # against two pages and 12 batches.
    _, small, big = counts
    assert big <= small


# --- quiet hours ----------------------------------------------------------------------------------


async def test_quiet_hours_hold_a_run_until_morning_and_then_release_it(world: World):
    chats = await add_subscribers(world.database, 5)
    world.time.start = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 in Shigatse
    service = world.service()
    run_id, result = await send_now(service)
    assert result.status == "held"
    assert result.until == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 local
    assert world.api.stats["sent"] == 0

    world.time.advance(hours=8, minutes=31)
    results = await service.run_once()
    assert results[run_id].status == "done"
    assert set(messages_per_chat(world.api, chats).values()) == {1}


async def test_an_urgent_bulletin_is_not_held_by_quiet_hours(world: World, monkeypatch):
    library = dict(campaigns.load_library())
    library["nyang-river"] = replace(library["nyang-river"], urgent=True)
    monkeypatch.setattr(campaigns, "load_library", lambda: library)
    chats = await add_subscribers(world.database, 3)
    world.time.start = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    _, result = await send_now(world.service())
    assert result.status == "done"
    assert set(messages_per_chat(world.api, chats).values()) == {1}


# --- targeting --------------------------------------------------------------------------------


async def recipients(world: World, **target: Any) -> set[str]:
    service = world.service()
    request = campaigns.build_request("nyang-river", params=NYANG, **target)
    run_id, _ = await service.start_run(request)
    async with world.database.reader() as s:
        rows = await s.scalars(
            select(Person.chat_id)
            .join(Delivery, Delivery.person_id == Person.id)
            .where(Delivery.run_id == run_id)
        )
        return set(rows.all())


async def test_targeting_by_area_topic_and_locale_picks_exactly_the_right_people(world: World):
    async with world.database.reader() as s:
        township = await s.scalar(
            select(GridCell.code).where(GridCell.parent_code == SAMZHUBZE).order_by(GridCell.code)
        )
        village = await s.scalar(
            select(GridCell.code).where(GridCell.parent_code == township).order_by(GridCell.code)
        )
    county = await add_subscribers(world.database, 3, area=SAMZHUBZE, first_chat=1000)
    in_village = await add_subscribers(world.database, 3, area=village, first_chat=2000)
    elsewhere = await add_subscribers(world.database, 3, area=NAMLING, first_chat=3000)
    citywide = await add_subscribers(world.database, 3, area=None, first_chat=4000)
    air = await add_subscribers(world.database, 3, topic="air", first_chat=5000)

    def ids(*groups: list[int]) -> set[str]:
        return {str(c) for g in groups for c in g}

    assert await recipients(world) == ids(county, in_village, elsewhere, citywide)
    assert await recipients(world, area=SAMZHUBZE) == ids(county, in_village)
    assert await recipients(world, area=township) == ids(in_village)
    assert await recipients(world, area=NAMLING, locale="zh-Hans") == {str(elsewhere[0])}
    assert await recipients(world, locale="en") == {
        str(g[2]) for g in (county, in_village, elsewhere, citywide)
    }
    assert await recipients(world, topic="air") == ids(air)


# --- schedules ----------------------------------------------------------------------------------


async def test_a_schedule_survives_a_restart_and_fires_once_at_its_time(
    sample_database_url: str,
):
    vt = VirtualTime(MORNING)
    settings = replace(Settings(), database_url=sample_database_url)
    app = Jingtu(settings, clock=vt, monotonic=vt.monotonic, sleep=vt.sleep)
    app.attach_console()
    await app.start(background=False)
    await add_subscribers(app.database, 2, channel="console", first_chat=9000)
    async with app.database.transaction() as session:
        request = campaigns.build_request("nyang-river", params=NYANG)
        await campaigns.add_schedule(
            session, request, cron="0 9 * * MON", run_at=None, now=vt(), tz=settings.tz
        )
    await app.stop()

    vt.advance(days=6, hours=22, minutes=59)  # Monday 08:59 local, a week later
    app = Jingtu(settings, clock=vt, monotonic=vt.monotonic, sleep=vt.sleep)  # all virtual
    console = app.attach_console()
    vt.track(app.broadcasts.limiter_for("console"))  # sends take no virtual time
    await app.start(background=False)
    try:
        assert await app.outreach.run_once() == {}
        vt.advance(minutes=1, seconds=5)
        results = await app.outreach.run_once()
        assert [r.status for r in results.values()] == ["done"]
        assert vt.slept > 0, vt.slept  # the two sends were paced on the virtual clock
        assert await app.outreach.run_once() == {}  # fired once, not again
        for chat in ("9000", "9001"):
            assert "Nyang" in console.sender.screens[chat].replies[-1].text or (
                "年楚河" in console.sender.screens[chat].replies[-1].text
            )
        async with app.database.reader() as s:
            schedule = (await s.scalars(select(CampaignSchedule))).one()
            run = (await s.scalars(select(CampaignRun))).one()
        assert schedule.next_fire_at == datetime(2026, 12, 14, 1, 0, tzinfo=UTC)
        assert run.fire_key == "schedule:1:20261207T010000Z"
    finally:
        await app.stop()


async def test_two_processes_fire_a_due_schedule_exactly_once(world: World):
    await add_subscribers(world.database, 2)
    async with world.database.transaction() as session:
        request = campaigns.build_request("nyang-river", params=NYANG)
        await campaigns.add_schedule(
            session,
            request,
            cron=None,
            run_at=MORNING + timedelta(minutes=5),
            now=MORNING,
            tz=world.settings.tz,
        )
    world.time.advance(minutes=6)
    a, b = world.service(), world.service()
    await asyncio.gather(a.run_once(), b.run_once(), a.fire_due(), b.fire_due())
    async with world.database.reader() as s:
        runs = (await s.scalars(select(CampaignRun))).all()
        schedule = (await s.scalars(select(CampaignSchedule))).one()
    assert len(runs) == 1
    assert not schedule.active


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_processes_preparing_one_run_at_once_give_one_set_of_deliveries(
    world: World, monkeypatch
):
    # `campaign send-now` and the leader's drain both prepare a fresh run; in small chunks, so
    # the two preparers interleave over several chunk transactions, not just the first.
    monkeypatch.setattr(campaigns, "PREPARE_CHUNK", 7)
    chats = await add_subscribers(world.database, 40)
    async with world.database.transaction() as session:
        request = campaigns.build_request("nyang-river", params=NYANG)
        run_id = await campaigns.create_run(session, request, now=MORNING)
    assert run_id is not None
    counts = await asyncio.gather(
        *(
            campaigns.prepare_run(world.database, run_id, default_locale="zh-Hans", now=MORNING)
            for _ in range(2)
        )
    )
    async with world.database.reader() as s:
        people_reached = (
            await s.scalars(select(Delivery.person_id).where(Delivery.run_id == run_id))
        ).all()
    run = await run_row(world.database, run_id)
    assert counts == [len(chats), len(chats)]
    assert len(people_reached) == len(set(people_reached)) == len(chats)
    assert run.status == "running"
    assert run.stats == {"recipients": len(chats)}


async def test_a_fire_time_missed_beyond_the_grace_period_is_skipped_not_sent_late(
    world: World,
):
    await add_subscribers(world.database, 2)
    async with world.database.transaction() as session:
        request = campaigns.build_request("nyang-river", params=NYANG)
        await campaigns.add_schedule(
            session, request, cron="0 9 * * *", run_at=None, now=MORNING, tz=world.settings.tz
        )
    world.time.advance(days=1, hours=2)  # Tuesday 12:00: 09:00 was three hours ago
    assert await world.service().fire_due() == []
    world.time.advance(hours=21)  # Wednesday 09:00
    assert len(await world.service().fire_due()) == 1


async def test_the_weekly_digest_counts_cases_received_and_resolved_in_each_area(world: World):
    county_chats = await add_subscribers(world.database, 2, topic="digest", area=SAMZHUBZE)
    other = await add_subscribers(
        world.database, 1, topic="digest", area=NAMLING, first_chat=7000, locales=("en",)
    )
    async with world.database.reader() as s:
        village = await s.scalar(
            select(GridCell.code)
            .where(GridCell.level == "village", GridCell.code.like(SAMZHUBZE + "%"))
            .order_by(GridCell.code)
        )
    assert village is not None
    day = MORNING - timedelta(days=2)
    await add_case(world.database, village, created=day, resolved=day + timedelta(hours=5))
    await add_case(world.database, village, created=day)
    await add_case(world.database, village, created=day - timedelta(days=30))

    _, result = await send_now(world.service(), "weekly-digest", params={})
    assert result.status == "done"
    en_county = world.api.sent_to(county_chats[1])  # locales cycle zh-Hans, bo, en: 2nd is bo
    zh_county = world.api.sent_to(county_chats[0])[0]["text"]
    assert "桑珠孜区" in zh_county and "2 件" in zh_county and "办结：1 件" in zh_county
    assert en_county
    namling = world.api.sent_to(other[0])[0]["text"]
    assert "Namling County" in namling and "received this week: 0" in namling


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(sample_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    monkeypatch.setenv("DATABASE_URL", sample_database_url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)

    def run(*argv: str) -> int:
        return cli_main(["campaign", *argv])

    return run


def stored(url: str) -> tuple[int, int]:
    async def count() -> tuple[int, int]:
        database = Database.from_url(url)
        try:
            async with database.reader() as s:
                schedules = await s.scalar(select(func.count()).select_from(CampaignSchedule))
                runs = await s.scalar(select(func.count()).select_from(CampaignRun))
                return int(schedules or 0), int(runs or 0)
        finally:
            await database.dispose()

    return run_blocking(count())


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("schedule", "nyang-river", "--param", "date=x", "--cron", "0 25 * * *"), "bad cron"),
        (("schedule", "nyang-river", "--param", "date=x", "--cron", "0 9 * *"), "five fields"),
        (("schedule", "no-such", "--cron", "0 9 * * MON"), "unknown campaign 'no-such'"),
        (("schedule", "nyang-river", "--param", "date=x", "--at", "2020-01-01T09:00"), "past"),
        (("schedule", "nyang-river", "--param", "date=x", "--at", "tomorrow"), "--at 'tomorrow'"),
        (("schedule", "nyang-river", "--cron", "0 9 * * MON"), "missing parameter date"),
        (
            ("send-now", "nyang-river", "--param", "date=x", "--param", "colour=red"),
            "unknown parameter 'colour'",
        ),
        (("send-now", "nyang-river", "--param", "date=x"), "nobody is subscribed"),
        (("send-now", "nyang-river", "--param", "date=x", "--area", "999"), "unknown grid cell"),
        (("send-now", "nyang-river", "--param", "date=x", "--locale", "fr"), "unknown locale"),
        (("send-now", "nyang-river", "--param", "date"), "key=value"),
        (("cancel", "42"), "no run 42"),
    ],
)
def test_campaign_commands_refuse_bad_input_in_one_line_and_change_nothing(
    cli, sample_database_url: str, capsys, argv: tuple[str, ...], says: str
):
    assert cli(*argv) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and says in err and "\n" not in err
    assert stored(sample_database_url) == (0, 0)


def test_campaign_list_show_schedule_and_runs_work_from_the_command_line(
    cli, sample_database_url: str, capsys
):
    run_blocking(_seed(sample_database_url))
    assert cli("list") == 0
    out = capsys.readouterr().out
    assert "nyang-river" in out and "air-quality-monthly" in out and "weekly-digest" in out
    assert cli("show", "little-hands") == 0
    assert "小手拉大手" in capsys.readouterr().out
    assert cli("schedule", "nyang-river", "--param", "date=June 5", "--cron", "0 9 * * MON") == 0
    assert "schedule #1" in capsys.readouterr().out
    assert cli("send-now", "nyang-river", "--param", "date=June 5") == 0
    assert "run 1: nyang-river to 2 recipients" in capsys.readouterr().out
    assert cli("runs") == 0
    assert "running" in capsys.readouterr().out
    assert cli("cancel", "1") == 0
    assert cli("cancel", "1") == 1
    assert stored(sample_database_url) == (1, 1)


async def _seed(url: str) -> None:
    database = Database.from_url(url)
    try:
        await add_subscribers(database, 2)
    finally:
        await database.dispose()

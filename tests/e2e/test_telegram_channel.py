"""The Telegram adapter's own duties: webhook authentication, retries, limits, the command list."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest
from sqlalchemy import select

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, split_text
from bot.config import Settings
from bot.storage.models import OutboxMessage, ProcessedUpdate
from tests.fakes.telegram_api import FakeBotApi
from tests.support.clock import FakeClock
from tests.support.handled import handled
from tests.support.telegram_driver import SECRET, telegram_driver, webhook_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_webhook_mode_registers_the_secret_and_accepts_only_requests_bearing_it(
    sample_database_url, clock
):
    settings = replace(Settings(), database_url=sample_database_url)
    async with FakeBotApi() as api:
        app = await webhook_app(settings, api, clock)
        try:
            assert api.webhook is not None
            assert api.webhook["url"] == "https://jingtu.example.org/telegram/webhook"
            assert api.webhook["secret_token"] == SECRET
            update = api.user_text(501, "/help", first_name="Wangmo")
            url = f"http://127.0.0.1:{app.web_port}{WEBHOOK_PATH}"
            async with aiohttp.ClientSession() as http:
                for headers in ({}, {SECRET_HEADER: "wrong"}):
                    async with http.post(url, json=update, headers=headers) as response:
                        assert response.status == 401
                assert api.sent_to(501) == []
                async with http.post(url, data=b"{not json", headers={SECRET_HEADER: SECRET}) as r:
                    assert r.status == 400
                for _ in range(2):  # Telegram redelivers when it does not hear 200 in time
                    async with http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as r:
                        assert r.status == 200
            await handled(app).wait(2)
            replies = api.sent_to(501)
            assert len(replies) == 1 and "/report" in replies[0]["text"]
            async with app.database.reader() as s:
                assert len((await s.scalars(select(ProcessedUpdate))).all()) == 1
        finally:
            await app.stop()


async def test_the_command_list_is_registered_in_every_language(sample_database_url, clock):
    settings = replace(Settings(), database_url=sample_database_url)
    async with telegram_driver(settings, clock) as tg:
        registered = {
            lang: [c["command"] for c in cmds] for (_, lang), cmds in tg.api.commands.items()
        }
        assert set(registered) == {"", "en", "bo"}
        assert all("report" in cmds and "mycases" in cmds for cmds in registered.values())


async def test_a_notification_refused_with_429_waits_the_time_telegram_asks(
    sample_database_url, clock
):
    from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report

    settings = replace(Settings(), database_url=sample_database_url)
    async with telegram_driver(settings, clock) as tg:
        await tg.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
        await report(tg, "alice")
        tg.api.fail_next("sendMessage", error_code=429, retry_after=7)
        await tg.deliver()
        async with tg.app.database.reader() as s:
            pending = (
                await s.scalars(select(OutboxMessage).where(OutboxMessage.status != "sent"))
            ).all()
        assert len(pending) == 1
        assert pending[0].attempts == 1 and "429" in pending[0].last_error
        assert (pending[0].next_attempt_at - clock.now).total_seconds() == pytest.approx(7)
        clock.advance(seconds=6)
        await tg.deliver()
        assert not any("2026-00001" in s.text for s in tg.received("supervisor"))
        clock.advance(seconds=1)
        await tg.deliver()
        assert any("2026-00001" in s.text for s in tg.received("supervisor"))


async def test_a_supervisor_chat_that_blocked_the_bot_is_not_retried(sample_database_url, clock):
    from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report

    settings = replace(Settings(), database_url=sample_database_url)
    async with telegram_driver(settings, clock) as tg:
        await tg.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
        tg.api.block_chat(tg.uid("supervisor"))
        await report(tg, "alice")
        await tg.deliver()
        clock.advance(hours=1)
        await tg.deliver()
        async with tg.app.database.reader() as s:
            rows = (
                await s.scalars(select(OutboxMessage).where(OutboxMessage.case_id.is_not(None)))
            ).all()
        assert [(r.status, r.attempts) for r in rows] == [("dead", 1)]
        assert "403" in rows[0].last_error
        assert tg.api.stats["403"] == 1


async def test_a_transient_failure_is_retried_with_backoff_until_it_goes_through(
    sample_database_url, clock
):
    settings = replace(Settings(), database_url=sample_database_url)
    async with telegram_driver(settings, clock) as tg:
        tg.api.fail_next(
            "sendMessage", error_code=500, description="Internal Server Error", times=2
        )
        await tg.text("alice", "/help")
        assert tg.received("alice") == []
        for _ in range(2):
            clock.advance(minutes=1)
            await tg.deliver()
        assert len(tg.received("alice")) == 1


async def test_every_dialog_question_is_an_outbox_row_sent_at_once_and_retried_if_it_fails(
    sample_database_url, clock
):
    settings = replace(Settings(), database_url=sample_database_url)
    async with telegram_driver(settings, clock) as tg:
        tg.api.fail_next(
            "sendMessage", error_code=500, description="Internal Server Error", times=1
        )
        await tg.text("alice", "/report")
        assert tg.received("alice") == []
        async with tg.app.database.reader() as s:
            [row] = (await s.scalars(select(OutboxMessage))).all()
        assert (row.status, row.attempts) == ("pending", 1)  # the failed question, to retry
        clock.advance(minutes=1)
        await tg.deliver()
        assert len(tg.received("alice")) == 1
        await tg.press("alice", "大气")  # the next question is sent on the spot
        assert len(tg.received("alice")) == 2
        await tg.app.dispatcher.flush_sent()  # sent marks are written in batches
        async with tg.app.database.reader() as s:
            rows = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 0)]


def test_long_texts_are_split_at_line_breaks_within_telegrams_limit():
    body = "\n".join(f"line {i} " + "x" * 90 for i in range(200))
    chunks = split_text(body)
    assert all(len(c) <= 4096 for c in chunks)
    assert "".join(chunks) == body
    assert split_text("y" * 9000) == ["y" * 4096, "y" * 4096, "y" * 808]


async def test_a_single_photo_travels_with_its_text_as_the_caption(sample_database_url, clock):
    from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report

    settings = replace(Settings(), database_url=sample_database_url)
    async with telegram_driver(settings, clock) as tg:
        await tg.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
        await report(tg, "alice", photos=1)
        await tg.deliver()
        [note] = [s for s in tg.received("supervisor") if "2026-00001" in s.text]
        assert note.photos == ["photo-alice-0"]
        assert any(data.startswith("sv:ack:") for _, data in note.buttons)
        assert any(s.location for s in tg.received("supervisor"))


async def test_a_shared_venue_counts_as_the_place(sample_database_url, clock):
    settings = replace(Settings(), database_url=sample_database_url)
    async with telegram_driver(settings, clock) as tg:
        await tg.text("alice", "/report")
        await tg.press("alice", "大气")
        await tg.press("alice", "扬沙扬尘")
        await tg.text("alice", "沙尘很大，持续一整天")
        await tg.press("alice", "跳过")
        seen = await tg._after(
            "alice",
            tg.api.user_venue(
                tg.uid("alice"), 29.267, 88.881, "日喀则市", "桑珠孜区", first_name="alice"
            ),
        )
        assert "匿名" in seen[-1].text or any("匿名" in b[0] for s in seen for b in s.buttons)

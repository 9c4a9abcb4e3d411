"""The aiohttp transport under python-telegram-bot, against servers on loopback.

What it must do is what PTB's default transport does: carry form fields and uploads, hand the
answer to PTB, and turn transport failures into PTB's own errors (so the outbox retries them).
"""

from __future__ import annotations

import asyncio
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram_http import AiohttpRequest, environment_proxy
from tests.fakes.telegram_api import FakeBotApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


def make_bot(api: FakeBotApi, request: AiohttpRequest | None = None) -> Bot:
    return Bot(
        api.token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=request or AiohttpRequest(),
        get_updates_request=AiohttpRequest(connections=1),
    )


async def test_messages_with_keyboards_and_unicode_arrive_as_sent(api: FakeBotApi):
    api.user_text(42, "hi")
    async with make_bot(api) as bot:
        message = await bot.send_message(
            42,
            "举报已收到 · བོད་ཡིག · & = + %",
            reply_markup={"inline_keyboard": [[{"text": "确认", "callback_data": "r:ok"}]]},
        )
    assert message.text == "举报已收到 · བོད་ཡིག · & = + %"
    (sent,) = api.sent_to(42)
    assert sent["text"] == "举报已收到 · བོད་ཡིག · & = + %"
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "r:ok"


async def test_an_upload_goes_as_multipart_with_its_bytes(api: FakeBotApi):
    api.user_text(42, "hi")
    content = b"\xff\xd8\xff\xe0 a small jpeg \xff\xd9"
    async with make_bot(api) as bot:
        message = await bot.send_photo(
            42, InputFile(content, filename="after.jpg"), caption="治理后 after"
        )
        file = await bot.get_file(message.photo[-1].file_id)
        downloaded = await file.download_as_bytearray()
    assert message.caption == "治理后 after"
    assert bytes(downloaded) == content


async def test_bot_api_errors_reach_ptb_as_its_own_errors(api: FakeBotApi):
    api.user_text(42, "hi")
    api.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
    api.fail_next("sendMessage", error_code=429, retry_after=7)
    async with make_bot(api) as bot:
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(42, "to nobody")
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(42, "too fast")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns that the type will become timedelta
        assert flood.value.retry_after in (7, timedelta(seconds=7))


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[int]:
    """An HTTP server on loopback answering every request with `handler`; yields its port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def test_a_server_that_does_not_answer_is_a_timeout():
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.json_response({"ok": True, "result": True})

    async with serving(hang) as port:
        request = AiohttpRequest(read_timeout=0.2, write_timeout=0.2)
        await request.initialize()
        try:
            with pytest.raises(TimedOut):
                await request.post(f"http://127.0.0.1:{port}/bot1:x/deleteWebhook")
        finally:
            await request.shutdown()
            never.set()


async def test_nothing_listening_is_a_network_error():
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest(connect_timeout=2.0)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as info:
            await request.post(f"http://127.0.0.1:{port}/bot1:x/getMe")
        assert not isinstance(info.value, TimedOut)
    finally:
        await request.shutdown()


async def test_requests_go_through_the_configured_proxy(api: FakeBotApi):
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        # A forward proxy receives the absolute URL of the target as the request target.
        seen.append(str(request.url))
        return web.json_response({"ok": True, "result": True})

    async with serving(proxy) as port:
        target = "http://api.telegram.invalid/bot"
        request = AiohttpRequest(proxy=f"http://127.0.0.1:{port}")
        bot = Bot(api.token, base_url=target, request=request)
        await request.initialize()  # not bot.initialize(): that would ask the proxy for getMe
        try:
            assert await bot.delete_webhook() is True
        finally:
            await request.shutdown()
    assert seen and seen[0].startswith(f"{target}{api.token}/deleteWebhook")


def test_the_environment_proxy_is_honoured_unless_the_host_is_excluded(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "bot-api.internal")
    assert environment_proxy("https://api.telegram.org/bot") == "http://proxy.example:3128"
    assert environment_proxy("https://bot-api.internal/bot") is None
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("https_proxy", raising=False)
    assert environment_proxy("https://api.telegram.org/bot") is None


async def test_a_send_takes_its_budget_slot_only_once_a_connection_is_its_own(api: FakeBotApi):
    """A slot taken while every connection was busy would be spent later, bunched with the
    slots after it: the platform would see more than the budget's rate in one second."""
    started = finished = most = 0

    async def take_slot(method: str) -> None:
        nonlocal started, most
        if method != "sendMessage":  # getMe, when the bot starts
            return
        started += 1
        most = max(most, started - finished)  # slots taken, requests not yet answered

    async def send(bot: Bot, chat: int) -> None:
        nonlocal finished
        await bot.send_message(chat, "hi")
        finished += 1

    async with make_bot(api, AiohttpRequest(connections=2, before_request=take_slot)) as bot:
        await asyncio.gather(*(send(bot, 90_000 + i) for i in range(6)))
    assert len([name for name, _ in api.calls if name == "sendMessage"]) == 6
    assert most == 2

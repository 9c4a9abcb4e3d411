"""The Telegram webhook holds against hostile requests: bad secrets, odd bytes, endless bodies,
floods of refusals and fuzzed updates get a 4xx or a quiet 200, never a 5xx or a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import Jingtu
from bot.channels.door import REFUSALS_PER_WINDOW
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.config import Settings
from bot.storage.models import Person, ProcessedUpdate
from tests.fakes.telegram_api import FakeBotApi
from tests.support.clock import FakeClock
from tests.support.fuzzing import FUZZ_EXAMPLES, database_counts, forged_updates, valid_update
from tests.support.handled import handled
from tests.support.telegram_driver import SECRET, start_app, telegram_settings, webhook_app

# The door is the same whatever the database behind it; test_hostile_ids covers both databases.
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
async def hook(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Jingtu, str]]:
    async with FakeBotApi() as api:
        app = await webhook_app(settings, api, clock)
        try:
            yield app, f"http://127.0.0.1:{app.web_port}{WEBHOOK_PATH}"
        finally:
            await app.stop()


async def raw_post(port: int, head: bytes, body: bytes) -> int:
    """Send a request byte for byte (headers aiohttp's client would not send); the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()


async def count(app: Jingtu, model: Any) -> int:
    async with app.database.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


@SQLITE
async def test_a_secret_header_of_non_utf8_bytes_is_refused_with_401(hook, caplog):
    app, _ = hook
    caplog.set_level(logging.WARNING)
    body = b'{"update_id": 1}'
    head = (
        (
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        ).encode()
        + SECRET_HEADER.encode()
        + b": \xff\xfe"
        + SECRET.encode()[2:]
        + b"\r\n\r\n"
    )
    assert await raw_post(app.web_port, head, body) == 401
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@SQLITE
async def test_a_chunked_body_over_the_limit_is_refused_without_content_length(hook):
    app, url = hook

    async def endless() -> AsyncIterator[bytes]:
        yield b'{"update_id": 1, "message": {"text": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'"}}'

    headers = {SECRET_HEADER: SECRET}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=endless(), headers=headers) as response,
    ):
        assert response.status == 413
    assert await count(app, ProcessedUpdate) == 0


@SQLITE
async def test_a_source_refused_too_often_is_shut_out_for_the_window(hook):
    _, url = hook
    statuses = []
    async with aiohttp.ClientSession() as http:
        for _ in range(REFUSALS_PER_WINDOW + 5):
            async with http.post(url, json={}, headers={SECRET_HEADER: "x" * 20}) as response:
                statuses.append(response.status)
                retry_after = response.headers.get("Retry-After")
        assert statuses[:REFUSALS_PER_WINDOW] == [401] * REFUSALS_PER_WINDOW
        assert set(statuses[REFUSALS_PER_WINDOW:]) == {429}
        assert retry_after is not None and 0 < int(retry_after) <= 60


# --------------------------------------------------------------------------- fuzzing


@SQLITE
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=forged_updates(), raw_junk=st.binary(max_size=64))
async def test_fuzzed_updates_get_no_5xx_and_forged_ids_write_nothing(hook, case, raw_junk, caplog):
    app, url = hook
    update, forged_id = case
    assert app.telegram is not None
    await app.telegram.lanes.drain()
    before = await count(app, Person), await count(app, ProcessedUpdate)
    async with aiohttp.ClientSession() as http:
        body = json.dumps(update).encode()
        async with http.post(url, data=body, headers={SECRET_HEADER: SECRET}) as response:
            assert response.status < 500, (update, await response.text())
        async with http.post(url, data=raw_junk, headers={SECRET_HEADER: SECRET}) as response:
            assert response.status in (200, 400)
    assert app.telegram is not None
    await app.telegram.lanes.drain()  # what the valid updates started has finished
    await app.dispatcher.drain_until_empty()
    if forged_id:
        assert (await count(app, Person), await count(app, ProcessedUpdate)) == before
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# --------------------------------------------------------------------------- stored before confirmed


async def stored_update_ids(app: Jingtu) -> set[str]:
    async with app.database.reader() as s:
        return set((await s.scalars(select(ProcessedUpdate.update_id))).all())


@SQLITE
async def test_the_webhook_answers_200_only_once_the_update_is_stored(settings, clock):
    async with FakeBotApi() as api:
        app = await webhook_app(settings, api, clock)
        try:
            url = f"http://127.0.0.1:{app.web_port}{WEBHOOK_PATH}"
            async with aiohttp.ClientSession() as http:
                for user in range(8_100_001, 8_100_011):
                    update = api.user_text(user, "/help")
                    headers = {SECRET_HEADER: SECRET}
                    async with http.post(url, json=update, headers=headers) as response:
                        assert response.status == 200
                    # No waiting: had the process died now, Telegram would not send it again.
                    assert str(update["update_id"]) in await stored_update_ids(app)
        finally:
            await app.stop()


@SQLITE
async def test_polling_confirms_no_update_before_it_is_stored(settings, clock):
    async with FakeBotApi() as api:
        app = await start_app(telegram_settings(settings, api), clock)
        confirmed: list[int] = []
        unstored: list[int] = []

        async def check(ids: list[int]) -> None:
            stored = await stored_update_ids(app)
            confirmed.extend(ids)
            unstored.extend(i for i in ids if str(i) not in stored)

        api.on_confirm = check
        try:
            users = range(8_200_001, 8_200_041)
            for user in users:
                api.user_text(user, "/help")
            await handled(app).wait(len(users))
            api.user_text(8_200_999, "/help")  # the fetch that takes it confirms all before it
            await handled(app).wait(len(users) + 1)
        finally:
            await app.stop()
        assert len(confirmed) >= len(users)
        assert unstored == []


# --------------------------------------------------------------------------- polling, fuzzed


@pytest.fixture
async def polling(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Jingtu, FakeBotApi]]:
    async with FakeBotApi() as api:
        app = await start_app(telegram_settings(settings, api), clock)
        try:
            yield app, api
        finally:
            await app.stop()


def ordinary_update_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15


@SQLITE
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=forged_updates())
async def test_fuzzed_polled_updates_cause_no_error_and_forged_ids_write_nothing(
    polling, case, caplog
):
    app, api = polling
    update, forged_id = case
    if ordinary_update_id(update.get("update_id")):
        del update["update_id"]  # the fake numbers it after the ones before, as Telegram would
    before = await database_counts(app.database)
    api.push_update(update)
    # Confirmed by the next getUpdates, which waits until everything fetched has been handled.
    await api.wait_until_updates_consumed()
    if forged_id:
        assert await database_counts(app.database) == before, update
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@SQLITE
async def test_a_polled_update_ptb_cannot_read_is_refused_and_polling_goes_on(polling, caplog):
    # Found by fuzzing: entities of strings made PTB fail on the whole getUpdates batch, for
    # ever, so no later update was ever fetched.
    _, api = polling
    poisoned = valid_update(1, 7_300_001)
    del poisoned["update_id"]
    poisoned["message"]["entities"] = ["x"]
    api.push_update(poisoned)
    api.user_text(7_300_002, "/help")
    await api.wait_until_updates_consumed()
    assert len(api.sent_to(7_300_002)) == 1
    assert api.sent_to(7_300_001) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

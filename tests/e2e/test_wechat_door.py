"""The WeChat webhook holds against hostile requests and loses nothing it has answered.

Odd bytes in query parameters, endless chunked bodies, floods of forged signatures and fuzzed
bodies (plaintext and safe mode) get a 4xx, a 429 or ``success``: never a 5xx, never a traceback,
and nothing invalid reaches the database. A message is answered only once it is stored; while
the database is away it is not answered ``success``, and WeChat's retry stores it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import quote_from_bytes

import aiohttp
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import make_url, select

from bot.channels.door import REFUSALS_PER_WINDOW, RefusalThrottle
from bot.config import Settings
from bot.services import conversation
from bot.storage.models import ProcessedUpdate
from tests.fakes.wechat_server import to_xml, wechat_signature
from tests.support.clock import FakeClock
from tests.support.fuzzing import FUZZ_EXAMPLES, database_counts, wechat_messages
from tests.support.postgres_relay import CuttablePostgres
from tests.support.wechat_driver import WeChatDriver, wechat_driver

# The door is the same whatever the database behind it.
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
# A database that goes away and comes back: PostgreSQL behind a relay that can be cut.
POSTGRES = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture(params=["safe", "plaintext"])
async def wx(
    request: pytest.FixtureRequest, settings: Settings, clock: FakeClock
) -> AsyncIterator[WeChatDriver]:
    async with wechat_driver(settings, clock, safe_mode=request.param == "safe") as driver:
        yield driver


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def post_raw_query(wx: WeChatDriver, query: str, body: bytes = b"", method: str = "POST"):
    """A request whose query string is sent exactly as given (percent-escapes of any bytes)."""
    assert wx.fake.webhook_url is not None
    url = aiohttp.client.URL(f"{wx.fake.webhook_url}?{query}", encoded=True)
    async with aiohttp.ClientSession() as http, http.request(method, url, data=body) as response:
        return response.status


def signed_query(wx: WeChatDriver, clock: FakeClock, nonce: str = "1") -> dict[str, str]:
    ts = str(int(clock().timestamp()))
    return {
        "timestamp": ts,
        "nonce": nonce,
        "signature": wechat_signature(wx.fake.token, ts, nonce),
    }


@SQLITE
async def test_query_parameters_of_odd_bytes_are_refused_without_a_5xx(
    wx: WeChatDriver, clock: FakeClock, caplog
):
    caplog.set_level(logging.WARNING)
    ts = str(int(clock().timestamp()))
    odd = quote_from_bytes(b"\xff\xfe\xed\xa0\x80")
    for query in (
        f"timestamp={ts}&nonce={odd}&signature=abc&msg_signature=abc",
        f"timestamp={ts}&nonce=1&signature={odd}&msg_signature={odd}",
        f"timestamp={quote_from_bytes('²'.encode())}&nonce=1&signature=abc&msg_signature=abc",
        f"timestamp={quote_from_bytes('١٢٣'.encode())}&nonce=1&signature=a&msg_signature=a",
        f"timestamp={odd}&nonce={odd}",
    ):
        assert await post_raw_query(wx, query, b"<xml/>") == 401, query
        assert await post_raw_query(wx, query, method="GET") == 401, query
    assert errors(caplog) == []


@SQLITE
async def test_a_signed_server_check_with_an_odd_echostr_is_refused_without_a_5xx(
    wx: WeChatDriver, clock: FakeClock, caplog
):
    query = "&".join(f"{k}={v}" for k, v in signed_query(wx, clock).items())
    assert await post_raw_query(wx, f"{query}&echostr=%FF%FE", method="GET") == 400
    assert await post_raw_query(wx, f"{query}&echostr=12345", method="GET") == 200
    assert errors(caplog) == []


@SQLITE
async def test_a_chunked_body_over_the_limit_is_refused_without_content_length(
    wx: WeChatDriver, clock: FakeClock
):
    query = signed_query(wx, clock)
    query["msg_signature"] = "0" * 40  # safe mode reads the body before it can check this

    async def endless() -> AsyncIterator[bytes]:
        yield b"<xml><Content><![CDATA["
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b"]]></Content></xml>"

    assert wx.fake.webhook_url is not None
    async with (
        aiohttp.ClientSession() as http,
        http.post(wx.fake.webhook_url, params=query, data=endless()) as response,
    ):
        assert response.status == 413
    assert await database_counts(wx.app.database) == (0, 0, 0, 0)


@SQLITE
async def test_a_source_refused_too_often_is_shut_out_for_the_window(wx: WeChatDriver):
    fake = wx.fake
    hello = to_xml({**fake.openid_fields("oJingtu_mallory", "text", Content="/help"), "MsgId": 7})
    query, body = fake.signed_request(hello)
    forged = {**query, "signature": "0" * 40, "msg_signature": "0" * 40}
    statuses = [(await fake.post(forged, body)).status for _ in range(REFUSALS_PER_WINDOW + 3)]
    assert statuses == [401] * REFUSALS_PER_WINDOW + [429] * 3
    # Shut out, even with the right signature, until the window has passed.
    assert (await fake.post(query, body)).status == 429
    assert (await fake.verify_server("1")).status == 429
    assert await database_counts(wx.app.database) == (0, 0, 0, 0)


@SQLITE
async def test_a_message_is_answered_only_once_it_is_stored(wx: WeChatDriver):
    for n in range(5):
        openid = f"oJingtu_stored{n}"
        answer = await wx.fake.user_text(openid, "/help")
        assert answer == (200, "success")
        # No waiting: had the process died now, WeChat would not send the message again.
        async with wx.app.database.reader() as s:
            stored = set((await s.scalars(select(ProcessedUpdate.update_id))).all())
        assert len(stored) == n + 1
        assert len(wx.fake.sent_to(openid)) == 1  # and its reply has gone out


@SQLITE
async def test_a_retry_of_a_stored_message_changes_nothing(wx: WeChatDriver):
    assert await wx.fake.user_text("oJingtu_retry", "/help") == (200, "success")
    before = await database_counts(wx.app.database)
    assert await wx.fake.redeliver_last("oJingtu_retry") == (200, "success")
    assert await database_counts(wx.app.database) == before
    assert len(wx.fake.sent_to("oJingtu_retry")) == 1


# --------------------------------------------------------------------------- database away


@pytest.fixture
async def relay(settings: Settings) -> AsyncIterator[tuple[CuttablePostgres, Settings]]:
    """PostgreSQL through a relay the test can cut and mend, and settings that use it."""
    url = make_url(settings.database_url)
    relay = CuttablePostgres(url.host or "127.0.0.1", url.port or 5432)
    port = await relay.start()
    relayed = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    try:
        yield relay, replace(settings, database_url=relayed)
    finally:
        await relay.stop()


@POSTGRES
@pytest.mark.parametrize("safe_mode", [True, False], ids=["safe", "plaintext"])
async def test_a_message_not_stored_is_not_answered_success_and_its_retry_is_stored_once(
    relay: tuple[CuttablePostgres, Settings],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog,
    safe_mode: bool,
):
    # The door answered "success" whatever became of the message: a message that could not be
    # stored was forgotten by WeChat, and the lane logged a traceback.
    cut, relayed = relay
    # How long a transaction waits for the database; 30 s in production, which only makes the
    # test slower: what is tested is what the door answers once it gives up.
    monkeypatch.setattr(conversation, "STORE_PATIENCE", 0.5)
    async with wechat_driver(relayed, clock, safe_mode=safe_mode) as wx:
        openid = "oJingtu_away"
        before = await database_counts(wx.app.database)
        cut.sever()  # PostgreSQL goes away
        answer = await wx.fake.user_text(openid, "/help")
        assert answer.status == 503
        assert answer.text != "success" and answer.text != ""  # either would make WeChat forget
        cut.cut = False  # PostgreSQL is back
        assert await database_counts(wx.app.database) == before  # nothing half-stored
        assert wx.fake.sent_to(openid) == []
        # WeChat's retry: the same MsgId, signed anew.
        assert await wx.fake.redeliver_last(openid) == (200, "success")
        async with wx.app.database.reader() as s:
            stored = (await s.scalars(select(ProcessedUpdate.update_id))).all()
        assert len(stored) == 1
        assert len(wx.fake.sent_to(openid)) == 1
        # A later retry of the same message changes nothing.
        after = await database_counts(wx.app.database)
        assert await wx.fake.redeliver_last(openid) == (200, "success")
        assert await database_counts(wx.app.database) == after
        assert len(wx.fake.sent_to(openid)) == 1
    assert errors(caplog) == []


@POSTGRES
async def test_retries_that_arrive_while_the_database_is_away_store_the_message_once(
    relay: tuple[CuttablePostgres, Settings], clock: FakeClock, caplog
):
    # WeChat hangs up after 5 s and sends the message again; the first delivery keeps trying
    # to store it, and the retries wait behind it in the person's lane.
    cut, relayed = relay
    async with wechat_driver(relayed, clock) as wx:
        openid = "oJingtu_retried"
        cut.sever()
        first = asyncio.create_task(wx.fake.user_text(openid, "/help"))
        await cut.refused.wait()  # Jingtu tried to store it, and could not
        retries = [asyncio.create_task(wx.fake.redeliver_last(openid)) for _ in range(3)]
        cut.cut = False
        answers = await asyncio.gather(first, *retries)
        assert answers == [(200, "success")] * 4
        async with wx.app.database.reader() as s:
            stored = (await s.scalars(select(ProcessedUpdate.update_id))).all()
        assert len(stored) == 1
        await wx.fake.wait_for_messages(openid, 1)
        assert len(wx.fake.sent_to(openid)) == 1
        assert "went wrong" not in wx.fake.sent_to(openid)[0]["text"]["content"]
    assert errors(caplog) == []


# --------------------------------------------------------------------------- fuzzing

OPENIDS = st.integers(1, 50).map(lambda n: f"oFuzz_{n}")


@SQLITE
@hypothesis_settings(
    max_examples=max(FUZZ_EXAMPLES // 2, 1),
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(case=wechat_messages(OPENIDS), envelope=st.binary(max_size=64) | st.none())
async def test_fuzzed_bodies_get_no_5xx_and_invalid_ones_change_nothing(
    wx: WeChatDriver, case, envelope, caplog
):
    # Every request here comes from loopback; the throttle has tests of its own above.
    assert wx.app.wechat is not None
    wx.app.wechat.refusals = RefusalThrottle(limit=10**9)
    body, invalid = case
    fake = wx.fake
    before = await database_counts(wx.app.database)
    query, signed_body = fake.signed_request(body)
    answer = await fake.post(query, signed_body)
    assert answer.status < 500, answer
    if answer.status == 200:
        assert answer.text == "success"
    if invalid or answer.status != 200:
        assert await database_counts(wx.app.database) == before, body[:200]
    if envelope is not None:  # a body that is no WeChat envelope at all, signed or not
        assert (await fake.post(query, envelope)).status in (400, 401)
        assert (await fake.post({**query, "signature": "x"}, envelope)).status in (400, 401)
    assert errors(caplog) == []

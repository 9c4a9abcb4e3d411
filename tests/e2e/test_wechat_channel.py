"""The WeChat adapter's own duties: signatures, safe mode, safe XML, tokens, the 48-hour window."""

from __future__ import annotations

import logging
from dataclasses import replace
from itertools import pairwise

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.storage.models import Case, OutboxMessage, Person, ProcessedUpdate
from tests.e2e.test_report_flows import SAMZHUBZE, VILLAGE_AT_SAMZHUBZE, count, report
from tests.fakes.wechat_server import FakeWeChat, to_xml, wechat_signature
from tests.support.clock import FakeClock
from tests.support.handled import handled
from tests.support.wechat_driver import WeChatDriver, wechat_driver


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(sample_database_url: str) -> Settings:
    return replace(Settings(), database_url=sample_database_url)


@pytest.fixture(params=["safe", "plaintext"])
async def wx(request: pytest.FixtureRequest, settings: Settings, clock: FakeClock):
    async with wechat_driver(settings, clock, safe_mode=request.param == "safe") as driver:
        yield driver


def hello(fake: FakeWeChat, openid: str = "oJingtu_mallory") -> str:
    return to_xml({**fake.openid_fields(openid, "text", Content="/help"), "MsgId": 42})


async def nothing_stored(wx: WeChatDriver) -> bool:
    return (
        await count(wx, ProcessedUpdate) == 0
        and await count(wx, Person) == 0
        and await count(wx, OutboxMessage) == 0
        and wx.fake.sent_to("oJingtu_mallory") == []
    )


async def test_the_server_check_echoes_echostr_only_when_signed_and_fresh(
    wx: WeChatDriver, clock: FakeClock
):
    assert await wx.fake.verify_server("echo-123") == (200, "echo-123")
    assert (await wx.fake.verify_server("x", signature="0" * 40)).status == 401
    assert (await wx.fake.verify_server("x", signature="")).status == 401
    stale = str(int(clock().timestamp()) - 301)
    signed_stale = wechat_signature(wx.fake.token, stale, "1")
    answer = await wx.fake.verify_server("x", timestamp=stale, nonce="1", signature=signed_stale)
    assert answer.status == 401


async def test_messages_with_a_bad_missing_or_stale_signature_are_refused_and_change_nothing(
    wx: WeChatDriver, clock: FakeClock
):
    fake = wx.fake
    key = "msg_signature" if fake.aes_key else "signature"
    query, body = fake.signed_request(hello(fake))
    assert (await fake.post({**query, key: "0" * 40}, body)).status == 401
    assert (await fake.post({k: v for k, v in query.items() if k != key}, body)).status == 401
    assert (await fake.post({**query, "nonce": "tampered"}, body)).status == 401
    for skew in (-301, 301):
        stale, stale_body = fake.signed_request(
            hello(fake), timestamp=int(clock().timestamp()) + skew
        )
        assert (await fake.post(stale, stale_body)).status == 401
    assert (await fake.post({**query, "timestamp": "soon"}, body)).status == 401
    assert await nothing_stored(wx)
    # Within five minutes is fine: WeChat's and our clocks differ a little.
    near, near_body = fake.signed_request(hello(fake), timestamp=int(clock().timestamp()) - 299)
    assert await fake.post({**near, "openid": "oJingtu_mallory"}, near_body) == (200, "success")
    await handled(wx.app).wait(1)
    assert len(fake.sent_to("oJingtu_mallory")) == 1


async def test_a_forged_encrypted_body_is_refused(settings: Settings, clock: FakeClock):
    async with wechat_driver(settings, clock, safe_mode=True) as wx:
        fake = wx.fake
        ts, nonce = str(int(clock().timestamp())), "777"

        async def post_encrypted(encrypted: str) -> int:
            body = to_xml({"ToUserName": "gh_x", "Encrypt": encrypted}).encode()
            query = {
                "signature": wechat_signature(fake.token, ts, nonce),
                "timestamp": ts,
                "nonce": nonce,
                "encrypt_type": "aes",
                "msg_signature": wechat_signature(fake.token, ts, nonce, encrypted),
            }
            return (await fake.post(query, body)).status

        # Someone who knows the token but not the key, or aims at another account:
        other_key = FakeWeChat(aes_key="B" * 43)
        assert await post_encrypted(other_key.encrypt(hello(fake))) == 400
        assert await post_encrypted(fake.encrypt(hello(fake), app_id="wx0000000000000000")) == 400
        assert await post_encrypted("bm90IGEgY2lwaGVydGV4dA==") == 400
        assert await post_encrypted("") in (400, 401)
        # A plaintext message is not accepted in safe mode, even correctly signed.
        plain = {"signature": wechat_signature(fake.token, ts, nonce), "timestamp": ts}
        assert (await fake.post({**plain, "nonce": nonce}, hello(fake).encode())).status == 401
        assert await nothing_stored(wx)


XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh_x</ToUserName><FromUserName>oJingtu_mallory</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in pairwise("abcdefgh"))
    + "]><xml><FromUserName>oJingtu_mallory</FromUserName><MsgType>text</MsgType>"
    "<Content>&h;</Content></xml>"
)


async def test_xml_with_entity_declarations_or_over_a_megabyte_is_refused(wx: WeChatDriver):
    fake = wx.fake
    for xml in (XXE, LAUGHS, "<xml><Content>unclosed</xml>", "plain words"):
        query, body = fake.signed_request(xml)
        assert (await fake.post(query, body)).status == 400
    huge = to_xml({**fake.openid_fields("oJingtu_mallory", "text"), "Content": "x" * 1_000_001})
    query, body = fake.signed_request(huge)
    assert (await fake.post(query, body)).status in (400, 413)
    assert await nothing_stored(wx)


async def test_a_conversation_works_in_plaintext_and_in_safe_mode(wx: WeChatDriver):
    seen = await wx.text("tenzin", "/start")
    assert "English" in [label for label, _ in seen[-1].buttons]
    await wx.press("tenzin", "English")
    help_text = await wx.text("tenzin", "/help")
    assert "/report" in help_text[0].text
    assert all(answer == (200, "success") for answer in wx.fake.webhook_answers)


async def test_following_the_account_starts_the_conversation_and_a_qr_scene_is_a_start_code(
    wx: WeChatDriver,
):
    seen = await wx.subscribe("tenzin")
    assert any("English" in label for s in seen for label, _ in s.buttons)
    # Unfollowing and other events need no answer and change nothing.
    xml = to_xml(wx.fake.openid_fields("oJingtu_tenzin", "event", Event="unsubscribe"))
    query, body = wx.fake.signed_request(xml)
    assert await wx.fake.post(query, body) == (200, "success")


async def test_an_expired_access_token_is_renewed_and_the_reply_still_goes_out(
    wx: WeChatDriver, clock: FakeClock
):
    await wx.text("tenzin", "/help")
    await wx.text("tenzin", "/help")
    assert wx.fake.tokens_issued == 1  # cached between sends
    wx.fake.expire_tokens()
    assert len(await wx.text("tenzin", "/help")) == 1
    assert wx.fake.tokens_issued == 2
    assert 42001 in [code for _, code in wx.fake.errors]
    clock.advance(hours=2)  # past the token's lifetime: renewed before WeChat has to refuse it
    before = len(wx.fake.errors)
    assert len(await wx.text("tenzin", "/help")) == 1
    assert (wx.fake.tokens_issued, len(wx.fake.errors)) == (3, before)


async def test_a_busy_wechat_or_an_http_error_is_retried_until_the_reply_goes_out(
    wx: WeChatDriver, clock: FakeClock
):
    wx.fake.fail_next(errcode=-1, errmsg="system error")
    wx.fake.fail_next(http_status=502)
    assert await wx.text("tenzin", "/help") == []
    for _ in range(2):
        clock.advance(minutes=1)
        await wx.deliver()
    assert len(wx.received("tenzin")) == 1
    async with wx.app.database.reader() as s:
        row = (await s.scalars(select(OutboxMessage))).one()
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_person_who_unfollowed_is_marked_unreachable(wx: WeChatDriver):
    await wx.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    wx.fake.block(wx.openid("supervisor"))
    await report(wx, "alice")
    await wx.deliver()
    async with wx.app.database.reader() as s:
        notes = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.case_id.is_not(None)))
        ).all()
        supervisor = (
            await s.scalars(select(Person).where(Person.chat_id == wx.openid("supervisor")))
        ).one()
    assert [(n.status, n.attempts) for n in notes] == [("dead", 1)]
    assert "43004" in notes[0].last_error
    assert not supervisor.reachable


async def test_a_notification_outside_the_48_hour_window_fails_without_marking_unreachable(
    wx: WeChatDriver, clock: FakeClock
):
    await wx.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    clock.advance(hours=49)  # the supervisor has not written since
    await report(wx, "alice")
    await wx.deliver()
    async with wx.app.database.reader() as s:
        [note] = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.case_id.is_not(None)))
        ).all()
        supervisor = (
            await s.scalars(select(Person).where(Person.chat_id == wx.openid("supervisor")))
        ).one()
    assert note.status == "dead"
    assert "45015" in note.last_error and "48 hours" in note.last_error
    assert supervisor.reachable
    assert not any("2026-00001" in s.text for s in wx.received("supervisor"))


async def test_a_redelivered_msgid_changes_nothing_twice(wx: WeChatDriver):
    await wx.text("tenzin", "/help")
    await wx.redeliver_last("tenzin")
    await wx.redeliver_last("tenzin")
    assert len(wx.received("tenzin")) == 1
    assert await count(wx, ProcessedUpdate) == 1
    assert await count(wx, OutboxMessage) == 1


async def test_a_full_report_through_wechat_reaches_a_supervisor_on_wechat(wx: WeChatDriver):
    await wx.text("supervisor", "/start")
    await wx.press("supervisor", "English")
    await wx.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    seen = await report(wx, "alice", photos=2, show_name=True)
    assert "Case number: 2026-00001" in seen[-1].text
    assert await count(wx, Case) == 1
    await wx.deliver()
    got = wx.received("supervisor")
    note = next(s for s in got if "2026-00001" in s.text)
    assert "oJingtu_alice" in note.text  # WeChat gives no names: the reporter is their OpenID
    assert {data for _, data in note.buttons} >= {"sv:ack:1", "sv:res:1"}
    assert note.location is not None
    assert abs(note.location[0] - SAMZHUBZE[0]) < 1e-6
    assert abs(note.location[1] - SAMZHUBZE[1]) < 1e-6
    menus = [m["msgmenu"] for m in wx.fake.sent_to(wx.openid("supervisor")) if "msgmenu" in m]
    card = next(m for m in menus if "2026-00001" in m["head_content"])
    assert "uri.amap.com" in card["head_content"]  # a GCJ-02 map link
    assert [p for s in got for p in s.photos] == ["photo-alice-0", "photo-alice-1"]
    # The supervisor taps "Acknowledge" in the menu, as on Telegram they would press a button.
    ack = await wx.press("supervisor", "Acknowledge")
    assert "You acknowledged case 2026-00001" in ack[0].text


async def test_neither_the_app_secret_nor_an_access_token_is_logged_or_stored(
    wx: WeChatDriver, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    wx.fake.fail_next(http_status=500)
    await wx.text("tenzin", "/help")
    wx.fake.expire_tokens()
    clock.advance(minutes=1)
    await wx.deliver()
    assert len(wx.received("tenzin")) == 1
    async with wx.app.database.reader() as s:
        [row] = (await s.scalars(select(OutboxMessage))).all()
    assert row.attempts == 1  # the first attempt failed with the HTTP error
    stored_errors = [r.getMessage() for r in caplog.records] + [row.last_error or ""]
    secrets = [wx.fake.app_secret, *wx.fake.issued_tokens]
    assert len(secrets) == 3
    assert not [e for e in stored_errors for secret in secrets if secret in e]

"""Evidence lasts: every photo of a report is downloaded into the content-addressed store.

Against the fake Telegram Bot API (getFile, the file URL, multipart sendPhoto) and the fake
WeChat server (media/get, media/upload, media ids that expire), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import Jingtu
from bot.channels.wechat import WEBHOOK_PATH
from bot.config import Settings
from bot.delivery.message import stored_ref
from bot.storage.models import CasePhoto, Media, Supervisor, SupervisorCell
from handlers.contract import Reply
from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report
from tests.fakes.telegram_api import FakeBotApi
from tests.fakes.wechat_server import DEFAULT_AES_KEY, FAKE_JPEG, FakeWeChat
from tests.support.clock import FakeClock
from tests.support.handled import HandledCounter
from tests.support.telegram_driver import telegram_driver, telegram_settings
from tests.support.wechat_driver import WeChatDriver, wechat_driver, wechat_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
SUPERVISOR_CHAT = 7_300_001


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def settings(sample_database_url: str, media_dir: Path) -> Settings:
    return replace(Settings(), database_url=sample_database_url, media_dir=str(media_dir))


async def photos(app: Jingtu) -> list[CasePhoto]:
    async with app.database.reader() as s:
        return list((await s.scalars(select(CasePhoto).order_by(CasePhoto.id))).all())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_path(media_dir: Path, data: bytes) -> Path:
    digest = sha256(data)
    return media_dir / digest[:2] / digest[2:4] / digest


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- Telegram in


async def test_a_telegram_photo_is_fetched_into_the_store_byte_for_byte(
    settings: Settings, clock: FakeClock, media_dir: Path
):
    async with telegram_driver(settings, clock) as tg:
        await report(tg, "alice", photos=1)
        tg.api.files["photo-alice-0"].content = PNG  # what getFile's URL serves for the photo
        assert [p.fetch_status for p in await photos(tg.app)] == ["pending"]
        assert await tg.app.media.fetch_until_done() == 1
        [photo] = await photos(tg.app)
        assert (photo.fetch_status, photo.sha256, photo.fetch_error) == ("stored", sha256(PNG), "")
        assert photo.next_fetch_at is None
        assert stored_path(media_dir, PNG).read_bytes() == PNG
        async with tg.app.database.reader() as s:
            media = (await s.scalars(select(Media))).one()
        assert (media.sha256, media.mime_type, media.size) == (sha256(PNG), "image/png", len(PNG))
        assert await tg.app.media.fetch_until_done() == 0  # nothing is fetched twice
        assert [name for name, _ in tg.api.calls].count("getFile") == 1


async def test_oversize_and_wrong_type_files_are_refused_recorded_and_never_stored(
    settings: Settings, clock: FakeClock, media_dir: Path
):
    limited = replace(settings, media_max_bytes=1000)
    async with telegram_driver(limited, clock) as tg:
        await report(tg, "alice", photos=3)
        tg.api.files["photo-alice-0"].content = b"%PDF-1.7 not a photo at all"
        tg.api.files["photo-alice-1"].content = b"\xff\xd8\xff" + bytes(2000)  # a JPEG, too big
        tg.api.files["photo-alice-2"].content = PNG
        await tg.app.media.fetch_until_done()
        first, second, third = await photos(tg.app)
        assert first.fetch_status == "refused" and first.sha256 is None
        assert "not one kept for report" in first.fetch_error and "25 50 44 46" in first.fetch_error
        assert second.fetch_status == "refused" and "over the limit of 1000" in second.fetch_error
        assert (third.fetch_status, third.sha256) == ("stored", sha256(PNG))
        kept = files_in(media_dir)
        assert kept == [sha256(PNG)]  # neither refused file, nor any temporary file, is left


async def test_a_failed_download_is_tried_again_with_backoff_and_a_gone_file_fails(
    settings: Settings, clock: FakeClock
):
    async with telegram_driver(settings, clock) as tg:
        await report(tg, "alice", photos=2)
        tg.app.media.concurrency = 1  # one download at a time: the fault meets the first
        tg.api.fail_next("getFile", error_code=502)
        del tg.api.files["photo-alice-1"]  # Telegram no longer knows this file_id
        await tg.app.media.fetch_until_done()
        first, second = await photos(tg.app)
        assert (first.fetch_status, first.fetch_attempts) == ("pending", 1)
        assert "502" in first.fetch_error or "Bad Gateway" in first.fetch_error
        assert (second.fetch_status, second.next_fetch_at) == ("failed", None)
        assert "invalid file_id" in second.fetch_error.lower()
        assert await tg.app.media.fetch_until_done() == 0  # not due before its backoff
        clock.advance(seconds=6)
        await tg.app.media.fetch_until_done()
        first, _ = await photos(tg.app)
        assert (first.fetch_status, first.fetch_attempts) == ("stored", 2)


async def test_a_restart_resumes_the_fetches_left_pending(settings: Settings, clock: FakeClock):
    async with telegram_driver(settings, clock) as tg:
        await report(tg, "alice", photos=2)
        # The process dies after claiming the photos and before fetching them: a lease.
        claimed = await tg.app.media.claim_due()
        assert len(claimed) == 2
        await tg.restart()
        assert await tg.app.media.fetch_until_done() == 0  # still leased to the dead process
        clock.advance(minutes=5)
        assert await tg.app.media.fetch_until_done() == 2
        assert [p.fetch_status for p in await photos(tg.app)] == ["stored", "stored"]


# --------------------------------------------------------------------------- across channels


@pytest.fixture
async def both(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Jingtu, FakeWeChat, FakeBotApi]]:
    """One Jingtu on WeChat (residents) and Telegram (the village supervisor, by roster)."""
    async with FakeWeChat(aes_key=DEFAULT_AES_KEY, clock=clock) as fake, FakeBotApi() as api:
        on_telegram = telegram_settings(settings, api)
        merged = replace(
            wechat_settings(settings, fake),
            **{k: getattr(on_telegram, k) for k in ("telegram_bot_token", "telegram_base_url")},
            telegram_base_file_url=on_telegram.telegram_base_file_url,
        )
        app = Jingtu(merged, clock=clock, on_handled=HandledCounter())
        app.attach_wechat()
        app.attach_telegram()
        await app.start(web_server=True, background=False)
        fake.connect(f"http://127.0.0.1:{app.web_port}{WEBHOOK_PATH}")
        try:
            async with app.database.transaction() as s:
                ids = select(SupervisorCell.supervisor_id).where(
                    SupervisorCell.cell_code == VILLAGE_AT_SAMZHUBZE
                )
                await s.execute(
                    update(Supervisor)
                    .where(Supervisor.id.in_(ids))
                    .values(telegram_chat_id=str(SUPERVISOR_CHAT))
                )
            yield app, fake, api
        finally:
            await app.stop()


async def test_a_wechat_photo_reaches_a_telegram_supervisor_after_its_media_id_expired(
    both: tuple[Jingtu, FakeWeChat, FakeBotApi], clock: FakeClock, media_dir: Path
):
    app, fake, api = both
    wx = WeChatDriver(fake, app, clock)
    await report(wx, "alice", photos=1)
    await app.dispatcher.drain_until_empty()
    card = api.sent_to(SUPERVISOR_CHAT)
    assert "2026-00001" in card[0]["text"]
    assert not any("photo" in m for m in card)  # a WeChat media id means nothing on Telegram
    await app.media.fetch_until_done()
    assert fake.media_gets == ["photo-alice-0"]
    assert stored_path(media_dir, FAKE_JPEG).read_bytes() == FAKE_JPEG
    fake.expire_media("photo-alice-0")  # three days later: WeChat has deleted it
    await app.dispatcher.drain_until_empty()
    follow_up = api.sent_to(SUPERVISOR_CHAT)[-1]
    assert "2026-00001" in follow_up["caption"] and follow_up["photo"]
    [upload] = api.uploads
    assert upload.content == FAKE_JPEG  # uploaded from the store as bytes, not by any path
    assert fake.media_gets == ["photo-alice-0"]


async def test_a_stored_photo_whose_media_id_expired_is_uploaded_again_and_sent_once_more(
    settings: Settings, clock: FakeClock
):
    async with wechat_driver(settings, clock) as wx:
        await wx.bind_supervisor("sup", VILLAGE_AT_SAMZHUBZE)
        await report(wx, "alice", photos=1)
        await wx.deliver()
        assert any(s.photos == ["photo-alice-0"] for s in wx.received("sup"))  # same channel
        await wx.app.media.fetch_until_done()
        [photo] = await photos(wx.app)
        assert photo.sha256 == sha256(FAKE_JPEG)
        wx.fake.expire_media("photo-alice-0")
        assert wx.app.wechat is not None
        await wx.text("sup", "/help")  # a fresh 48-hour window and reply quota
        sender = wx.app.wechat.sender
        reply = Reply("Case 2026-00001", photos=(stored_ref(photo.sha256, "photo-alice-0"),))
        await sender.send(wx.openid("sup"), reply.to_payload())
        [(media_id, content)] = wx.fake.uploads
        assert content == FAKE_JPEG
        assert wx.received("sup")[-1].photos == [media_id]
        assert (wx.openid("sup"), 40007) in wx.fake.errors
        # The upload is kept for its three days: the next chat gets it without a new upload.
        await sender.send(wx.openid("sup"), Reply("again", photos=reply.photos).to_payload())
        assert len(wx.fake.uploads) == 1 and wx.received("sup")[-1].photos == [media_id]


async def test_a_telegram_photo_reaches_a_wechat_chat_as_an_upload(
    settings: Settings, clock: FakeClock
):
    async with wechat_driver(settings, clock) as wx, FakeBotApi() as api:
        assert wx.app.wechat is not None
        await wx.text("sup", "/help")  # the supervisor's 48-hour window is open
        digest = await wx.app.media_store.put(PNG)
        await wx.app.wechat.sender.send(
            wx.openid("sup"), Reply("Case 2026-00001", photos=(stored_ref(digest),)).to_payload()
        )
        [(media_id, content)] = wx.fake.uploads
        assert content == PNG and wx.received("sup")[-1].photos == [media_id]
        assert api.uploads == []


async def test_telegram_uploads_a_stored_photo_once_and_then_sends_it_by_file_id(
    settings: Settings, clock: FakeClock
):
    async with telegram_driver(settings, clock) as tg:
        assert tg.app.telegram is not None
        digest = await tg.app.media_store.put(PNG)
        sender = tg.app.telegram.sender
        for chat in ("7300010", "7300011"):
            await sender.send(chat, Reply("Case", photos=(stored_ref(digest),)).to_payload())
        assert [u.content for u in tg.api.uploads] == [PNG]
        assert tg.api.sent_to(7300011)[-1]["photo"]
        # A reference to a file that is not in the store sends the text alone.
        await sender.send("7300012", Reply("Case", photos=(stored_ref("0" * 64),)).to_payload())
        assert tg.api.sent_to(7300012)[-1]["text"] == "Case"

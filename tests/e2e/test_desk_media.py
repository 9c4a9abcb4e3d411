"""The case page's photos and recordings, served from the media store under the case's rule.

Residents report through the fake Telegram Bot API and the fake WeChat server (the real HTTP
protocols on loopback); the media fetcher downloads their files into the store; staff look at
the case page and the files over HTTP with aiohttp's test client. On both databases.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Jingtu
from bot.config import Settings
from bot.storage.models import CasePhoto
from bot.web.server import build_web_app
from tests.e2e.test_desk import GYANTSE, SAMZHUBZE, add, sign_in
from tests.e2e.test_report_flows import SAMZHUBZE as SAMZHUBZE_POINT
from tests.e2e.test_report_flows import report
from tests.fakes.wechat_server import FAKE_AMR, FAKE_JPEG
from tests.support.clock import FakeClock
from tests.support.telegram_driver import telegram_driver
from tests.support.wechat_driver import wechat_driver

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PHOTO_SRC = re.compile(r'<img src="(/desk/cases/2026-00001/photos/(\d+))"')


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def settings(sample_database_url: str, media_dir: Path) -> Settings:
    return replace(Settings(), database_url=sample_database_url, media_dir=str(media_dir))


@asynccontextmanager
async def desk_client(app: Jingtu) -> AsyncIterator[TestClient]:
    web = build_web_app([app.desk.add_routes], health=app.health().handle)
    async with TestClient(TestServer(web)) as client:
        yield client


async def photo_rows(app: Jingtu) -> list[CasePhoto]:
    async with app.database.reader() as s:
        return list((await s.scalars(select(CasePhoto).order_by(CasePhoto.id))).all())


def damage_every_file(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            path.write_bytes(b"damaged")


async def test_stored_photos_are_shown_and_the_others_say_where_their_download_stands(
    settings: Settings, clock: FakeClock, media_dir: Path
):
    async with telegram_driver(settings, clock) as tg:
        await report(tg, "alice", photos=3)
        tg.api.files["photo-alice-0"].content = PNG
        tg.api.files["photo-alice-1"].content = b"%PDF-1.7 not a photo at all"
        tg.app.media.concurrency = 1  # one download at a time: the fault meets the third
        del tg.api.files["photo-alice-2"]  # Telegram no longer knows this file_id
        await tg.app.media.fetch_until_done()
        stored, refused, failed = await photo_rows(tg.app)
        assert (stored.fetch_status, refused.fetch_status, failed.fetch_status) == (
            "stored",
            "refused",
            "failed",
        )
        await add(tg, "wangfang", "admin")
        async with desk_client(tg.app) as web:
            await sign_in(web, "wangfang")
            page = await (await web.get("/desk/cases/2026-00001")).text()
            [(src, photo_id)] = PHOTO_SRC.findall(page)
            assert int(photo_id) == stored.id
            assert "未保存：文件过大" in page  # the refused one, in the bureau's language
            assert "无法下载：平台上已没有该文件" in page  # the one Telegram no longer has
            resp = await web.get(src)
            assert resp.status == 200 and await resp.read() == PNG
            assert resp.headers["Content-Type"] == "image/png"
            assert resp.headers["Cache-Control"].startswith("private")
            assert resp.headers["X-Content-Type-Options"] == "nosniff"

            # Neither a refused photo nor another case's number shows a file.
            gone = await web.get(f"/desk/cases/2026-00001/photos/{refused.id}")
            assert gone.status == 404 and "没有该编号的已保存照片或录音" in await gone.text()
            other = await web.get(f"/desk/cases/2026-09999/photos/{stored.id}")
            assert other.status == 404 and "没有案件 2026-09999" in await other.text()
            assert (await web.get("/desk/cases/2026-00001/photos/x")).status == 404

            # A file lost from the disk says so, and what to do, rather than serving nothing.
            damage_every_file(media_dir)
            lost = await web.get(src)
            assert lost.status == 410 and "JINGTU_MEDIA_DIR" in await lost.text()


async def test_a_county_officer_outside_the_subtree_is_told_there_is_no_such_case(
    settings: Settings, clock: FakeClock
):
    async with telegram_driver(settings, clock) as tg:
        await report(tg, "alice", photos=1)  # in Samzhubzê
        tg.api.files["photo-alice-0"].content = PNG
        await tg.app.media.fetch_until_done()
        [stored] = await photo_rows(tg.app)
        await add(tg, "gyantse", "county", GYANTSE)
        await add(tg, "samzhubze", "county", SAMZHUBZE)
        async with desk_client(tg.app) as web:
            await sign_in(web, "gyantse")
            outside = await web.get(f"/desk/cases/2026-00001/photos/{stored.id}")
            missing = await web.get(f"/desk/cases/2026-09999/photos/{stored.id}")
            assert outside.status == missing.status == 404
            assert (await outside.text()).replace("00001", "#") == (await missing.text()).replace(
                "09999", "#"
            )
        async with desk_client(tg.app) as web:
            await sign_in(web, "samzhubze")
            inside = await web.get(f"/desk/cases/2026-00001/photos/{stored.id}")
            assert inside.status == 200 and await inside.read() == PNG
        async with desk_client(tg.app) as web:  # nobody signed in: off to the sign-in page
            anonymous = await web.get(
                f"/desk/cases/2026-00001/photos/{stored.id}", allow_redirects=False
            )
            assert anonymous.status == 303
            assert anonymous.headers["Location"].startswith("/desk/login")


async def test_a_spoken_report_plays_its_recording_and_a_pending_photo_says_it_is_coming(
    settings: Settings, clock: FakeClock
):
    async with wechat_driver(settings, clock) as wx:
        await wx.text("tenzin", "/start")
        await wx.press("tenzin", "English")
        await wx.text("tenzin", "/report")
        await wx.press("tenzin", "Air")
        await wx.press("tenzin", "Construction dust")
        await wx.voice("tenzin", "voice-media-1", "Dust from the building site all day long")
        await wx.photo("tenzin", "photo-tenzin-0")
        await wx.press("tenzin", "photos")
        await wx.location("tenzin", *SAMZHUBZE_POINT)
        await wx.press("tenzin", "Stay anonymous")
        seen = await wx.press("tenzin", "Submit")
        assert "Case number: 2026-00001" in seen[-1].text
        await add(wx, "wangfang", "admin")
        async with desk_client(wx.app) as web:
            await sign_in(web, "wangfang")
            before = await (await web.get("/desk/cases/2026-00001")).text()
            assert before.count("尚未从平台下载") == 2 and "<audio" not in before

            await wx.app.media.fetch_until_done()
            page = await (await web.get("/desk/cases/2026-00001")).text()
            voice = re.search(r'<audio controls preload="none" src="([^"]+)"', page)
            assert voice is not None and "举报语音" in page
            played = await web.get(voice.group(1))
            assert played.headers["Content-Type"] == "audio/amr"
            assert await played.read() == FAKE_AMR
            [(src, _)] = PHOTO_SRC.findall(page)
            assert await (await web.get(src)).read() == FAKE_JPEG

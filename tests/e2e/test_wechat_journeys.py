"""Whole journeys that cross issue 13's parts on WeChat: a report made on a subscription account
by typing the numbers of numbered lists, and a spoken report whose recording is kept."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from bot.config import Settings
from bot.storage.models import Case, CasePhoto
from tests.e2e.test_report_flows import SAMZHUBZE, VILLAGE_AT_SAMZHUBZE
from tests.fakes.wechat_server import FAKE_AMR
from tests.support.clock import FakeClock
from tests.support.drivers import Seen
from tests.support.wechat_driver import WeChatDriver, wechat_driver


def number_of(seen: list[Seen], label: str) -> str:
    """The number a numbered list gives the choice whose label contains `label`."""
    for line in seen[-1].text.splitlines():
        found = re.match(r"(\d+)\. (.*)", line)
        if found and label in found.group(2):
            return found.group(1)
    raise AssertionError(f"no numbered choice {label!r} in {seen[-1].text!r}")


async def choose(wx: WeChatDriver, user: str, seen: list[Seen], label: str) -> list[Seen]:
    return await wx.text(user, number_of(seen, label))


async def test_a_whole_report_on_a_subscription_account_by_typed_numbers(
    settings: Settings, clock: FakeClock
):
    async with wechat_driver(settings, clock, account="subscription") as wx:
        await wx.bind_supervisor("sup", VILLAGE_AT_SAMZHUBZE)
        seen = await wx.text("tenzin", "/start")
        seen = await choose(wx, "tenzin", seen, "English")
        seen = await wx.text("tenzin", "/report")
        assert seen[-1].buttons == []  # no menus on this account: every choice is a list
        seen = await choose(wx, "tenzin", seen, "Air")
        seen = await choose(wx, "tenzin", seen, "Construction dust")
        seen = await wx.text("tenzin", "Dust from the building site by the river all day")
        seen = await choose(wx, "tenzin", seen, "Skip")
        seen = await wx.location("tenzin", *SAMZHUBZE)
        seen = await choose(wx, "tenzin", seen, "Stay anonymous")
        seen = await choose(wx, "tenzin", seen, "Submit")
        assert "Case number: 2026-00001" in seen[-1].text
        await wx.deliver()
        card = [s for s in wx.received("sup") if "2026-00001" in s.text]
        assert card, "the supervisor was told of the case"
        assert all(m["msgtype"] != "msgmenu" for m in wx.fake.sent_to(wx.openid("sup")))
        async with wx.app.database.reader() as s:
            [case] = (await s.scalars(select(Case))).all()
        assert (case.category, case.cell_code) == ("air-construction", VILLAGE_AT_SAMZHUBZE)


async def test_a_spoken_description_is_kept_as_a_recording_in_the_media_store(
    settings: Settings, clock: FakeClock
):
    async with wechat_driver(settings, clock) as wx:
        await wx.text("tenzin", "/start")
        await wx.press("tenzin", "English")
        await wx.text("tenzin", "/report")
        await wx.press("tenzin", "Air")
        await wx.press("tenzin", "Construction dust")
        await wx.voice("tenzin", "voice-media-1", "Dust from the building site all day long")
        await wx.press("tenzin", "Skip")
        await wx.location("tenzin", *SAMZHUBZE)
        await wx.press("tenzin", "Stay anonymous")
        seen = await wx.press("tenzin", "Submit")
        assert "Case number: 2026-00001" in seen[-1].text
        await wx.app.media.fetch_until_done()
        async with wx.app.database.reader() as s:
            [case] = (await s.scalars(select(Case))).all()
            [voice] = (await s.scalars(select(CasePhoto).where(CasePhoto.kind == "voice"))).all()
        assert case.description == "Dust from the building site all day long"
        assert (voice.file_ref, voice.sha256) == (
            "voice-media-1",
            hashlib.sha256(FAKE_AMR).hexdigest(),
        )
        assert await wx.app.media_store.read(voice.sha256) == FAKE_AMR

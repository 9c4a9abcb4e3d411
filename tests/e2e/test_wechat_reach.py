"""WeChat where its rules bite: the 48-hour window and its quota, template messages, accounts that
refuse menus, the custom menu and voice messages — against the fake WeChat server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.channels.wechat import SHIPPED_MENU, WeChatSender
from bot.cli import main
from bot.config import Settings
from bot.delivery.message import NoticeTag, Reply
from bot.delivery.outbox import PermanentFailure
from bot.delivery.undelivered import undelivered_notices
from bot.domain.access import Actor, StaffRole
from bot.services import desk
from bot.storage.models import OutboxMessage
from messages import text as message
from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report
from tests.e2e.test_supervision_flows import join, sweep
from tests.support.clock import FakeClock
from tests.support.wechat_driver import WeChatDriver, wechat_driver

# The bureau's templates: new-style typed fields for new cases, classic ones for the rest.
TEMPLATES: dict[str, tuple[str, dict[str, str]]] = {
    "case-new": (
        "TPL-case-new",
        {
            "thing1": "title",
            "character_string2": "number",
            "thing3": "category",
            "thing4": "cell",
            "time5": "deadline",
        },
    ),
    "case-escalated": (
        "TPL-escalated",
        {"first": "title", "keyword1": "number", "keyword2": "cell", "remark": "hint"},
    ),
    "case-status": (
        "TPL-status",
        {"first": "title", "keyword1": "number", "keyword2": "status", "remark": "hint"},
    ),
    "follow-up": (
        "TPL-follow-up",
        {"first": "title", "keyword1": "number", "keyword2": "time", "remark": "hint"},
    ),
}


def write_templates(path: Path) -> Path:
    lines = []
    for kind, (template_id, data) in TEMPLATES.items():
        fields = ", ".join(f'{key} = "{name}"' for key, name in data.items())
        lines += [f"[{kind}]", f'template_id = "{template_id}"', f"data = {{ {fields} }}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@asynccontextmanager
async def wechat_with_templates(
    settings: Settings, clock: FakeClock, tmp_path: Path, **options: Any
) -> AsyncIterator[WeChatDriver]:
    configured = replace(
        settings, wechat_templates_file=str(write_templates(tmp_path / "templates.toml"))
    )
    async with wechat_driver(configured, clock, **options) as wx:
        for template_id, data in TEMPLATES.values():
            wx.fake.add_template(template_id, tuple(data))
        yield wx


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(sample_database_url: str) -> Settings:
    return replace(Settings(), database_url=sample_database_url)


@pytest.fixture
async def wx(settings: Settings, clock: FakeClock) -> AsyncIterator[WeChatDriver]:
    async with wechat_driver(settings, clock) as driver:
        yield driver


@pytest.fixture
async def wxt(settings: Settings, clock: FakeClock, tmp_path: Path) -> AsyncIterator[WeChatDriver]:
    async with wechat_with_templates(settings, clock, tmp_path) as driver:
        yield driver


def values(template_message: dict[str, Any]) -> dict[str, str]:
    return {key: item["value"] for key, item in template_message["data"].items()}


def refusals(wx: WeChatDriver, user: str) -> list[int]:
    return [code for openid, code in wx.fake.errors if openid == wx.openid(user)]


# --------------------------------------------------------------------------- the 48-hour window


async def test_a_supervisor_silent_for_three_days_receives_a_new_case_by_template(
    wxt: WeChatDriver, clock: FakeClock
):
    await wxt.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    clock.advance(days=3)
    await report(wxt, "alice")
    await wxt.deliver()

    [sent] = wxt.templates("supervisor")
    assert sent["touser"] == wxt.openid("supervisor")
    assert sent["template_id"] == "TPL-case-new"
    got = values(sent)
    assert got["character_string2"] == "2026-00001"
    assert got["thing3"] == message("zh-Hans", "category-air-construction")
    assert got["thing4"] == "桑珠孜区第06乡镇第005村网格"
    assert got["time5"] == "2026-12-04 10:00"  # acknowledge by: 24 h on, in Shigatse's time
    assert "2026-00001" in got["thing1"] and len(got["thing1"]) <= 20
    assert "oJingtu_alice" not in json.dumps(sent, ensure_ascii=False)  # anonymous stays so
    # The channel knew the window was shut: it did not try the customer-service API first.
    assert refusals(wxt, "supervisor") == []
    assert not any("2026-00001" in s.text for s in wxt.received("supervisor"))
    async with wxt.app.database.reader() as s:
        [note] = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.case_id.is_not(None)))
        ).all()
    assert note.status == "sent"

    # Once the supervisor writes again the window is open: the next notice is a chat message.
    await wxt.text("supervisor", "/inbox")
    await report(wxt, "bob", group="Water", category="Sewage outfall")
    await wxt.deliver()
    assert len(wxt.templates("supervisor")) == 1
    assert any("2026-00002" in s.text for s in wxt.received("supervisor"))


async def test_after_a_restart_the_platforms_refusal_sends_the_notice_by_template(
    wxt: WeChatDriver, clock: FakeClock
):
    await wxt.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    clock.advance(days=3)
    wx = await wxt.restart()  # a new process knows nothing of anyone's window
    assert isinstance(wx, WeChatDriver)
    await report(wx, "alice")
    await wx.deliver()
    assert refusals(wx, "supervisor") == [45015]
    [sent] = wx.templates("supervisor")
    assert values(sent)["character_string2"] == "2026-00001"


async def test_a_resident_gets_the_follow_up_question_after_five_days(
    wxt: WeChatDriver, clock: FakeClock
):
    await join(wxt, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(wxt, "alice")
    await wxt.deliver()
    await wxt.press("tashi", "Resolve")
    await wxt.text("tashi", "Removed the dumped sand")
    await wxt.press("tashi", "Skip")
    await wxt.deliver()
    assert any("2026-00001" in s.text for s in wxt.received("alice"))  # still in the window
    assert wxt.templates("alice") == []

    clock.advance(days=5)
    await sweep(wxt)
    [sent] = wxt.templates("alice")
    assert sent["template_id"] == "TPL-follow-up"
    got = values(sent)
    assert got["keyword1"] == "2026-00001"
    assert "Is the problem really fixed?" in got["first"]
    assert got["keyword2"] == "2026-12-05 10:00"  # when it was sent, in Shigatse's time
    assert got["remark"] == message("en", "notice-hint")
    # Alice answers the hint by writing: the window is open and her answer is taken.
    await wxt.text("alice", "/mycases")
    assert "2026-00001" in wxt.received("alice")[-1].text


async def test_the_five_message_quota_is_counted_and_a_notice_beyond_it_goes_by_template(
    wxt: WeChatDriver, clock: FakeClock
):
    openid = wxt.openid("tenzin")
    await wxt.text("tenzin", "/help")  # one reply: four more customer-service messages allowed
    assert wxt.app.wechat is not None
    sender = wxt.app.wechat.sender
    tag = NoticeTag("case-status", {"title": "Case 2026-00007", "number": "2026-00007"})
    notice = Reply("Case 2026-00007 was acknowledged", notice=tag).to_payload()
    for _ in range(3):
        await sender.send(openid, notice)
    assert len(wxt.fake.sent_to(openid)) == 4
    # A text and a photo are two messages; one is left, so the notice goes by template.
    with_photo = Reply("Case 2026-00007 resolved", photos=("after-1",), notice=tag)
    await sender.send(openid, with_photo.to_payload())
    assert len(wxt.fake.sent_to(openid)) == 4
    assert [t["template_id"] for t in wxt.templates("tenzin")] == ["TPL-status"]
    await sender.send(openid, notice)  # the fifth fits
    assert len(wxt.fake.sent_to(openid)) == 5
    assert refusals(wxt, "tenzin") == []

    # WeChat stays the truth: a process that never saw tenzin write learns it from 45047.
    fresh = WeChatSender(wxt.app.settings, clock=clock)
    try:
        await fresh.send(openid, notice)
    finally:
        await fresh.close()
    assert refusals(wxt, "tenzin") == [45047]
    assert len(wxt.templates("tenzin")) == 2
    # A plain reply has no template: it fails for good, marked so staff can see it.
    with pytest.raises(PermanentFailure, match="45047") as failed:
        await sender.send(openid, Reply("Hello again").to_payload())
    assert str(failed.value).startswith("undelivered: ")


async def test_a_notice_that_can_reach_nobody_is_listed_for_staff(
    wx: WeChatDriver,
    clock: FakeClock,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    # The shipped templates file names no template ids: outside the window nothing reaches.
    await wx.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    clock.advance(days=3)
    await report(wx, "alice")
    await wx.deliver()
    async with wx.app.database.reader() as s:
        [lost] = await undelivered_notices(s, channel="wechat")
    assert (lost.kind, lost.case_number, lost.chat_id) == (
        "case-new",
        "2026-00001",
        wx.openid("supervisor"),
    )
    assert lost.person_id == await wx.person_id("supervisor")
    assert "45015" in lost.reason and "no template for case-new notices" in lost.reason
    # The desk's reachability list names the supervisor, from the same list of lost notices.
    async with wx.app.database.reader() as s:
        unreachable = await desk.unreachable_supervisors(
            s, wx.app.grid_index, Actor(frozenset(), staff=StaffRole.ADMIN), now=clock()
        )
    assert [e.cell_code for e, why in unreachable if why == "wechat-window"] == [
        VILLAGE_AT_SAMZHUBZE
    ]

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["wechat", "unreachable", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["counts"] == {"case-new": 1}
    assert [(n["case_number"], n["chat_id"]) for n in listed["notices"]] == [
        ("2026-00001", wx.openid("supervisor"))
    ]
    assert await asyncio.to_thread(main, ["wechat", "unreachable"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 WeChat messages reached nobody (case-new 1)")
    assert "2026-00001" in out


# --------------------------------------------------------------------------- numbered lists


async def test_a_subscription_account_offers_every_choice_as_a_numbered_list(
    settings: Settings, clock: FakeClock
):
    async with wechat_driver(settings, clock, account="subscription") as wx:
        seen = await wx.text("tenzin", "/start")
        assert seen[-1].text.endswith("1. 中文\n2. བོད་ཡིག\n3. English\n请回复选项前的数字。")
        assert refusals(wx, "tenzin") == [40200]
        # The account refuses menus: from now on lists at once, without asking WeChat again.
        await wx.forge_callback("tenzin", "lang:en")
        seen = await wx.text("tenzin", "/report")
        assert "1. 🌫️ Air\n2. 💧 Water" in seen[-1].text
        assert seen[-1].text.endswith(message("en", "choice-reply-with-number"))
        assert refusals(wx, "tenzin") == [40200]
        sent = wx.fake.sent_to(wx.openid("tenzin"))
        assert all(m["msgtype"] == "text" for m in sent)


async def test_with_menus_turned_off_choices_are_numbered_lists_in_the_persons_language(
    settings: Settings, clock: FakeClock
):
    async with wechat_driver(replace(settings, wechat_menu_messages=False), clock) as wx:
        await wx.text("tenzin", "/start")
        await wx.forge_callback("tenzin", "lang:bo")
        seen = await wx.text("tenzin", "/report")
        lines = seen[-1].text.splitlines()
        assert lines[-1] == message("bo", "choice-reply-with-number")
        numbered = [line for line in lines if line[:1].isdigit()]
        assert numbered[0].startswith("1. ") and numbered[-1].startswith(f"{len(numbered)}. ")
        assert wx.fake.errors == []
        assert all(m["msgtype"] == "text" for m in wx.fake.sent_to(wx.openid("tenzin")))


# --------------------------------------------------------------------------- the custom menu


async def test_the_shipped_menu_installs_and_its_buttons_start_their_commands(
    wx: WeChatDriver,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WECHAT_APP_ID", wx.fake.app_id)
    monkeypatch.setenv("WECHAT_APP_SECRET", wx.fake.app_secret)
    monkeypatch.setenv("WECHAT_API_BASE_URL", wx.fake.base_url)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["wechat", "menu", "install"]) == 0
    assert capsys.readouterr().out == (
        f"menu installed on the WeChat account {wx.fake.app_id}: 举报 / 我的案件 / 订阅\n"
    )
    assert wx.fake.menu == json.loads(SHIPPED_MENU.read_text(encoding="utf-8"))

    # A menu WeChat would refuse is refused here, naming each problem, and nothing is sent.
    bad = tmp_path / "menu.json"
    buttons = [{"type": "click", "name": f"按钮{i}", "key": f"k{i}"} for i in range(3)]
    buttons.append({"type": "click", "name": "一个名字太长的菜单按钮", "key": "long"})
    bad.write_text(json.dumps({"button": buttons}, ensure_ascii=False), encoding="utf-8")
    assert await asyncio.to_thread(main, ["wechat", "menu", "install", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("menu not installed:")
    assert "4 buttons: a menu has 1 to 3" in err and "33 bytes, over 16" in err
    assert wx.fake.menu == json.loads(SHIPPED_MENU.read_text(encoding="utf-8"))
    assert await asyncio.to_thread(main, ["wechat", "menu", "install", "missing.json"]) == 1
    assert "missing.json" in capsys.readouterr().err

    await wx.text("tenzin", "/start")
    await wx.press("tenzin", "English")
    for key, command in (("mycases", "/mycases"), ("subscribe", "/subscribe")):
        typed = await wx.text("tenzin", command)
        await wx.text("tenzin", "/cancel")
        # Events have no MsgId: WeChat's retries are known by OpenID and second, so the
        # person's clicks here come a second apart.
        clock.advance(seconds=1)
        assert [s.text for s in await wx.click("tenzin", key)] == [s.text for s in typed]
        await wx.text("tenzin", "/cancel")
    clock.advance(seconds=1)
    stale = await wx.click("tenzin", "no-such-key")  # a key of some older menu
    assert stale[-1].text == message("en", "button-stale")
    clock.advance(seconds=1)
    seen = await wx.click("tenzin", "report")
    assert "First pick a group" in seen[-1].text


# --------------------------------------------------------------------------- voice


async def test_a_voice_message_with_its_recognised_words_describes_the_report(
    wx: WeChatDriver,
):
    await wx.text("tenzin", "/start")
    await wx.press("tenzin", "English")
    await wx.text("tenzin", "/report")
    await wx.press("tenzin", "Air")
    await wx.press("tenzin", "Construction dust")
    unheard = await wx.voice("tenzin", "voice-media-0", None)  # recognition is off
    assert "description" in unheard[-1].text
    seen = await wx.voice("tenzin", "voice-media-1", "Dust from the building site all day long")
    assert "Send photos" in seen[-1].text

"""The dialog's rough edges a new user found: typed numbers, keywords, restarts, swaps and more."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.domain.geo import gcj02_to_wgs84
from bot.storage.models import Case, CaseEvent, CasePhoto, Person
from tests.support.clock import FakeClock
from tests.support.drivers import ConsoleDriver, Driver

SAMZHUBZE = (29.267, 88.881)
VILLAGE_AT_SAMZHUBZE = "540202006005"


async def cases(driver: Driver) -> list[Case]:
    async with driver.app.database.reader() as s:
        return list((await s.scalars(select(Case).order_by(Case.id))).all())


async def in_english(driver: Driver, user: str) -> None:
    await driver.text(user, "/start")
    await driver.press(user, "English")


async def up_to_location(driver: Driver, user: str) -> None:
    await in_english(driver, user)
    await driver.text(user, "/report")
    await driver.press(user, "Air")
    await driver.press(user, "Construction dust")
    await driver.text(user, "Dust from the building site by the river all day")
    await driver.press(user, "Skip")


async def report(driver: Driver, user: str, where: tuple[float, float] = SAMZHUBZE) -> str:
    """A whole report by buttons; returns the resident's last reply."""
    await up_to_location(driver, user)
    await driver.location(user, *where)
    await driver.press(user, "Stay anonymous")
    return (await driver.press(user, "Submit"))[-1].text


async def events(driver: Driver) -> list[str]:
    async with driver.app.database.reader() as s:
        return list((await s.scalars(select(CaseEvent.kind).order_by(CaseEvent.id))).all())


def texts(seen) -> str:
    """All the text of what was seen (Telegram sends a location keyboard as its own message)."""
    return "\n".join(s.text for s in seen)


def labels(seen) -> list[str]:
    return [label for s in seen for label, _ in s.buttons]


# --- typed numbers --------------------------------------------------------------------------------


async def test_a_typed_number_picks_the_button_with_that_number(driver: Driver):
    await in_english(driver, "alice")
    await driver.text("alice", "/report")
    seen = await driver.text("alice", "1")  # 🌫️ Air, the first button
    assert "Air: pick the exact category" in seen[-1].text
    seen = await driver.text("alice", " ２ ")  # full-width, as a Chinese keyboard types it
    assert "Please describe" in seen[-1].text
    # The description has no buttons, so a number is text here, not a choice.
    seen = await driver.text("alice", "12345")
    assert "Send photos" in seen[-1].text
    await driver.text("alice", "1")  # Skip
    await driver.location("alice", *SAMZHUBZE)
    seen = await driver.text("alice", "9")
    assert "There is no choice 9 here: please type a number from 1 to 2" in seen[-1].text
    assert labels(seen[-1:]) == ["🙈 Stay anonymous (recommended)", "👤 Show who I am"]
    seen = await driver.text("alice", "2")  # still works after the wrong number
    assert (
        "Please check your report" in seen[-1].text and "shown to the supervisor" in seen[-1].text
    )
    seen = await driver.text("alice", "1")
    assert "Case number: 2026-00001" in seen[-1].text
    [case] = await cases(driver)
    assert (case.category, case.description, case.anonymous) == ("air-construction", "12345", False)


async def test_a_supervisor_acknowledges_a_case_card_by_typing_its_number(driver: Driver):
    await driver.bind_supervisor("sup", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    card = next(s for s in driver.received("sup") if "2026-00001" in s.text)
    assert card.buttons[0][1].startswith("sv:ack:")
    seen = await driver.text("sup", "1")
    assert any(
        "2026-00001" in s.text and ("确认" in s.text or "knowledged" in s.text) for s in seen
    )
    [case] = await cases(driver)
    assert case.status == "acknowledged"
    # The reporter was offered no case buttons: the same number is no press for them.
    seen = await driver.text("alice", "1")
    assert "To report pollution send /report" in seen[-1].text
    assert (await cases(driver))[0].status == "acknowledged"


async def test_a_typed_number_is_redelivered_without_acting_twice(driver: Driver):
    await driver.bind_supervisor("sup", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    await driver.text("sup", "1")
    before = await events(driver)
    await driver.redeliver_last("sup")
    assert await events(driver) == before
    assert [e for e in before if e == "acknowledge"] == ["acknowledge"]


# --- keywords, commands mid-dialog, restarts --------------------------------------------------------


@pytest.mark.parametrize("keyword", ["举报", "REPORT", " report! ", "སྙན་ཞུ", "སྙན་སྐུལ།"])
async def test_a_keyword_in_any_language_starts_a_report(driver: Driver, keyword: str):
    await in_english(driver, "alice")
    seen = await driver.text("alice", keyword)
    assert "What would you like to report?" in seen[-1].text
    assert "💧 Water" in labels(seen)


async def test_report_mid_dialog_asks_before_discarding_the_draft(driver: Driver):
    await in_english(driver, "alice")
    await driver.text("alice", "/report")
    await driver.press("alice", "Water")
    await driver.press("alice", "Sewage outfall")
    seen = await driver.text("alice", "/report")
    assert (
        "You have a report in progress" in seen[-1].text and "Discard the draft?" in seen[-1].text
    )
    seen = await driver.press("alice", "No, continue")
    assert "Please describe what you see" in seen[-1].text
    await driver.text("alice", "Grey water pouring into the stream")
    seen = await driver.text("alice", "/language")
    assert "Changing the language now throws its draft away" in seen[-1].text
    seen = await driver.press("alice", "Yes, discard")
    assert "Choose your language" in seen[-1].text
    seen = await driver.press("alice", "中文")
    seen = await driver.text("alice", "/cancel")
    assert "当前没有" in seen[-1].text or "没有" in seen[-1].text  # the draft is gone


async def test_after_a_restart_the_next_message_brings_back_the_question_and_its_buttons(
    driver: Driver,
):
    await in_english(driver, "alice")
    await driver.text("alice", "/report")
    await driver.press("alice", "Noise")
    driver = await driver.restart()
    seen = await driver.text("alice", "hello?")
    assert "tap one of the buttons below" in seen[0].text
    assert "What would you like to report?" in seen[-1].text
    assert "💧 Water" in labels(seen)
    seen = await driver.press("alice", "Water")
    assert "pick the exact category" in seen[-1].text


# --- /case N ----------------------------------------------------------------------------------------


async def test_case_with_a_bare_number_finds_this_years_case(driver: Driver):
    await report(driver, "alice")
    for typed in ("1", "00001", "2026-1", "１"):
        seen = await driver.text("alice", f"/case {typed}")
        assert "Case 2026-00001" in seen[-1].text, typed
    seen = await driver.text("alice", "/case 2025-1")
    assert "No case 2025-00001 was found" in seen[-1].text


# --- places -----------------------------------------------------------------------------------------


async def test_swapped_coordinates_get_did_you_mean(driver: Driver):
    await up_to_location(driver, "alice")
    seen = await driver.text("alice", "88.881, 29.267")
    assert "Did you mean 29.267, 88.881?" in texts(seen)
    assert "🗺️ Pick from a list" in labels(seen)
    seen = await driver.press("alice", "Yes, use the swapped")
    assert "May the supervisor see who you are?" in seen[-1].text
    await driver.press("alice", "Stay anonymous")
    await driver.press("alice", "Submit")
    [case] = await cases(driver)
    assert (case.lat, case.lon) == pytest.approx(SAMZHUBZE)


@pytest.mark.parametrize("typed", ["0.5, 0.5", "95, 200", "-29.267, -88.881"])
async def test_a_location_outside_the_grid_always_offers_the_picker(driver: Driver, typed: str):
    await up_to_location(driver, "alice")
    seen = await driver.text("alice", typed)
    assert "🗺️ Pick from a list" in labels(seen)
    seen = await driver.press("alice", "Pick from a list")
    assert "Choose the county" in seen[-1].text


async def test_a_fourth_photo_is_answered_and_the_dialog_goes_on(driver: Driver):
    await in_english(driver, "alice")
    await driver.text("alice", "/report")
    await driver.press("alice", "Air")
    await driver.press("alice", "Construction dust")
    await driver.text("alice", "Dust from the building site by the river all day")
    for i in range(3):
        await driver.photo("alice", f"p{i}")
    seen = await driver.photo("alice", "p3")
    assert "At most 3 photos are kept" in seen[0].text
    assert "Where is it?" in texts(seen) and "🗺️ Pick from a list" in labels(seen)
    await driver.location("alice", *SAMZHUBZE)
    await driver.press("alice", "Stay anonymous")
    await driver.press("alice", "Submit")
    async with driver.app.database.reader() as s:
        refs = sorted((await s.scalars(select(CasePhoto.file_ref))).all())
    assert [ref[-2:] for ref in refs] == ["p0", "p1", "p2"]  # the channel's references


# --- the rate limit ---------------------------------------------------------------------------------


async def test_the_rate_limit_says_when_the_next_report_is_accepted(
    driver: Driver, clock: FakeClock
):
    # The fake clock starts at 10:00 in Shigatse (Asia/Shanghai); reports 10 minutes apart.
    for i in range(5):
        where = (SAMZHUBZE[0] + 0.02 * i, SAMZHUBZE[1])  # apart, so none joins another
        assert "Case number" in await report(driver, "alice", where)
        clock.advance(minutes=10)
    seen = await driver.text("alice", "/report")
    assert "You can report again at 11:00" in seen[-1].text
    clock.advance(minutes=10, seconds=1)
    seen = await driver.text("alice", "/report")
    assert "What would you like to report?" in seen[-1].text


# --- voice (the console hands the dialog what a WeChat voice message becomes) ----------------------


@pytest.mark.parametrize("channel", ["console"], indirect=True)
async def test_a_spoken_description_keeps_its_voice_message(driver: Driver):
    assert isinstance(driver, ConsoleDriver)
    await in_english(driver, "alice")
    await driver.text("alice", "/report")
    await driver.press("alice", "Air")
    await driver.press("alice", "Construction dust")
    silent = replace(driver.console.to_inbound("", "alice"), text=None, voice="voice-0")
    seen = await driver._process("alice", silent)
    assert "could not make out any words" in seen[-1].text
    spoken = replace(
        driver.console.to_inbound("", "alice"),
        text="Dust from the building site by the river",
        voice="voice-1",
    )
    seen = await driver._process("alice", spoken)
    assert "Send photos" in seen[-1].text
    await driver.press("alice", "Skip")
    await driver.location("alice", *SAMZHUBZE)
    await driver.press("alice", "Stay anonymous")
    await driver.press("alice", "Submit")
    [case] = await cases(driver)
    assert case.description == "Dust from the building site by the river"
    async with driver.app.database.reader() as s:
        media = [(p.kind, p.file_ref) for p in (await s.scalars(select(CasePhoto))).all()]
    assert media == [("voice", "voice-1")]


# --- datums of typed coordinates ------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["telegram", "wechat"], indirect=True)
async def test_typed_coordinates_are_gcj02_on_wechat_and_wgs84_elsewhere(driver: Driver):
    await up_to_location(driver, "alice")
    await driver.text("alice", f"{SAMZHUBZE[0]}, {SAMZHUBZE[1]}")
    await driver.press("alice", "Stay anonymous")
    await driver.press("alice", "Submit")
    [case] = await cases(driver)
    expected = gcj02_to_wgs84(*SAMZHUBZE) if driver.channel == "wechat" else None
    if expected is None:
        assert (case.lat, case.lon) == pytest.approx(SAMZHUBZE)
    else:
        assert (case.lat, case.lon) == pytest.approx((expected.lat, expected.lon), abs=1e-6)
        assert abs(case.lon - SAMZHUBZE[1]) > 1e-3  # GCJ-02 is hundreds of metres off here


async def test_the_offered_choices_are_remembered_per_person(driver: Driver):
    await in_english(driver, "alice")
    async with driver.app.database.reader() as s:
        person = (
            await s.scalars(select(Person).where(Person.chat_id == driver.chat_id("alice")))
        ).one()
    # "Done — I will write to you in English" has no buttons: nothing is offered any more.
    assert person.offered_choices is None
    await driver.text("alice", "/language")
    async with driver.app.database.reader() as s:
        person = (
            await s.scalars(select(Person).where(Person.chat_id == driver.chat_id("alice")))
        ).one()
    assert person.offered_choices == [
        ["中文", "lang:zh-Hans"],
        ["བོད་ཡིག", "lang:bo"],
        ["English", "lang:en"],
    ]


async def test_the_subscribe_dialog_also_brings_back_its_question_after_a_restart(driver: Driver):
    await in_english(driver, "tashi")
    await driver.text("tashi", "/subscribe")
    await driver.press("tashi", "Campaigns")
    driver = await driver.restart()
    seen = await driver.text("tashi", "what now?")
    assert "tap one of the buttons below" in seen[0].text
    assert "Campaigns and volunteer events" in " ".join(labels(seen))
    await driver.press("tashi", "Done")
    seen = await driver.press("tashi", "Choose from the list")
    assert "Samzhubzê District" in " ".join(labels(seen))

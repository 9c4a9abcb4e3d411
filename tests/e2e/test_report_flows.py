"""A resident reports pollution; the supervisor of the cell hears of it — on every channel."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.storage.models import (
    Case,
    CaseEvent,
    CasePhoto,
    CaseReporter,
    OutboxMessage,
    ProcessedUpdate,
)
from tests.support.drivers import Driver

# Every report scenario runs on WeChat as well (see CHANNELS in conftest.py).
pytestmark = pytest.mark.parametrize("channel", ["console", "telegram", "wechat"], indirect=True)

# Samzhubzê District (540202): the point of the foundation's acceptance check.
SAMZHUBZE = (29.267, 88.881)
VILLAGE_AT_SAMZHUBZE = "540202006005"
COUNTY = "540202"
KATHMANDU = (27.7172, 85.3240)


async def count(driver: Driver, model) -> int:
    async with driver.app.database.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def cases(driver: Driver) -> list[Case]:
    async with driver.app.database.reader() as s:
        return list((await s.scalars(select(Case).order_by(Case.id))).all())


async def report(
    driver: Driver,
    user: str,
    *,
    group: str = "Air",
    category: str = "Construction dust",
    description: str = "Dust from the building site by the river all day",
    where: tuple[float, float] | None = SAMZHUBZE,
    photos: int = 0,
    emergency: bool = False,
    show_name: bool = False,
) -> list:
    """The whole dialog in English; returns what the resident saw after confirming."""
    await driver.text(user, "/start")
    await driver.press(user, "English")
    await driver.text(user, "/report")
    await driver.press(user, group)
    await driver.press(user, category)
    await driver.text(user, description)
    for i in range(photos):
        await driver.photo(user, f"photo-{user}-{i}")
    if photos < 3:
        await driver.press(user, "photos" if photos else "Skip")
    if where is not None:
        await driver.location(user, *where)
    await driver.press(user, "Show who I am" if show_name else "Stay anonymous")
    if emergency:
        await driver.press(user, "Mark as emergency")
    return await driver.press(user, "Submit")


async def test_a_gps_report_becomes_a_case_and_reaches_the_village_supervisor(driver: Driver):
    await driver.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    seen = await report(driver, "alice", photos=2)
    assert "Case number: 2026-00001" in seen[-1].text
    assert "Samzhubzê T06 Village Grid 005" in seen[-1].text

    [case] = await cases(driver)
    assert (case.number, case.status, case.category) == (
        "2026-00001",
        "assigned",
        "air-construction",
    )
    assert case.origin_cell_code == case.cell_code == VILLAGE_AT_SAMZHUBZE
    assert case.anonymous and not case.urgent
    assert await count(driver, CasePhoto) == 2
    assert await count(driver, CaseEvent) == 2  # created, assigned

    await driver.deliver()
    got = driver.received("supervisor")
    note = next(s for s in got if "2026-00001" in s.text)
    assert "Construction dust" in note.text or "施工扬尘" in note.text
    assert "Dust from the building site" in note.text
    assert "匿名" in note.text or "anonymous" in note.text
    assert any(s.location for s in got), "the supervisor gets the place as a map location"
    lat, lon = next(s.location for s in got if s.location)
    assert abs(lat - SAMZHUBZE[0]) < 1e-6 and abs(lon - SAMZHUBZE[1]) < 1e-6
    assert sum(len(s.photos) for s in got) == 2
    assert any("sv:ack:" in data for s in got for _, data in s.buttons)


async def test_a_report_placed_with_the_picker_lands_in_the_chosen_village(driver: Driver):
    await driver.text("bob", "/start")
    await driver.press("bob", "English")
    await driver.text("bob", "/report")
    await driver.press("bob", "Water")
    await driver.press("bob", "Sewage outfall")
    await driver.text("bob", "Grey water pouring into the stream")
    await driver.press("bob", "Skip")
    await driver.press("bob", "Pick from a list")
    await driver.press("bob", "Gyantse County")
    await driver.press("bob", "Gyantse Township Grid 02")
    await driver.press("bob", "Gyantse T02 Village Grid 003")
    await driver.press("bob", "Stay anonymous")
    summary = driver.received("bob")[-1].text
    assert "Gyantse T02 Village Grid 003" in summary
    seen = await driver.press("bob", "Submit")
    assert "2026-00001" in seen[-1].text
    [case] = await cases(driver)
    assert case.origin_cell_code == "540222002003"
    assert case.location_source == "picker"
    # The representative point is inside the village, so routing it gives the same cell.
    assert driver.app.grid_index.route(case.lat, case.lon).cell.code == "540222002003"


async def test_a_place_outside_the_grid_names_the_nearest_county_and_the_hotline(driver: Driver):
    await driver.text("carol", "/start")
    await driver.press("carol", "English")
    await driver.text("carol", "/report")
    await driver.press("carol", "Noise")
    await driver.press("carol", "Noise")
    await driver.text("carol", "Generators running all night long")
    await driver.press("carol", "Skip")
    seen = await driver.location("carol", *KATHMANDU)
    assert "outside Shigatse's supervision grid" in seen[0].text
    assert "Gyirong County" in seen[0].text
    assert "12369" in seen[0].text
    assert await count(driver, Case) == 0
    # It may be retried, with a place inside.
    retry = await driver.location("carol", *SAMZHUBZE)
    assert "May the supervisor see who you are" in retry[0].text


async def test_a_report_near_an_open_case_of_the_same_kind_joins_it(driver: Driver):
    await driver.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    near = (SAMZHUBZE[0] + 0.001, SAMZHUBZE[1])  # ~111 m north
    seen = await report(driver, "dawa", where=near, description="Lots of dust at the site here")
    assert "2026-00001" in seen[-1].text
    assert "2 reporters" in seen[-1].text
    [case] = await cases(driver)
    assert case.reporter_count == 2
    assert await count(driver, CaseReporter) == 2
    # A different category at the same place is a case of its own.
    other = await report(
        driver, "dawa", group="Noise", category="Noise", description="Loud drilling"
    )
    assert "2026-00002" in other[-1].text
    await driver.deliver()
    assert any("2 reporters" in s.text or "2 位" in s.text for s in driver.received("supervisor"))


async def test_filing_again_near_ones_own_open_case_names_it_as_theirs_and_changes_nothing(
    driver: Driver,
):
    """After a crash hid the first answer, a resident files the same thing again."""
    await driver.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    told_before = len(driver.received("supervisor"))
    near = (SAMZHUBZE[0] + 0.001, SAMZHUBZE[1])
    seen = await report(driver, "alice", where=near, description="Still dust at the site here")
    assert "your own case 2026-00001" in seen[-1].text
    assert "joined" not in seen[-1].text
    [case] = await cases(driver)
    assert case.reporter_count == 1
    assert await count(driver, CaseReporter) == 1
    assert await count(driver, CaseEvent) == 2  # created and assigned, nothing more
    await driver.deliver()
    assert len(driver.received("supervisor")) == told_before  # not told twice


async def test_an_urgent_report_also_reaches_the_county_and_shows_the_hotline(driver: Driver):
    await driver.bind_supervisor("village-sup", VILLAGE_AT_SAMZHUBZE)
    await driver.bind_supervisor("county-sup", COUNTY)
    seen = await report(
        driver,
        "alice",
        group="Soil and waste",
        category="Hazardous waste",
        description="Leaking drums of oil dumped by the road",
    )
    assert "12369" in seen[-1].text
    [case] = await cases(driver)
    assert case.urgent
    await driver.deliver()
    assert any("2026-00001" in s.text for s in driver.received("village-sup"))
    assert any("2026-00001" in s.text for s in driver.received("county-sup"))


async def test_a_resident_may_mark_any_report_as_an_emergency(driver: Driver):
    await report(driver, "alice", emergency=True)
    [case] = await cases(driver)
    assert case.urgent


async def test_the_reporter_is_named_to_the_supervisor_only_when_they_agree(driver: Driver):
    await driver.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice", show_name=True)
    await driver.deliver()
    note = next(s for s in driver.received("supervisor") if "2026-00001" in s.text)
    assert "alice" in note.text.lower()


async def test_an_anonymous_reporter_is_never_named(driver: Driver):
    await driver.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    texts = " ".join(s.text for s in driver.received("supervisor")).lower()
    assert "alice" not in texts
    assert driver.chat_id("alice") not in texts


async def test_a_cell_without_supervisors_routes_to_the_nearest_staffed_ancestor(driver: Driver):
    from sqlalchemy import delete

    from bot.storage.models import SupervisorCell

    async with driver.app.database.transaction() as s:
        await s.execute(
            delete(SupervisorCell).where(SupervisorCell.cell_code == VILLAGE_AT_SAMZHUBZE)
        )
    seen = await report(driver, "alice")
    assert "Samzhubzê Township Grid 06" in seen[-1].text
    [case] = await cases(driver)
    assert (case.origin_cell_code, case.cell_code) == (VILLAGE_AT_SAMZHUBZE, "540202006")


async def test_mycases_lists_and_case_shows_only_to_its_reporters(driver: Driver):
    await report(driver, "alice")
    listing = await driver.text("alice", "/mycases")
    assert "2026-00001" in listing[0].text and "assigned" in listing[0].text
    detail = await driver.text("alice", "/case 2026-00001")
    assert "Dust from the building site" in detail[0].text
    await driver.text("mallory", "/start")
    await driver.press("mallory", "English")
    refused = await driver.text("mallory", "/case 2026-00001")
    assert "No case 2026-00001" in refused[0].text
    assert "Dust" not in refused[0].text


async def test_a_resident_over_the_hourly_limit_is_told_and_nothing_is_stored(
    driver: Driver, clock
):
    limit = driver.app.settings.report_rate_per_hour
    for i in range(limit):
        spot = (SAMZHUBZE[0] + 0.01 * i, SAMZHUBZE[1])  # far enough apart not to join
        await report(driver, "alice", where=spot, description=f"Dust cloud number {i}")
    assert await count(driver, Case) == limit
    refused = await driver.text("alice", "/report")
    assert f"{limit} reports" in refused[0].text
    assert await count(driver, Case) == limit
    clock.advance(hours=1, minutes=1)
    allowed = await driver.text("alice", "/report")
    assert "pick a group" in allowed[0].text


async def test_bad_input_in_each_step_gets_a_clear_answer_and_changes_nothing(driver: Driver):
    await driver.text("alice", "/start")
    await driver.press("alice", "English")
    await driver.text("alice", "/report")
    assert "tap one of the buttons" in (await driver.text("alice", "hello"))[0].text
    await driver.press("alice", "Air")
    await driver.press("alice", "Dust and sand")
    assert "too short" in (await driver.text("alice", "dust"))[0].text
    assert "too long" in (await driver.text("alice", "x" * 2001))[0].text
    await driver.text("alice", "Sand blowing across the road")
    assert "Skip" in (await driver.text("alice", "no photos"))[0].buttons[0][0]
    await driver.press("alice", "Skip")
    assert "could not read" not in (await driver.text("alice", "somewhere"))[0].text
    assert "outside" in (await driver.location("alice", 0.5, 0.5))[0].text
    assert await count(driver, Case) == 0
    assert "Left the current dialog" in (await driver.text("alice", "/cancel"))[0].text
    assert "no dialog" in (await driver.text("alice", "/cancel"))[0].text


async def test_a_restart_mid_dialog_resumes_where_the_resident_was(driver: Driver):
    await driver.text("alice", "/start")
    await driver.press("alice", "English")
    await driver.text("alice", "/report")
    await driver.press("alice", "Air")
    await driver.press("alice", "Vehicle exhaust")
    await driver.text("alice", "Black smoke from the lorries at the junction")
    resumed = await driver.restart()
    seen = await resumed.press("alice", "Skip")
    assert "Where is it?" in seen[0].text
    await resumed.location("alice", *SAMZHUBZE)
    await resumed.press("alice", "Stay anonymous")
    done = await resumed.press("alice", "Submit")
    assert "2026-00001" in done[-1].text
    [case] = await cases(resumed)
    assert case.description == "Black smoke from the lorries at the junction"


async def test_a_redelivered_update_changes_nothing_twice(driver: Driver):
    await report(driver, "alice")
    before = (await count(driver, Case), await count(driver, OutboxMessage))
    await driver.redeliver_last("alice")
    assert (await count(driver, Case), await count(driver, OutboxMessage)) == before
    assert await count(driver, ProcessedUpdate) > 0


@pytest.mark.parametrize("forged", ["r:c:not-a-category", "r:pk:999999", "r:e:everything", "zz"])
async def test_forged_button_data_is_refused_without_touching_stored_data(driver: Driver, forged):
    await driver.text("alice", "/start")
    await driver.press("alice", "English")
    await driver.text("alice", "/report")
    seen = await driver.forge_callback("alice", forged)
    assert seen and seen[0].text
    assert await count(driver, Case) == 0


async def test_the_summary_lets_the_resident_change_a_field_and_come_back(driver: Driver):
    await driver.text("alice", "/start")
    await driver.press("alice", "English")
    await driver.text("alice", "/report")
    await driver.press("alice", "Air")
    await driver.press("alice", "Dust and sand")
    await driver.text("alice", "Sand blowing across the road")
    await driver.press("alice", "Skip")
    await driver.location("alice", *SAMZHUBZE)
    await driver.press("alice", "Stay anonymous")
    await driver.press("alice", "Change")
    await driver.press("alice", "Description")
    seen = await driver.text("alice", "Sand and grit blowing across the road by the school")
    assert "Please check your report" in seen[-1].text
    assert "by the school" in seen[-1].text
    done = await driver.press("alice", "Submit")
    assert "2026-00001" in done[-1].text
    [case] = await cases(driver)
    assert case.description == "Sand and grit blowing across the road by the school"

"""A resident subscribes, changes settings and unsubscribes — through every channel."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import Person, Subscription
from tests.support.drivers import Driver

SAMZHUBZE = (29.267, 88.881)
SAMZHUBZE_COUNTY = "540202"


async def subscriptions(driver: Driver, user: str) -> dict[str, str | None]:
    person_id = await driver.person_id(user)
    async with driver.app.database.reader() as s:
        rows = await s.scalars(select(Subscription).where(Subscription.person_id == person_id))
        return {r.topic: r.area_cell_code for r in rows.all()}


async def locale(driver: Driver, user: str) -> str | None:
    person_id = await driver.person_id(user)
    async with driver.app.database.reader() as s:
        person = await s.get(Person, person_id)
        assert person is not None
        return person.locale


async def english(driver: Driver, user: str) -> None:
    await driver.text(user, "/start")
    await driver.press(user, "English")


async def test_subscribing_by_location_chooses_topics_the_township_and_the_language(
    driver: Driver,
):
    await english(driver, "dolma")
    driver_user = "dolma"
    seen = await driver.text(driver_user, "/subscribe")
    assert "Which topics" in seen[-1].text
    await driver.press(driver_user, "Air-quality")
    seen = await driver.press(driver_user, "Weekly digest")
    assert ("✅ Air-quality bulletins", "sub:t:air") in seen[-1].buttons
    await driver.press(driver_user, "Done")
    seen = await driver.location(driver_user, *SAMZHUBZE)
    assert "Which language" in seen[-1].text
    seen = await driver.press(driver_user, "中文")
    assert "订阅成功" in seen[-1].text and "桑珠孜区" in seen[-1].text
    assert "22:00-08:00" in seen[-1].text

    subs = await subscriptions(driver, "dolma")
    assert set(subs) == {"air", "digest"}
    township = driver.app.grid_index.route(*SAMZHUBZE).at_level("township")  # type: ignore[arg-type]
    assert township is not None and set(subs.values()) == {township.code}
    assert await locale(driver, "dolma") == "zh-Hans"


async def test_subscribing_with_the_picker_and_changing_the_area_in_settings(driver: Driver):
    await english(driver, "tashi")
    await driver.text("tashi", "/subscribe")
    await driver.press("tashi", "Campaigns")
    await driver.press("tashi", "Done")
    await driver.press("tashi", "Choose from the list")
    seen = await driver.press("tashi", "Samzhubzê District")
    assert "township in Samzhubzê District" in seen[-1].text
    await driver.press("tashi", "All of Samzhubzê District")
    seen = await driver.press("tashi", "English")
    assert "Subscribed. You will hear about: Campaigns and volunteer events" in seen[-1].text
    assert await subscriptions(driver, "tashi") == {"campaigns": SAMZHUBZE_COUNTY}

    seen = await driver.text("tashi", "/settings")
    assert "Area: Samzhubzê District" in seen[-1].text and "Language: English" in seen[-1].text
    await driver.press("tashi", "Change area")
    seen = await driver.press("tashi", "All of Shigatse")
    assert "Saved." in seen[0].text and "Area: All of Shigatse" in seen[-1].text
    assert await subscriptions(driver, "tashi") == {"campaigns": None}

    await driver.press("tashi", "Change topics")
    await driver.press("tashi", "Water")
    seen = await driver.press("tashi", "Done")
    assert "Topics: Water and Campaigns and volunteer events" in seen[-1].text  # a list, in English
    await driver.press("tashi", "Change language")
    seen = await driver.press("tashi", "བོད་ཡིག")
    assert "ཁྱེད་ཀྱི་མཁོ་འདོན།" in seen[-1].text
    assert await locale(driver, "tashi") == "bo"


async def test_unsubscribing_one_topic_then_everything(driver: Driver):
    await english(driver, "pema")
    await driver.text("pema", "/subscribe")
    await driver.press("pema", "Water")
    await driver.press("pema", "Waste")
    await driver.press("pema", "Done")
    await driver.press("pema", "All of Shigatse")
    await driver.press("pema", "English")

    seen = await driver.text("pema", "/unsubscribe")
    assert [label for label, _ in seen[-1].buttons] == [
        "Water",
        "Waste and recycling",
        "Stop everything",
    ]
    seen = await driver.press("pema", "Water")
    assert "no longer receive Water" in seen[-1].text
    assert set(await subscriptions(driver, "pema")) == {"waste"}
    await driver.text("pema", "/unsubscribe")
    seen = await driver.press("pema", "Stop everything")
    assert "unsubscribed from everything" in seen[-1].text
    assert await subscriptions(driver, "pema") == {}
    seen = await driver.text("pema", "/unsubscribe")
    assert "You have no subscriptions" in seen[-1].text
    seen = await driver.text("pema", "/settings")
    assert "not subscribed to anything" in seen[-1].text


async def test_bad_input_in_the_subscribe_dialog_is_explained_and_changes_nothing(driver: Driver):
    await english(driver, "nyima")
    await driver.text("nyima", "/subscribe")
    seen = await driver.press("nyima", "Done")
    assert "Tick at least one topic" in seen[-1].text
    seen = await driver.text("nyima", "hello")
    assert "tap one of the buttons below" in seen[0].text
    assert seen[-1].buttons, "the question is asked again with its buttons"
    await driver.press("nyima", "Air-quality")
    await driver.press("nyima", "Done")
    seen = await driver.location("nyima", 27.7172, 85.3240)  # Kathmandu
    assert "outside Shigatse" in seen[-1].text
    seen = await driver.forge_callback("nyima", "sub:a:999999")
    assert "no longer works" in seen[-1].text
    seen = await driver.forge_callback("nyima", "uns:t:nonsense")
    assert "no longer works" in seen[-1].text
    seen = await driver.press("nyima", "Cancel")
    assert "Nothing was changed" in seen[-1].text
    assert await subscriptions(driver, "nyima") == {}

"""Hostile supervisors: a foreign merge target, probing case numbers, malformed button ids.

Each refusal changes nothing, answers without revealing whether a case exists, and is recorded
as a SecurityEvent; on every channel and on both databases.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.services.case_access import MAX_NUMBER_MISSES, NUMBER_MISS
from bot.storage.models import CaseReporter, SecurityEvent
from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report
from tests.e2e.test_supervision_flows import NOISE, join, security_events, the_case
from tests.support.drivers import Driver

GYANTSE_VILLAGE = "540222002003"


async def recorded(driver: Driver, action: str | None = None) -> list[tuple[str, str]]:
    async with driver.app.database.reader() as s:
        query = select(SecurityEvent.action, SecurityEvent.reason).order_by(SecurityEvent.id)
        if action is not None:
            query = query.where(SecurityEvent.action == action)
        return [(a, r) for a, r in (await s.execute(query)).all()]


async def test_a_supervisor_cannot_merge_a_case_into_another_cells_case(driver: Driver):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await join(driver, "other", GYANTSE_VILLAGE)
    await report(driver, "alice")  # 2026-00001, Samzhubzê
    await report(driver, "bob", **NOISE)  # 2026-00002, Samzhubzê
    foreign = await the_case(driver)
    # Move the first case out of tashi's reach: another county's cell holds it now.
    async with driver.app.database.transaction() as s:
        row = await s.get(type(foreign), foreign.id)
        assert row is not None
        row.cell_code = GYANTSE_VILLAGE
    await driver.deliver()
    await driver.press("tashi", "Reject")
    await driver.press("tashi", "Duplicate of another case")
    seen = await driver.text("tashi", "2026-00001 the same building site")
    assert "no open case 2026-00001 among your cells' cases" in seen[0].text

    duplicate = await the_case(driver, "2026-00002")
    assert duplicate.status == "assigned" and duplicate.merged_into_id is None
    async with driver.app.database.reader() as s:
        followers = set(
            (
                await s.scalars(
                    select(CaseReporter.person_id).where(CaseReporter.case_id == foreign.id)
                )
            ).all()
        )
    assert followers == {await driver.person_id("alice")}  # tashi joined nothing
    assert [a for a, _ in await recorded(driver, NUMBER_MISS)] == [NUMBER_MISS]


async def test_a_missing_and_a_foreign_case_number_answer_alike_and_misses_are_throttled(
    driver: Driver,
):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await join(driver, "other", GYANTSE_VILLAGE)
    await report(driver, "alice")  # 2026-00001, tashi's
    await driver.deliver()

    foreign = (await driver.text("other", "/case 2026-00001"))[0].text
    missing = (await driver.text("other", "/case 2026-09999"))[0].text
    assert foreign.replace("00001", "#") == missing.replace("09999", "#")
    assert "No case 2026-00001 was found" in foreign

    # Someone else's misses do not affect the case's supervisor …
    assert "2026-00001" in (await driver.text("tashi", "/case 2026-00001"))[0].text
    # … but a supervisor who probes is throttled: after enough misses within the hour even
    # their own case reads as a miss, and every lookup is recorded.
    for _ in range(MAX_NUMBER_MISSES):
        await driver.text("tashi", "/case 2026-09998")
    throttled = (await driver.text("tashi", "/case 2026-00001"))[0].text
    assert "No case 2026-00001 was found" in throttled
    misses = await recorded(driver, NUMBER_MISS)
    assert len(misses) == 2 + MAX_NUMBER_MISSES + 1
    assert misses[-1][1].endswith("throttled")


async def test_malformed_and_out_of_range_button_ids_are_refused_and_recorded(driver: Driver):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    before = await security_events(driver)
    forged = [
        ("tashi", "sv:ack:²"),  # a Unicode digit: str.isdigit says yes
        ("tashi", "sv:ack:٣"),  # an Arabic-Indic digit
        ("tashi", "sv:ack:2147483648"),  # one past the 32-bit id column
        ("tashi", "sv:ack:99999999999999999999"),
        ("tashi", "sv:ack:-1"),
        ("tashi", "sv:ack:0"),
        ("tashi", "sv:ack:+1"),
        ("tashi", "sv:to:1:" + "9" * 40),  # a cell code longer than the column
        ("alice", "rq:2147483648"),
        ("alice", "fu:y:²"),
    ]
    for user, data in forged:
        seen = await driver.forge_callback(user, data)
        assert "not valid" in seen[0].text, (data, seen[0].text)
    assert await security_events(driver) == before + len(forged)
    case = await the_case(driver)
    assert (case.status, case.version) == ("assigned", 1)

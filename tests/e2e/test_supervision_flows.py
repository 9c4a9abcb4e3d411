"""Supervisors work their cases in chat, and late cases climb the grid — on every channel."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from bot.domain.cases import replay
from bot.services import case_queries, invites
from bot.storage.models import (
    Case,
    CaseEvent,
    CasePhoto,
    CaseReporter,
    SecurityEvent,
    Supervisor,
    SupervisorCell,
)
from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report
from tests.support.clock import FakeClock
from tests.support.drivers import Driver

TOWNSHIP, COUNTY, CITY = "540202006", "540202", "540200"
NOISE = {"group": "Noise", "category": "Noise", "description": "Generators running all night"}
SEWAGE = {"group": "Water", "category": "Sewage outfall", "description": "Grey water in the stream"}


async def invite_code(driver: Driver, cell: str, name: str = "") -> str:
    created = await invites.create_invite(
        driver.app.database,
        cell_code=cell,
        name=name,
        now=driver.app.clock(),
        ttl_days=driver.app.settings.invite_ttl_days,
    )
    return created.code


async def join(driver: Driver, user: str, cell: str) -> str:
    """The real onboarding path: an invite code, sent to the bot with /join."""
    await driver.text(user, "/start")
    await driver.press(user, "English")
    seen = await driver.text(user, f"/join {await invite_code(driver, cell)}")
    return seen[0].text


async def the_case(driver: Driver, number: str = "2026-00001") -> Case:
    async with driver.app.database.reader() as s:
        return (await s.scalars(select(Case).where(Case.number == number))).one()


async def events(driver: Driver, case_id: int) -> list[CaseEvent]:
    async with driver.app.database.reader() as s:
        return list(
            (
                await s.scalars(
                    select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
                )
            ).all()
        )


async def security_events(driver: Driver) -> int:
    async with driver.app.database.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(SecurityEvent)) or 0)


async def sweep(driver: Driver) -> None:
    await driver.app.sweep.run()
    await driver.deliver()


def texts(driver: Driver, user: str) -> list[str]:
    return [s.text for s in driver.received(user)]


def assert_matches_replay(case: Case, history: list[CaseEvent]) -> None:
    replayed = replay(history)
    assert (replayed.status.value, replayed.cell_code, replayed.escalation_level) == (
        case.status,
        case.cell_code,
        case.escalation_level,
    )


# --- onboarding ---------------------------------------------------------------------------------


async def test_an_invite_code_binds_the_supervisor_to_the_cell_once(driver: Driver):
    bound = await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    assert "You are now a grid supervisor of Samzhubzê T06 Village Grid 005" in bound
    async with driver.app.database.reader() as s:
        sources = (
            await s.scalars(
                select(SupervisorCell.source).where(
                    SupervisorCell.cell_code == VILLAGE_AT_SAMZHUBZE
                )
            )
        ).all()
    assert sorted(sources) == ["invite", "roster"]
    # One person may hold several cells; /start CODE works like /join CODE.
    code = await invite_code(driver, TOWNSHIP)
    seen = await driver.text("tashi", f"/start {code}")
    assert "Samzhubzê Township Grid 06" in seen[0].text
    async with driver.app.database.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Supervisor)) == 1910 + 1
    # Plain /start still welcomes, as for every resident.
    assert "Choose your language" in (await driver.text("tashi", "/start"))[0].text


async def test_wrong_used_and_expired_codes_are_refused_and_repeated_failures_throttled(
    driver: Driver, clock: FakeClock
):
    stale = await invite_code(driver, COUNTY)
    clock.advance(days=8)
    code = await invite_code(driver, VILLAGE_AT_SAMZHUBZE)
    await join(driver, "tashi", TOWNSHIP)
    await driver.text("mallory", "/start")
    await driver.press("mallory", "English")
    assert "expired" in (await driver.text("mallory", f"/join {stale}"))[0].text
    seen = await driver.text("mallory", "/join ABCDEFGHJK")
    assert "not valid" in seen[0].text and "ask the bureau" in seen[0].text
    await driver.text("dawa", f"/join {code.lower()}")  # dawa uses it (case is forgiven)
    assert "already been used" in (await driver.text("mallory", f"/join {code}"))[0].text
    assert "/join ABCDE23456" in (await driver.text("mallory", "/join"))[0].text
    for _ in range(2):
        await driver.text("mallory", "/join 0000000000")
    # Five failures within the hour: even a good code has to wait.
    fresh = await invite_code(driver, COUNTY)
    seen = await driver.text("mallory", f"/join {fresh}")
    assert "Too many wrong invitation codes" in seen[0].text
    async with driver.app.database.reader() as s:
        actions = (await s.scalars(select(SecurityEvent.action))).all()
        cells = (
            await s.scalars(
                select(SupervisorCell.cell_code).where(SupervisorCell.source == "invite")
            )
        ).all()
    assert actions.count("invite-failed") == 5 and actions.count("invite-throttled") == 1
    assert sorted(cells) == sorted([TOWNSHIP, VILLAGE_AT_SAMZHUBZE])  # tashi's and dawa's only
    clock.advance(hours=1, minutes=1)
    bound = await driver.text("mallory", f"/join {fresh}")
    assert "grid supervisor of Samzhubzê District" in bound[0].text


# --- the lifecycle --------------------------------------------------------------------------------


async def test_acknowledge_resolve_and_a_yes_at_the_follow_up_closes_the_case(
    driver: Driver, clock: FakeClock
):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    card = next(s for s in driver.received("tashi") if "2026-00001" in s.text)
    assert any(data.startswith("sv:ack:") for _, data in card.buttons)

    seen = await driver.press("tashi", "Acknowledge")
    assert "You acknowledged case 2026-00001" in seen[0].text
    await driver.deliver()
    assert (
        "the supervisor of Samzhubzê T06 Village Grid 005 has taken it up"
        in texts(driver, "alice")[-1]
    )

    assert "Describe what was done" in (await driver.press("tashi", "Resolve"))[0].text
    assert (
        "after-photo" in (await driver.text("tashi", "Watered the site, covered the heaps"))[0].text
    )
    assert "marked resolved" in (await driver.photo("tashi", "after-1"))[0].text
    await driver.deliver()
    assert any("Watered the site" in t for t in texts(driver, "alice"))
    assert any("after-1" in s.photos[0] for s in driver.received("alice") if s.photos)
    case = await the_case(driver)
    assert (case.status, case.ack_due_at, case.resolve_due_at) == ("resolved", None, None)
    async with driver.app.database.reader() as s:
        kinds = (await s.scalars(select(CasePhoto.kind))).all()
    assert kinds == ["resolution"]

    clock.advance(days=3, minutes=1)
    await sweep(driver)
    assert "Is the problem really fixed?" in texts(driver, "alice")[-1]
    assert "closed" in (await driver.press("alice", "Yes, it is fixed"))[0].text
    case = await the_case(driver)
    assert case.status == "closed" and case.closed_at == clock.now
    history = await events(driver, case.id)
    assert [e.kind for e in history] == [
        "created",
        "assigned",
        "acknowledge",
        "resolve",
        "follow_up",
        "close",
    ]
    assert_matches_replay(case, history)
    # The answer was final: the buttons are stale now, and nothing changes.
    again = await driver.press("alice", "No, not fixed")
    assert "settled already" in again[0].text
    assert (await the_case(driver)).status == "closed"


async def test_no_answer_to_the_follow_up_closes_the_case_after_the_waiting_days(
    driver: Driver, clock: FakeClock
):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    await driver.press("tashi", "Resolve")
    await driver.text("tashi", "Removed the dumped sand")
    await driver.press("tashi", "Skip")
    clock.advance(days=3, minutes=1)
    await sweep(driver)
    clock.advance(days=7, minutes=1)
    await sweep(driver)
    assert "no answer to the follow-up" in texts(driver, "alice")[-1]
    case = await the_case(driver)
    assert case.status == "closed"
    assert_matches_replay(case, await events(driver, case.id))


async def test_a_no_at_the_follow_up_reopens_the_case_and_escalates_it_one_level(
    driver: Driver, clock: FakeClock
):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await join(driver, "nyima", TOWNSHIP)
    await report(driver, "alice")
    await driver.deliver()
    await driver.press("tashi", "Acknowledge")
    await driver.press("tashi", "Resolve")
    await driver.text("tashi", "Covered the sand heaps")
    await driver.press("tashi", "Skip")
    clock.advance(days=3, minutes=1)
    await sweep(driver)
    seen = await driver.press("alice", "No, not fixed")
    assert "reopened" in seen[0].text
    await driver.deliver()
    case = await the_case(driver)
    assert (case.status, case.escalation_level) == ("reopened", 1)
    assert case.ack_due_at is not None and case.follow_up_answer_due_at is None
    assert any("says it is not fixed" in t and "2026-00001" in t for t in texts(driver, "nyima"))
    assert any("escalated from" in t and "2026-00001" in t for t in texts(driver, "tashi"))
    assert "gone up to the township supervisors" in texts(driver, "alice")[-1]
    assert_matches_replay(case, await events(driver, case.id))
    # The township supervisor may now act on it.
    seen = await driver.text("nyima", "/case 2026-00001")
    assert "Timeline" in seen[0].text and "reopened" in seen[0].text
    assert "You acknowledged" in (await driver.press("nyima", "Acknowledge"))[0].text


async def test_an_unacknowledged_case_climbs_to_the_city_and_each_level_is_told(
    driver: Driver, clock: FakeClock
):
    levels = [("tashi", VILLAGE_AT_SAMZHUBZE), ("nyima", TOWNSHIP), ("dorje", COUNTY)]
    levels.append(("pema", CITY))
    for user, cell in levels:
        await join(driver, user, cell)
    await report(driver, "alice")
    await driver.deliver()
    for step, (lower, upper) in enumerate(itertools.pairwise(levels), start=1):
        clock.advance(hours=24, minutes=1)
        await sweep(driver)
        case = await the_case(driver)
        assert case.escalation_level == step
        assert "escalated to you" in texts(driver, upper[0])[-1]
        assert "2026-00001" in texts(driver, upper[0])[-1]
        assert "escalated from" in texts(driver, lower[0])[-1]
    assert [t for t in texts(driver, "alice") if "gone up" in t] == [
        "⏫ Case 2026-00001: it was not taken up in time, so it has gone up to the "
        f"{level} supervisors."
        for level in ("township", "county", "city")
    ]
    # At the top there is nowhere higher: the city is told the case is overdue, once.
    clock.advance(hours=24, minutes=1)
    await sweep(driver)
    await sweep(driver)
    assert sum("Overdue at" in t for t in texts(driver, "pema")) == 1
    case = await the_case(driver)
    assert (case.escalation_level, case.cell_code, case.ack_due_at) == (
        3,
        VILLAGE_AT_SAMZHUBZE,
        None,
    )
    assert_matches_replay(case, await events(driver, case.id))
    inbox = await driver.text("pema", "/inbox")
    assert "⏰ 2026-00001" in inbox[0].text
    # Every level it reached may act on it; the village still may too.
    assert "You acknowledged" in (await driver.press("pema", "Acknowledge"))[0].text


async def test_the_inbox_lists_overdue_cases_first_and_case_shows_the_timeline(
    driver: Driver, clock: FakeClock
):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    clock.advance(hours=25)
    await report(driver, "bob", **NOISE)
    await driver.app.sweep.run()
    inbox = (await driver.text("tashi", "/inbox"))[0].text
    assert inbox.index("⏰ 2026-00001") < inbox.index("• 2026-00002")
    detail = (await driver.text("tashi", "/case 2026-00001"))[0]
    assert "Escalated to: Samzhubzê Township Grid 06" in detail.text
    assert "escalated to Samzhubzê Township Grid 06" in detail.text
    assert any(data.startswith("sv:ack:") for _, data in detail.buttons)
    # A resident who did not report it learns nothing; the reporter sees their own view.
    await driver.text("mallory", "/start")
    await driver.press("mallory", "English")
    assert "No case 2026-00001" in (await driver.text("mallory", "/case 2026-00001"))[0].text
    assert "Timeline" not in (await driver.text("alice", "/case 2026-00001"))[0].text
    assert "for grid supervisors" in (await driver.text("mallory", "/inbox"))[0].text


async def test_a_case_is_transferred_to_a_neighbouring_cell_with_a_reason(driver: Driver):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    async with driver.app.database.reader() as s:
        case = await the_case(driver)
        options = await case_queries.transfer_options(s, driver.app.grid_index, case)
    assert options[-1].code == TOWNSHIP  # the parent is offered last
    neighbour = options[0]
    assert neighbour.parent_code == TOWNSHIP
    await join(driver, "lhamo", neighbour.code)
    seen = await driver.press("tashi", "Transfer")
    offered = [label for label, _ in seen[0].buttons]
    assert neighbour.names.en in offered and "Samzhubzê Township Grid 06" in offered
    await driver.press("tashi", neighbour.names.en)
    assert "Please send a text" in (await driver.text("tashi", "x"))[0].text  # too short
    done = await driver.text("tashi", "The dust comes from the quarry across the border")
    assert f"transferred to {neighbour.names.en}" in done[0].text
    await driver.deliver()
    card = next(s for s in driver.received("lhamo") if "Transferred to" in s.text)
    assert "quarry across the border" in card.text and "2026-00001" in card.text
    assert f"passed on to the supervisor of {neighbour.names.en}" in texts(driver, "alice")[-1]
    case = await the_case(driver)
    assert (case.cell_code, case.status, case.escalation_level) == (neighbour.code, "assigned", 0)
    assert_matches_replay(case, await events(driver, case.id))
    # The old cell's supervisor no longer holds it (pressing the button of the first card).
    _, acknowledge = driver.find_button("tashi", "Acknowledge")
    refused = await driver.forge_callback("tashi", acknowledge)
    assert "not among the cases of your cells" in refused[0].text
    assert "You acknowledged" in (await driver.press("lhamo", "Acknowledge"))[0].text


async def test_a_case_is_rejected_as_not_a_pollution_matter(driver: Driver):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice", **NOISE)
    await driver.deliver()
    await driver.press("tashi", "Reject")
    await driver.press("tashi", "Not a pollution matter")
    seen = await driver.text("tashi", "A wedding party, over by midnight")
    assert "was rejected" in seen[0].text
    await driver.deliver()
    assert "A wedding party" in texts(driver, "alice")[-1]
    case = await the_case(driver)
    assert (case.status, case.ack_due_at) == ("rejected", None)
    assert_matches_replay(case, await events(driver, case.id))


async def test_a_duplicate_is_merged_and_its_reporters_follow_the_original(driver: Driver):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await report(driver, "bob", **NOISE)
    await driver.deliver()
    await driver.press("tashi", "Reject")
    await driver.press("tashi", "Duplicate of another case")
    for bad, answer in [
        ("hello there", "Please send the number of the original case"),
        ("2026-00002 same site", "cannot duplicate itself"),
        ("2026-09999 same site", "no open case 2026-09999"),
    ]:
        assert answer in (await driver.text("tashi", bad))[0].text
    assert (await the_case(driver, "2026-00002")).status == "assigned"
    done = await driver.text("tashi", "2026-00001 the same building site")
    assert "merged into case 2026-00001" in done[0].text
    await driver.deliver()
    assert "you now follow case 2026-00001" in texts(driver, "bob")[-1]
    duplicate, original = await the_case(driver, "2026-00002"), await the_case(driver)
    assert (duplicate.status, duplicate.merged_into_id) == ("merged", original.id)
    assert original.reporter_count == 2
    async with driver.app.database.reader() as s:
        followers = (
            await s.scalars(
                select(CaseReporter.person_id).where(CaseReporter.case_id == original.id)
            )
        ).all()
    assert await driver.person_id("bob") in followers
    assert "2026-00001" in (await driver.text("bob", "/mycases"))[0].text
    assert_matches_replay(duplicate, await events(driver, duplicate.id))


# --- authorisation ------------------------------------------------------------------------------


async def test_nobody_but_the_cases_supervisors_may_act_and_each_refusal_is_recorded(
    driver: Driver,
):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await join(driver, "other", "540222002003")  # a Gyantse village
    await report(driver, "alice")
    await driver.deliver()
    case = await the_case(driver)
    before = await security_events(driver)

    refusals = [
        ("alice", f"sv:ack:{case.id}", "not among the cases"),  # a resident, even the reporter
        ("other", f"sv:ack:{case.id}", "not among the cases"),  # a supervisor of another cell
        ("other", f"sv:rej:n:{case.id}", "not valid"),  # a malformed action
        ("tashi", "sv:ack:abc", "not valid"),  # forged data
        ("tashi", "sv:ack:999999", "not among the cases"),  # no such case: said as "not yours"
        ("tashi", f"sv:to:{case.id}:540222002003", "not valid"),  # not a neighbour
        ("tashi", f"sv:zz:{case.id}", "not valid"),
        ("alice", f"fu:y:{case.id}", "settled already"),  # not asked yet
        ("other", f"fu:y:{case.id}", "did not report"),
    ]
    for user, data, expected in refusals:
        seen = await driver.forge_callback(user, data)
        assert expected in seen[0].text, (user, data, seen[0].text)
    assert await security_events(driver) == before + len(refusals)
    after = await the_case(driver)
    assert (after.status, after.version, after.cell_code) == ("assigned", 1, VILLAGE_AT_SAMZHUBZE)

    await driver.press("tashi", "Acknowledge")
    stale = await driver.press("tashi", "Acknowledge")  # the same button again
    assert 'Case 2026-00001 is now "in progress"' in stale[0].text
    async with driver.app.database.reader() as s:
        recorded = (
            await s.scalars(select(SecurityEvent.reason).order_by(SecurityEvent.id.desc()))
        ).first()
    assert recorded == "stale: case is acknowledged"


# --- the anonymous question relay ---------------------------------------------------------------


async def test_a_question_and_its_answer_are_relayed_without_revealing_the_reporter(
    driver: Driver,
):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    prompt = await driver.press("tashi", "Ask the reporter")
    assert "the supervisor of Samzhubzê T06 Village Grid 005" in prompt[0].text
    sent = await driver.text("tashi", "Which side of the river is the site on?")
    assert "passed on" in sent[0].text
    await driver.deliver()
    question = driver.received("alice")[-1]
    assert "Which side of the river" in question.text
    assert "The supervisor of Samzhubzê T06 Village Grid 005 asks" in question.text
    await driver.press("alice", "Answer")
    done = await driver.text("alice", "The east bank, behind the school")
    assert "passed on to the supervisor of Samzhubzê T06 Village Grid 005" in done[0].text
    await driver.deliver()
    assert "The east bank, behind the school" in texts(driver, "tashi")[-1]

    seen_by_supervisor = " ".join(
        s.text + " " + " ".join(f"{label} {data}" for label, data in s.buttons)
        for s in driver.received("tashi")
    ).lower()
    assert "alice" not in seen_by_supervisor
    assert driver.chat_id("alice").lower() not in seen_by_supervisor
    seen_by_reporter = " ".join(texts(driver, "alice")).lower()
    assert "tashi" not in seen_by_reporter
    assert driver.chat_id("tashi").lower() not in seen_by_reporter


# --- durability ---------------------------------------------------------------------------------


class Crash(Exception):
    pass


async def test_a_crash_in_the_middle_of_a_sweep_loses_nothing_and_duplicates_nothing(
    driver: Driver, clock: FakeClock
):
    await join(driver, "nyima", TOWNSHIP)
    await report(driver, "alice")
    await report(driver, "bob", **NOISE)
    await report(driver, "carol", **SEWAGE)
    clock.advance(hours=24, minutes=1)

    async def crash_in_second_batch(kind: str, batch: int) -> None:
        if batch == 2:
            raise Crash("the process dies before the second batch commits")

    driver.app.sweep.batch_size = 1
    driver.app.sweep.hook = crash_in_second_batch
    with pytest.raises(Crash):
        await driver.app.sweep.run()
    assert [(await the_case(driver, f"2026-0000{i}")).escalation_level for i in (1, 2, 3)] == [
        1,
        0,
        0,
    ]
    driver = await driver.restart()
    await sweep(driver)
    await sweep(driver)  # a second run finds nothing more to do

    for i, reporter in [(1, "alice"), (2, "bob"), (3, "carol")]:
        case = await the_case(driver, f"2026-0000{i}")
        history = await events(driver, case.id)
        assert [e.kind for e in history].count("escalate") == 1
        assert case.escalation_level == 1
        assert sum("gone up to the township" in t for t in texts(driver, reporter)) == 1
        told = [t for t in texts(driver, "nyima") if "escalated to you" in t]
        assert sum(t.count(case.number) for t in told) == 1

"""The bureau's desk, driven over HTTP with aiohttp's test client against the real web app.

Cases come from residents reporting through the console channel; staff sign in, look and act;
what reporters and supervisors are told arrives in their chats through the outbox. On both
databases.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.cli import main
from bot.services import staff
from bot.services.staff import MAX_LOGIN_FAILURES
from bot.storage.models import CaseEvent, OutboxMessage, SecurityEvent, StaffAudit
from bot.web.server import build_web_app
from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report
from tests.e2e.test_supervision_flows import NOISE, invite_code, join, the_case
from tests.support.drivers import Driver

pytestmark = pytest.mark.parametrize("channel", ["console"], indirect=True)

PASSWORD = "correct horse battery"
SAMZHUBZE = "540202"
GYANTSE = "540222"
GYANTSE_VILLAGE = "540222002003"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def add(driver: Driver, name: str, role: str, cell: str | None = None) -> None:
    await staff.add_staff(
        driver.app.database,
        name=name,
        role=role,
        cell_code=cell,
        password=PASSWORD,
        now=driver.app.clock(),
    )


@pytest.fixture
async def web(driver: Driver) -> AsyncIterator[TestClient]:
    app = build_web_app([driver.app.desk.add_routes], health=driver.app.health().handle)
    async with TestClient(TestServer(app)) as client:
        yield client


async def sign_in(
    web: TestClient, name: str, password: str = PASSWORD, *, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    page = await web.get("/desk/login", headers=headers)
    token = CSRF.search(await page.text())
    assert token is not None
    resp = await web.post(
        "/desk/login",
        data={"name": name, "password": password, "csrf": token.group(1), "next": ""},
        headers=headers,
    )
    return resp.status, await resp.text()


async def raw_session_cookie(web: TestClient, name: str, **headers: str) -> str:
    page = await web.get("/desk/login", headers=headers)
    token = CSRF.search(await page.text())
    assert token is not None
    resp = await web.post(
        "/desk/login",
        data={"name": name, "password": PASSWORD, "csrf": token.group(1)},
        headers=headers,
        allow_redirects=False,
    )
    assert resp.status == 303
    return next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("jingtu_desk="))


async def csrf_of(web: TestClient, path: str = "/desk/cases") -> str:
    found = CSRF.search(await (await web.get(path)).text())
    assert found is not None, "no form on the page"
    return found.group(1)


async def two_cases(driver: Driver) -> None:
    """2026-00001 (dust) and 2026-00002 (noise), both in a Samzhubzê village."""
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await report(driver, "bob", **NOISE)
    await driver.deliver()


async def count(driver: Driver, model, *where) -> int:
    async with driver.app.database.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# --- signing in, sessions, CSRF -----------------------------------------------------------------


async def test_signing_in_shows_the_cases_and_signing_out_ends_the_session(driver, web):
    await two_cases(driver)
    await add(driver, "wangfang", "admin")
    status, page = await sign_in(web, "wangfang")
    assert status == 200
    assert "2026-00001" in page and "2026-00002" in page
    assert 'lang="zh-Hans"' in page  # the default language of the bureau
    set_cookie = await raw_session_cookie(web, "wangfang")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/desk" in set_cookie
    assert "Secure" not in set_cookie  # plain HTTP here

    resp = await web.post("/desk/logout", data={"csrf": await csrf_of(web)})
    assert resp.url.path == "/desk/login"
    again = await web.get("/desk/cases", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/desk/login")
    actions = [a for (a,) in (await _audit(driver))]
    assert actions == ["staff-added", "login", "login", "logout"]


async def _audit(driver: Driver) -> list[tuple[str]]:
    async with driver.app.database.reader() as s:
        return list((await s.execute(select(StaffAudit.action).order_by(StaffAudit.id))).all())


async def test_the_cookie_is_secure_behind_tls(driver, web):
    await add(driver, "wangfang", "admin")
    page = await web.get("/desk/login", headers={"X-Forwarded-Proto": "https"})
    [set_cookie] = page.headers.getall("Set-Cookie")
    assert set_cookie.startswith("jingtu_desk_login=") and "Secure" in set_cookie
    assert "HttpOnly" in set_cookie


async def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(driver, web):
    await add(driver, "wangfang", "admin")
    status, page = await sign_in(web, "wangfang", "wrong password!")
    assert status == 401 and "用户名或密码错误" in page
    for _ in range(MAX_LOGIN_FAILURES - 1):
        await sign_in(web, "wangfang", "wrong password!")
    status, page = await sign_in(web, "wangfang")  # now even the right password waits
    assert status == 429 and "登录失败次数过多" in page
    assert await count(driver, SecurityEvent, SecurityEvent.action == "desk-login-failed") == (
        2 * MAX_LOGIN_FAILURES  # per name and per address
    )
    driver.app.clock.advance(minutes=16)
    status, _ = await sign_in(web, "wangfang")
    assert status == 200


async def test_an_idle_session_expires(driver, web):
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    driver.app.clock.advance(minutes=driver.app.settings.desk_session_minutes - 1)
    assert (await web.get("/desk/cases", allow_redirects=False)).status == 200
    driver.app.clock.advance(minutes=driver.app.settings.desk_session_minutes + 1)
    resp = await web.get("/desk/cases")
    assert resp.url.path == "/desk/login"
    assert "登录已过期" in await resp.text()


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(driver, web):
    await two_cases(driver)
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    resp = await web.post(
        "/desk/cases/2026-00001/note", data={"text": "forged", "csrf": "not-the-token"}
    )
    assert resp.status == 403 and "该表单已过期或并非来自工作台" in await resp.text()
    resp = await web.post("/desk/login", data={"name": "wangfang", "password": PASSWORD})
    assert resp.status == 403  # the sign-in form has its own token
    assert await count(driver, CaseEvent, CaseEvent.kind == "note") == 0


# --- scope: a county officer sees and acts only within their subtree ------------------------------


async def test_a_county_officer_neither_sees_nor_acts_outside_their_county(driver, web):
    await two_cases(driver)  # both in Samzhubzê
    await add(driver, "gyantse", "county", GYANTSE)
    await sign_in(web, "gyantse")
    listing = await (await web.get("/desk/cases")).text()
    assert "2026-00001" not in listing
    csv_text = await (await web.get("/desk/cases.csv")).text()
    assert "2026-00001" not in csv_text
    page = await web.get("/desk/cases/2026-00001")
    assert page.status == 404
    missing = await web.get("/desk/cases/2026-09999")
    assert (await page.text()).replace("00001", "#") == (await missing.text()).replace("09999", "#")

    token = await csrf_of(web)
    resp = await web.post(
        "/desk/cases/2026-00001/reassign",
        data={"cell": GYANTSE_VILLAGE, "reason": "ours now", "csrf": token},
    )
    assert resp.status == 404
    case = await the_case(driver)
    assert case.cell_code == VILLAGE_AT_SAMZHUBZE and case.status == "assigned"
    async with driver.app.database.reader() as s:
        reasons = (
            await s.scalars(
                select(SecurityEvent.reason).where(SecurityEvent.actor == "desk:gyantse")
            )
        ).all()
    assert reasons == ["tr: not-yours (2026-00001)"]
    geo = await (await web.get("/desk/map/cells.geojson?level=township")).json()
    assert geo["features"] and all(
        f["properties"]["code"].startswith(GYANTSE) for f in geo["features"]
    )
    assert await (await web.get("/desk/map/pins.json")).json() == []


async def test_a_county_officer_acts_within_their_county_and_the_reporters_are_told(driver, web):
    await two_cases(driver)
    await join(driver, "dolma", "540202001001")
    await add(driver, "samzhubze", "county", SAMZHUBZE)
    await sign_in(web, "samzhubze")
    page = await (await web.get("/desk/cases/2026-00001")).text()
    assert "540202001001" in page  # a reassignment choice within the county
    resp = await web.post(
        "/desk/cases/2026-00001/reassign",
        data={"cell": "540202001001", "reason": "the site is in T01", "csrf": await csrf_of(web)},
    )
    assert resp.status == 200 and "案件已改派" in await resp.text()
    case = await the_case(driver)
    assert case.cell_code == "540202001001" and case.status == "assigned"
    await driver.deliver()
    assert any("2026-00001" in seen.text for seen in driver.received("dolma"))
    assert "2026-00001" in driver.received("alice")[-1].text  # told of the new cell
    outside = await web.post(
        "/desk/cases/2026-00002/reassign",
        data={"cell": GYANTSE_VILLAGE, "reason": "elsewhere", "csrf": await csrf_of(web)},
    )
    assert outside.status == 400 and "不在您的辖区内" in await outside.text()
    assert (await the_case(driver, "2026-00002")).cell_code == VILLAGE_AT_SAMZHUBZE


# --- the case page's actions --------------------------------------------------------------------


async def test_the_desk_messages_reporters_without_ever_showing_who_they_are(driver, web):
    await two_cases(driver)
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    resp = await web.post(
        "/desk/cases/2026-00001/message",
        data={"text": "Which gate of the site?", "csrf": await csrf_of(web)},
    )
    page = await resp.text()
    assert "消息正在发送给举报人" in page
    assert driver.chat_id("alice") not in page and "alice" not in page
    await driver.deliver()
    assert "A message from the environment bureau about case 2026-00001: Which gate" in (
        driver.received("alice")[-1].text
    )


async def test_a_note_stays_internal_and_a_duplicate_is_closed_into_its_twin(driver, web):
    await two_cases(driver)
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    before = await count(driver, OutboxMessage)
    await web.post(
        "/desk/cases/2026-00001/note",
        data={"text": "Called the site manager", "csrf": await csrf_of(web)},
    )
    assert await count(driver, OutboxMessage) == before
    page = await (await web.get("/desk/cases/2026-00001")).text()
    assert "Called the site manager" in page and "内部备注" in page

    short = await web.post(
        "/desk/cases/2026-00002/duplicate",
        data={"of": "2026-00001", "reason": "", "csrf": await csrf_of(web)},
    )
    assert short.status == 400 and "请至少写几个字" in await short.text()
    await web.post(
        "/desk/cases/2026-00002/duplicate",
        data={"of": "2026-00001", "reason": "same site", "csrf": await csrf_of(web)},
    )
    twin = await the_case(driver, "2026-00002")
    assert twin.status == "merged"
    assert (await the_case(driver)).reporter_count == 2
    kinds = [a for (a,) in await _audit(driver)]
    assert kinds[-2:] == ["desk-note", "desk-merge"]


async def test_a_viewer_looks_but_cannot_act(driver, web):
    await two_cases(driver)
    await add(driver, "guest", "viewer")
    await sign_in(web, "guest")
    page = await (await web.get("/desk/cases/2026-00001")).text()
    assert "您的账号无权处理该案件" in page and 'action="/desk/cases/2026-00001/note"' not in page
    resp = await web.post(
        "/desk/cases/2026-00001/note", data={"text": "let me", "csrf": await csrf_of(web)}
    )
    assert resp.status == 403 and "只读账号" in await resp.text()


# --- lists, exports, statistics, map -----------------------------------------------------------


async def test_filters_paging_and_the_csv_export(driver, web):
    await two_cases(driver)
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    noise = await (await web.get("/desk/cases?category=noise")).text()
    assert "2026-00002" in noise and "2026-00001" not in noise
    bad = await (await web.get("/desk/cases?since=yesterday")).text()
    assert "“yesterday”不是有效日期" in bad
    resp = await web.get("/desk/cases.csv?q=Generators")
    body = await resp.read()
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("number,created_at,status")
    assert len(lines) == 2 and lines[1].startswith("2026-00002,")


async def test_statistics_report_and_map_read_the_same_cases(driver, web):
    await two_cases(driver)
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    stats = await (await web.get("/desk/stats.json")).json()
    assert stats["total"]["received"] == 2
    assert stats["by_county"][SAMZHUBZE]["received"] == 2
    assert set(stats["by_category"]) == {"air-construction", "noise"}
    page = await (await web.get("/desk/stats")).text()
    assert 'id="county-chart"' in page
    report_page = await (await web.get("/desk/report?period=2026")).text()
    assert "净土生态环境举报工作年报（2026 年）" in report_page
    assert "受理群众举报 2 件" in report_page
    bad = await web.get("/desk/report?period=last-year")
    assert bad.status == 400
    geo = await (await web.get("/desk/map/cells.geojson?level=county")).json()
    assert len(geo["features"]) == 18
    loaded = {f["properties"]["code"]: f["properties"]["open"] for f in geo["features"]}
    assert loaded[SAMZHUBZE] == 2 and sum(loaded.values()) == 2
    # Every cell at once: each case counts once at every level of its chain.
    everything = await (await web.get("/desk/map/cells.geojson?level=all")).json()
    assert len(everything["features"]) == len(driver.app.grid_index)
    by_level: dict[str, int] = {}
    for f in everything["features"]:
        level = f["properties"]["level"]
        by_level[level] = by_level.get(level, 0) + f["properties"]["open"]
    assert by_level == {"city": 2, "county": 2, "township": 2, "village": 2}
    pins = await (await web.get("/desk/map/pins.json")).json()
    assert sorted(p["number"] for p in pins) == ["2026-00001", "2026-00002"]
    assert (await web.get("/desk/map/cells.geojson?level=galaxy")).status == 400


async def test_statistics_work_out_the_median_hours_to_acknowledge_and_to_resolve(driver, web):
    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await driver.deliver()
    driver.app.clock.advance(hours=2, minutes=30)
    await driver.press("tashi", "Acknowledge")
    driver.app.clock.advance(hours=4)
    await driver.press("tashi", "Resolve")
    await driver.text("tashi", "Covered the sand heaps")
    await driver.press("tashi", "Skip")
    await report(driver, "bob", **NOISE)  # received, never acknowledged
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    total = (await (await web.get("/desk/stats.json")).json())["total"]
    assert (total["received"], total["acknowledged"], total["resolved"]) == (2, 1, 1)
    assert (total["median_ack_hours"], total["median_resolve_hours"]) == (2.5, 6.5)


async def test_data_routes_answer_401_without_a_session(web):
    for path in ("/desk/map/pins.json", "/desk/stats.json", "/desk/cases.csv"):
        assert (await web.get(path)).status == 401


# --- supervisors and campaigns -------------------------------------------------------------------


async def test_a_revoked_invite_binds_nobody(driver, web):
    code = await invite_code(driver, VILLAGE_AT_SAMZHUBZE, "Pema")
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    page = await (await web.get("/desk/supervisors")).text()
    assert "Pema" in page and "待使用" in page
    invite_id = re.search(r'action="/desk/invites/(\d+)/revoke"', page)
    assert invite_id is not None
    resp = await web.post(
        f"/desk/invites/{invite_id.group(1)}/revoke", data={"csrf": await csrf_of(web)}
    )
    assert "邀请码已撤销" in await resp.text()
    await driver.text("pema", "/start")
    await driver.press("pema", "English")
    seen = await driver.text("pema", f"/join {code}")
    assert "The bureau has revoked that invitation code" in seen[0].text


async def test_campaign_schedules_are_created_and_cancelled_by_an_admin(driver, web):
    await add(driver, "wangfang", "admin")
    await sign_in(web, "wangfang")
    page = await (await web.get("/desk/campaigns")).text()
    assert "weekly-digest" in page
    token = await csrf_of(web, "/desk/campaigns")
    both = await web.post(
        "/desk/campaigns/schedules",
        data={
            "campaign": "weekly-digest",
            "cron": "0 10 * * 1",
            "run_at": "2026-12-01T10:00",
            "csrf": token,
        },
    )
    assert "二者选一" in await both.text()
    done = await web.post(
        "/desk/campaigns/schedules",
        data={"campaign": "weekly-digest", "cron": "0 10 * * 1", "csrf": token},
    )
    text = await done.text()
    assert "发送计划已添加" in text
    schedule_id = re.search(r'action="/desk/campaigns/schedules/(\d+)/cancel"', text)
    assert schedule_id is not None
    cancelled = await web.post(
        f"/desk/campaigns/schedules/{schedule_id.group(1)}/cancel", data={"csrf": token}
    )
    assert "发送计划已取消" in await cancelled.text()
    runs = await (await web.get("/desk/campaigns/runs.json")).json()
    assert runs == []


# --- the operator's CLI reads the same ----------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_cli_lists_shows_exports_and_counts_the_same_cases(
    driver, settings, monkeypatch, capsys, tmp_path
):
    await two_cases(driver)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)

    async def cli(*argv: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = await cli("cases", "list", "--status", "open", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["total"] == 2 and {c["number"] for c in listed["cases"]} == {
        "2026-00001",
        "2026-00002",
    }
    code, out, _ = await cli("cases", "list", "--cell", GYANTSE)
    assert out.startswith("0 cases")
    code, _, err = await cli("cases", "list", "--since", "tomorrow")
    assert code == 2 and "'tomorrow' is not a date like 2026-11-30" in err
    code, out, _ = await cli("cases", "show", "2026-00001")
    assert code == 0 and "identities withheld" in out and driver.chat_id("alice") not in out
    code, _, err = await cli("cases", "show", "2026-09999")
    assert code == 1 and "no case 2026-09999" in err
    target = tmp_path / "cases.csv"
    code, out, _ = await cli("cases", "export", "--csv", str(target))
    assert code == 0 and target.read_bytes().startswith("\ufeff".encode())
    code, out, _ = await cli("stats", "--since", "2026-11-01", "--until", "2026-12-31", "--json")
    assert json.loads(out)["total"]["received"] == 2
    code, out, _ = await cli("supervisors", "list", "--cell", VILLAGE_AT_SAMZHUBZE, "--json")
    rows = json.loads(out)
    assert [r["source"] for r in rows].count("invite") == 1
    code, _, err = await cli("supervisors", "list", "--cell", "nowhere")
    assert code == 2 and "no grid cell 'nowhere'" in err
    bound = next(r for r in rows if r["source"] == "invite")
    code, out, _ = await cli("supervisors", "remove", str(bound["id"]))
    assert code == 0 and "removed" in out
    code, _, err = await cli("supervisors", "remove", str(bound["id"]))
    assert code == 1 and f"no supervisor #{bound['id']}" in err

    invite = await invite_code(driver, VILLAGE_AT_SAMZHUBZE)
    code, out, _ = await cli("invite", "list", "--json")
    assert [i["state"] for i in json.loads(out)] == ["pending", "used"]
    code, out, _ = await cli("invite", "revoke", invite)
    assert code == 0 and "revoked" in out
    code, _, err = await cli("invite", "revoke", invite)
    assert code == 1 and "the invite is revoked, not pending" in err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_cli_manages_staff_accounts(driver, settings, monkeypatch, capsys, web):
    import io

    monkeypatch.setenv("DATABASE_URL", settings.database_url)

    async def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = await cli(
        "staff", "add", "li", "--role", "county", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 1 and "needs --cell CODE" in err
    code, _, err = await cli(
        "staff", "add", "li", "--role", "admin", "--password-stdin", stdin="short\n"
    )
    assert code == 1 and "10 to 200 characters" in err
    code, out, _ = await cli(
        "staff",
        "add",
        "li",
        "--role",
        "county",
        "--cell",
        SAMZHUBZE,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0 and "county for the subtree of 540202" in out
    code, out, _ = await cli("staff", "list", "--json")
    assert json.loads(out)[0] | {"created_at": ""} == {
        "name": "li",
        "role": "county",
        "cell": SAMZHUBZE,
        "disabled": False,
        "created_at": "",
    }
    status, _ = await sign_in(web, "li")
    assert status == 200
    code, _, _ = await cli(
        "staff", "password", "li", "--password-stdin", stdin="another long password\n"
    )
    assert code == 0
    assert (await web.get("/desk/cases", allow_redirects=False)).status == 303  # session ended
    assert (await sign_in(web, "li", "another long password"))[0] == 200
    code, out, _ = await cli("staff", "disable", "li")
    assert code == 0
    assert (await sign_in(web, "li", "another long password"))[0] == 401
    code, _, err = await cli("staff", "disable", "nobody")
    assert code == 1 and "no staff account 'nobody'" in err

"""The desk in a real browser: headless Debian chromium, driven by Playwright's Python package.

Signs in, sees the map draw the grid and the pins, filters the case list, opens a case and
reassigns it, and sees the statistics chart rendered. The README's screenshots are taken here:
`JINGTU_SCREENSHOTS=docs/screenshots` writes them there; otherwise they go to the test's temporary
directory, so a test run leaves the tree as it was. Without chromium the test skips with the reason, except under CI=true, where
it fails: .ci/run installs Debian's chromium.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.services import staff
from bot.web.server import build_web_app
from tests.conftest import UNDER_CI
from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report
from tests.e2e.test_supervision_flows import NOISE, join, the_case

pytestmark = [
    pytest.mark.parametrize("channel", ["console"], indirect=True),
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _browser_or_skip() -> None:
    reason = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        reason = "the playwright package is not installed (pip install -e '.[dev]')"
    if reason is None and not Path(CHROMIUM).exists():
        reason = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
    if reason is not None:
        if UNDER_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


async def test_staff_sign_in_see_the_map_reassign_a_case_and_see_the_chart(driver, tmp_path):
    _browser_or_skip()
    from playwright.async_api import async_playwright

    await join(driver, "tashi", VILLAGE_AT_SAMZHUBZE)
    await report(driver, "alice")
    await report(driver, "bob", **NOISE)
    await report(driver, "carol", where=(29.09, 89.60), description="Smoke from burning rubbish")
    await driver.deliver()
    await staff.add_staff(
        driver.app.database,
        name="wangfang",
        role="admin",
        cell_code=None,
        password="correct horse battery",
        now=driver.app.clock(),
    )
    server = TestServer(
        build_web_app([driver.app.desk.add_routes], health=driver.app.health().handle)
    )
    await server.start_server()
    base = str(server.make_url("/desk"))
    wanted = os.environ.get("JINGTU_SCREENSHOTS")
    screenshots = ROOT / wanted if wanted else tmp_path
    screenshots.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = await browser.new_page(viewport={"width": 1100, "height": 720})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{base}/login")
            await page.fill("input[name=name]", "wangfang")
            await page.fill("input[name=password]", "correct horse battery")
            await page.click("button[type=submit]")
            await page.wait_for_selector("#case-list")

            await page.goto(f"{base}/map")
            await page.wait_for_selector("#map[data-cells][data-pins]")
            assert await page.get_attribute("#map", "data-cells") == "18"
            assert await page.get_attribute("#map", "data-pins") == "3"
            # The cells are drawn on a canvas (1,687 villages would be slow as SVG paths).
            assert await page.locator(".leaflet-overlay-pane canvas").count() == 1
            assert await page.locator(".marker-cluster, .leaflet-marker-icon").count() >= 1
            await page.screenshot(path=str(screenshots / "map.png"))

            await page.goto(f"{base}/cases")
            await page.select_option("select[name=category]", "noise")
            await page.click("#filters button[type=submit]")
            await page.wait_for_url("**category=noise**")
            rows = await page.locator("#case-list tbody tr").all_inner_texts()
            assert len(rows) == 1 and "2026-00002" in rows[0]
            await page.click("text=2026-00002")
            await page.wait_for_selector("#reassign")
            await page.select_option("#reassign select[name=cell]", "540202001001")
            await page.fill("#reassign input[name=reason]", "the generators are in T01")
            await page.click("#reassign button[type=submit]")
            await page.wait_for_selector(".done")
            assert "540202001001" in await page.inner_text("#case-cell")
            await page.screenshot(path=str(screenshots / "case.png"), full_page=True)

            await page.goto(f"{base}/stats?since=2026-11-01&until=2026-11-30")
            await page.wait_for_selector("#county-chart[data-rendered='3']")
            await page.screenshot(path=str(screenshots / "statistics.png"))
            await browser.close()
            assert errors == []
    finally:
        await server.close()
    assert (await the_case(driver, "2026-00002")).cell_code == "540202001001"

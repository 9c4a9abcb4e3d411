"""What an operator watches and meets: /healthz, /metrics, and `run` when things are away."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Jingtu
from bot.config import ConfigError, Settings
from bot.services import open311
from bot.storage.db import Database
from bot.web.health import Health
from bot.web.server import build_web_app
from tests.fakes.telegram_api import FakeBotApi
from tests.support.clock import FakeClock
from tests.support.drivers import ConsoleDriver
from tests.support.telegram_driver import telegram_settings

ROOT = Path(__file__).resolve().parents[2]
NOBODY_LISTENS = "postgresql+asyncpg://postgres@127.0.0.1:9/jingtu"  # the discard port
VILLAGE_AT_SAMZHUBZE = "540202006005"


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[Jingtu]:
    jingtu = Jingtu(replace(settings, web_port=0), clock=clock)
    await jingtu.start(web_server=True, background=False)
    try:
        yield jingtu
    finally:
        await jingtu.stop()


async def fetch(app: Jingtu, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{app.web_port}{path}") as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def report_by_chat(console: ConsoleDriver) -> None:
    await console.text("alice", "/start")
    await console.press("alice", "English")
    await console.text("alice", "/report")
    await console.press("alice", "Air")
    await console.press("alice", "Construction dust")
    await console.text("alice", "Dust from the building site by the river all day")
    await console.press("alice", "Skip")
    await console.location("alice", 29.267, 88.881)
    await console.press("alice", "Stay anonymous")
    await console.press("alice", "Submit")


# --- /healthz -----------------------------------------------------------------------------------


async def test_healthz_reports_the_database_the_scheduler_the_outbox_and_the_last_sweep(
    app: Jingtu, clock: FakeClock
):
    status, _, body = await fetch(app, "/healthz")
    assert status == 200
    health = json.loads(body)
    assert health["ok"] is True
    assert health["database"] == {"reachable": True}
    assert health["scheduler"] == {"alive": False}  # started without background work
    assert health["outbox"] == {"depth": 0, "lag_seconds": 0.0}
    assert health["last_sweep"] is None
    assert health["cells"] == 1910

    console = ConsoleDriver(app, app.attach_console())
    await console.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    await report_by_chat(console)
    clock.advance(seconds=30)
    sweep = next(job for job in app.periodic_jobs if job.name == "deadline-sweep")
    await sweep.run()

    health = json.loads((await fetch(app, "/healthz"))[2])
    assert health["outbox"]["depth"] >= 1  # the supervisor's card, not yet drained
    assert health["outbox"]["lag_seconds"] == 30.0
    assert health["last_sweep"]["finished_at"] == clock().isoformat(timespec="seconds")
    assert health["last_sweep"]["seconds"] >= 0


async def test_healthz_is_503_when_the_database_does_not_answer(clock: FakeClock):
    database = Database.from_url(NOBODY_LISTENS)
    health = Health(database, clock, scheduler_alive=lambda: True, last_sweep=lambda: None)
    try:
        async with TestClient(TestServer(build_web_app([], health=health.handle))) as client:
            response = await client.get("/healthz")
            body = await response.json()
    finally:
        await database.dispose()
    assert response.status == 503
    assert body["ok"] is False and body["database"]["reachable"] is False
    assert "outbox" not in body
    assert body["database"]["error"]  # what went wrong, in one line
    assert "\n" not in body["database"]["error"]


# --- /metrics -----------------------------------------------------------------------------------


async def test_metrics_count_updates_reports_cases_outbox_and_sweeps(app: Jingtu, clock: FakeClock):
    console = ConsoleDriver(app, app.attach_console())
    await console.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    await report_by_chat(console)
    key = await open311.add_key(app.database, "partner", now=clock())
    async with aiohttp.ClientSession() as session:
        form = {
            "api_key": key,
            "service_code": "noise",
            "lat": "29.267",
            "long": "88.881",
            "description": "Loud generator running all night",
        }
        url = f"http://127.0.0.1:{app.web_port}/open311/v2/requests.json"
        async with session.post(url, data=form) as response:
            assert response.status == 200
    sweep = next(job for job in app.periodic_jobs if job.name == "deadline-sweep")
    await sweep.run()

    status, content_type, body = await fetch(app, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain") and "version=" in content_type
    found = samples(body)
    handled = found[("jingtu_inbound_updates_total", (("channel", "console"),))]
    assert handled == 11  # /help from bind_supervisor, and the ten steps of the report
    assert found[("jingtu_database_up", ())] == 1
    assert found[("jingtu_cases", (("status", "assigned"),))] == 2
    assert found[("jingtu_reports_total", ())] == 2
    assert found[("jingtu_outbox_depth", ())] >= 2  # a card for each case, not yet drained
    assert ("jingtu_outbox_lag_seconds", ()) in found
    assert found[("jingtu_outbox_messages", (("status", "pending"),))] >= 2
    assert found[("jingtu_sweep_duration_seconds_count", ())] == 1
    assert found[("jingtu_sweep_escalations_total", ())] == 0

    await console.deliver()
    found = samples((await fetch(app, "/metrics"))[2])
    assert found[("jingtu_outbox_depth", ())] == 0
    assert found[("jingtu_outbox_messages", (("status", "sent"),))] >= 2


async def test_two_apps_keep_separate_registries(settings: Settings, clock: FakeClock):
    # No global state at import: each app builds its own registry.
    first, second = Jingtu(settings, clock=clock), Jingtu(settings, clock=clock)
    try:
        assert first.metrics.registry is not second.metrics.registry
    finally:
        await first.database.dispose()
        await second.database.dispose()


# --- startup ------------------------------------------------------------------------------------


def run_bot(database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": database_url, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (NOBODY_LISTENS, "127.0.0.1:9"),
        ("sqlite+aiosqlite:////nonexistent-dir/jingtu.db", "unable to open database file"),
    ],
)
def test_run_against_an_unreachable_database_prints_one_line_and_fails(
    backend: str, url: str, says: str, tmp_path: Path
):
    result = run_bot(url, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cannot reach the database at ")
    assert says in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


async def test_run_retries_the_bot_api_with_backoff_until_it_answers(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)  # the backoff is asked for; the test need not sit through it

    async with FakeBotApi() as api:
        api.fail_next("getMe", error_code=502, times=3)
        app = Jingtu(telegram_settings(settings, api), clock=clock, sleep=no_wait)
        app.attach_telegram()
        with caplog.at_level(logging.WARNING, logger="bot.channels.telegram"):
            await app.start(background=False)
        try:
            assert [name for name, _ in api.calls].count("getMe") == 4
            assert waits == [1.0, 2.0, 4.0]
            attempts = [r.getMessage() for r in caplog.records if "Bot API" in r.getMessage()]
            assert len(attempts) == 3
            assert attempts[0].startswith(f"cannot reach the Bot API at {api.base_url}")
            assert "attempt 1" in attempts[0] and "retrying in 1 s" in attempts[0]
            assert api.token not in "\n".join(attempts)
            assert app.telegram is not None and app.telegram.application.running
        finally:
            await app.stop()


async def test_a_refused_token_is_a_configuration_error_not_a_retry(
    settings: Settings, clock: FakeClock
):
    async with FakeBotApi() as api:
        wrong = replace(telegram_settings(settings, api), telegram_bot_token="123:wrong")
        app = Jingtu(wrong, clock=clock)
        app.attach_telegram()
        try:
            with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN was refused"):
                await app.start(background=False)
        finally:
            await app.stop()

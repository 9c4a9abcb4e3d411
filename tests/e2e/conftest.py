"""End-to-end fixtures: Jingtu on the sample grid, driven through each channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.app import Jingtu
from bot.config import Settings
from tests.support.clock import FakeClock
from tests.support.drivers import ConsoleDriver, Driver

# WeChat (the `driver` fixture knows it too) is not in the default list: its customer-service
# API reaches only people who wrote in the last 48 hours, so scenarios that let days pass
# (follow-ups, escalation) cannot hold there. Modules opt in with `pytestmark`, as
# test_report_flows.py does.
CHANNELS = ["console", "telegram"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(sample_database_url: str) -> Settings:
    return replace(Settings(), database_url=sample_database_url)


@pytest.fixture(params=CHANNELS)
def channel(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def driver(channel: str, settings: Settings, clock: FakeClock) -> AsyncIterator[Driver]:
    if channel == "console":
        app = Jingtu(settings, clock=clock)
        console = app.attach_console()
        await app.start(background=False)
        try:
            yield ConsoleDriver(app, console)
        finally:
            await app.stop()
        return
    if channel == "wechat":
        from tests.support.wechat_driver import wechat_driver

        async with wechat_driver(settings, clock) as wx:
            yield wx
        return
    from tests.support.telegram_driver import telegram_driver

    async with telegram_driver(settings, clock) as tg:
        yield tg

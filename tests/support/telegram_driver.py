"""The Telegram side of the drivers: Jingtu's real PTB adapter against the fake Bot API server."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from telegram import Update

from bot.app import Jingtu
from bot.channels.telegram import TelegramChannel
from bot.config import Settings
from tests.fakes.telegram_api import FakeBotApi
from tests.support.clock import FakeClock
from tests.support.drivers import Driver, Seen
from tests.support.handled import HandledCounter, handled


def seen_from_message(message: dict[str, Any]) -> Seen:
    markup = message.get("reply_markup") or {}
    if isinstance(markup, str):
        import json

        markup = json.loads(markup)
    buttons = [
        (b["text"], b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]
    location = message.get("location")
    photos = message.get("photo") or []
    return Seen(
        text=message.get("text") or message.get("caption") or "",
        buttons=buttons,
        location=(location["latitude"], location["longitude"]) if location else None,
        photos=[photos[-1]["file_id"]] if photos else [],
    )


class TelegramDriver(Driver):
    channel = "telegram"

    def __init__(self, api: FakeBotApi, app: Jingtu, clock: FakeClock) -> None:
        self.api = api
        self.app = app
        self.clock = clock
        self.user_ids: dict[str, int] = {}
        self.pushed = 0
        self.last_update: dict[str, dict[str, Any]] = {}

    def uid(self, user: str) -> int:
        return self.user_ids.setdefault(user, 70_000 + len(self.user_ids))

    def chat_id(self, user: str) -> str:
        return str(self.uid(user))

    def received(self, user: str) -> list[Seen]:
        return [seen_from_message(m) for m in self.api.sent_to(self.uid(user))]

    async def _after(self, user: str, update: dict[str, Any]) -> list[Seen]:
        before = len(self.api.sent_to(self.uid(user)))
        self.last_update[user] = copy.deepcopy(update)
        self.pushed += 1
        await handled(self.app).wait(self.pushed)
        return self.received(user)[before:]

    async def text(self, user: str, text: str) -> list[Seen]:
        return await self._after(user, self.api.user_text(self.uid(user), text, first_name=user))

    async def press(self, user: str, label: str) -> list[Seen]:
        _, data = self.find_button(user, label)
        return await self._after(
            user, self.api.user_callback(self.uid(user), data, first_name=user)
        )

    async def forge_callback(self, user: str, data: str) -> list[Seen]:
        return await self._after(
            user, self.api.user_callback(self.uid(user), data, first_name=user)
        )

    async def location(self, user: str, lat: float, lon: float) -> list[Seen]:
        return await self._after(
            user, self.api.user_location(self.uid(user), lat, lon, first_name=user)
        )

    async def photo(self, user: str, ref: str) -> list[Seen]:
        return await self._after(
            user, self.api.user_photo(self.uid(user), file_id=ref, first_name=user)
        )

    async def redeliver_last(self, user: str) -> None:
        # What the updater does with an update Telegram sends again (after a crash before the
        # offset was confirmed): the very same update goes through the application once more.
        channel = self.app.telegram
        assert isinstance(channel, TelegramChannel)
        update = Update.de_json(copy.deepcopy(self.last_update[user]), channel.application.bot)
        count = handled(self.app).count
        await channel.application.process_update(update)
        await handled(self.app).wait(count + 1)

    async def restart(self) -> Driver:
        await self.app.stop()
        self.app = await start_app(self.app.settings, self.clock)
        self.pushed = 0
        return self


def telegram_settings(settings: Settings, api: FakeBotApi) -> Settings:
    return replace(
        settings,
        telegram_bot_token=api.token,
        telegram_base_url=api.base_url,
        telegram_base_file_url=api.base_file_url,
        telegram_mode="polling",
    )


async def start_app(settings: Settings, clock: FakeClock) -> Jingtu:
    app = Jingtu(settings, clock=clock, on_handled=HandledCounter())
    app.attach_telegram()
    await app.start(background=False)
    return app


@asynccontextmanager
async def telegram_driver(settings: Settings, clock: FakeClock) -> AsyncIterator[TelegramDriver]:
    async with FakeBotApi() as api:
        app = await start_app(telegram_settings(settings, api), clock)
        driver = TelegramDriver(api, app, clock)
        try:
            yield driver
        finally:
            await driver.app.stop()


SECRET = "s3cret-webhook-token_0123456789"


async def webhook_app(settings: Settings, api: FakeBotApi, clock: FakeClock) -> Jingtu:
    hooked = replace(
        telegram_settings(settings, api),
        telegram_mode="webhook",
        telegram_webhook_secret=SECRET,
        telegram_webhook_url="https://jingtu.example.org/telegram/webhook",
        web_port=0,
    )
    app = Jingtu(hooked, clock=clock, on_handled=HandledCounter())
    app.attach_telegram()
    await app.start(web_server=True, background=False)
    return app

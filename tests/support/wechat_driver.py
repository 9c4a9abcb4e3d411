"""The WeChat side of the drivers: Jingtu's WeChat channel against the fake WeChat server.

Scenarios speak WGS-84 (as Telegram does); the driver sends what a WeChat client would, GCJ-02,
and reads locations back into WGS-84, so the same assertions hold on every channel.

WeChat gives an account no names (only OpenIDs), so a person is named by their OpenID where
Telegram would show a first name. The driver puts the scenario's user name into the OpenID
("oJingtu_alice"), which keeps scenarios that check who is named meaningful on WeChat.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from bot.app import Jingtu
from bot.channels.wechat import WEBHOOK_PATH
from bot.config import Settings
from bot.domain.geo import gcj02_to_wgs84, wgs84_to_gcj02
from tests.fakes.wechat_server import DEFAULT_AES_KEY, FakeWeChat, WebhookAnswer
from tests.support.clock import FakeClock
from tests.support.drivers import Driver, Seen
from tests.support.handled import HandledCounter, handled

_LOCATION_RE = re.compile(r"📍 (-?\d+\.\d+),(-?\d+\.\d+)")


def seen_from_message(message: dict[str, Any]) -> Seen:
    """A recorded customer-service message in channel-neutral form."""
    kind = message.get("msgtype")
    if kind == "image":
        return Seen(photos=[message["image"]["media_id"]])
    if kind == "msgmenu":
        menu = message["msgmenu"]
        text = "\n".join(p for p in (menu.get("head_content"), menu.get("tail_content")) if p)
        buttons = [(item["content"], item["id"]) for item in menu["list"]]
    else:
        text = message.get("text", {}).get("content", "")
        buttons = []
    location = None
    if found := _LOCATION_RE.search(text):
        point = gcj02_to_wgs84(float(found[1]), float(found[2]))
        location = (point.lat, point.lon)
    return Seen(text=text, buttons=buttons, location=location)


class WeChatDriver(Driver):
    channel = "wechat"

    def __init__(self, fake: FakeWeChat, app: Jingtu, clock: FakeClock) -> None:
        self.fake = fake
        self.app = app
        self.clock = clock

    def openid(self, user: str) -> str:
        return f"oJingtu_{user}"[:64]

    def chat_id(self, user: str) -> str:
        return self.openid(user)

    def received(self, user: str) -> list[Seen]:
        return [seen_from_message(m) for m in self.fake.sent_to(self.openid(user))]

    async def _after(self, user: str, action: Awaitable[WebhookAnswer]) -> list[Seen]:
        """Do the user's action and wait until Jingtu has handled it and sent its replies."""
        before = len(self.fake.sent_to(self.openid(user)))
        count = handled(self.app).count
        answer = await action
        assert (answer.status, answer.text) == (200, "success"), answer
        # The webhook answered at once; the reply is sent by the time the event counts handled.
        await handled(self.app).wait(count + 1)
        return self.received(user)[before:]

    async def text(self, user: str, text: str) -> list[Seen]:
        return await self._after(user, self.fake.user_text(self.openid(user), text))

    async def press(self, user: str, label: str) -> list[Seen]:
        shown, data = self.find_button(user, label)
        return await self._after(user, self.fake.user_menu_choice(self.openid(user), data, shown))

    async def forge_callback(self, user: str, data: str) -> list[Seen]:
        return await self._after(user, self.fake.user_menu_choice(self.openid(user), data, data))

    async def location(self, user: str, lat: float, lon: float) -> list[Seen]:
        point = wgs84_to_gcj02(lat, lon)  # what a WeChat client sends for this WGS-84 place
        return await self._after(
            user, self.fake.user_location(self.openid(user), point.lat, point.lon)
        )

    async def photo(self, user: str, ref: str) -> list[Seen]:
        return await self._after(user, self.fake.user_image(self.openid(user), ref))

    async def voice(self, user: str, media_id: str, recognition: str | None) -> list[Seen]:
        voice = self.fake.user_voice(self.openid(user), media_id, recognition=recognition)
        return await self._after(user, voice)

    async def click(self, user: str, key: str) -> list[Seen]:
        """A tap on the custom menu's CLICK button with this key."""
        return await self._after(user, self.fake.user_click(self.openid(user), key))

    def templates(self, user: str) -> list[dict[str, Any]]:
        """The template messages the user received (template/send bodies)."""
        return self.fake.templates_to(self.openid(user))

    async def subscribe(self, user: str, *, scene: str | None = None) -> list[Seen]:
        return await self._after(user, self.fake.user_subscribe(self.openid(user), scene=scene))

    async def redeliver_last(self, user: str) -> None:
        await self._after(user, self.fake.redeliver_last(self.openid(user)))

    async def restart(self) -> Driver:
        await self.app.stop()
        self.app = await start_app(self.app.settings, self.clock, self.fake)
        return self


def wechat_settings(settings: Settings, fake: FakeWeChat) -> Settings:
    return replace(
        settings,
        telegram_bot_token="",
        wechat_token=fake.token,
        wechat_app_id=fake.app_id,
        wechat_app_secret=fake.app_secret,
        wechat_aes_key=fake.aes_key,
        wechat_api_base_url=fake.base_url,
        web_port=0,
    )


async def start_app(settings: Settings, clock: FakeClock, fake: FakeWeChat) -> Jingtu:
    app = Jingtu(settings, clock=clock, on_handled=HandledCounter())
    app.attach_wechat()
    await app.start(web_server=True, background=False)
    fake.connect(f"http://127.0.0.1:{app.web_port}{WEBHOOK_PATH}")
    return app


@asynccontextmanager
async def wechat_driver(
    settings: Settings, clock: FakeClock, *, safe_mode: bool = True, **fake_options: Any
) -> AsyncIterator[WeChatDriver]:
    """Jingtu on WeChat, in safe mode (encrypted) unless asked for plaintext."""
    aes_key = DEFAULT_AES_KEY if safe_mode else ""
    async with FakeWeChat(aes_key=aes_key, clock=clock, **fake_options) as fake:
        app = await start_app(wechat_settings(settings, fake), clock, fake)
        driver = WeChatDriver(fake, app, clock)
        try:
            yield driver
        finally:
            await driver.app.stop()

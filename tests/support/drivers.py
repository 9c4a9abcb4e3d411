"""Drive Jingtu as people would, through a real channel adapter, with one vocabulary.

The same scenario runs through the console channel, through the Telegram adapter talking to a
fake Bot API server over HTTP and through the WeChat adapter talking to a fake WeChat server, so
every channel is held to the same behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select, update

from bot.app import Jingtu
from bot.channels.console import ConsoleChannel
from bot.storage.models import Person, Supervisor, SupervisorCell
from handlers.contract import Inbound


@dataclass
class Seen:
    """One message a person received, in channel-neutral form."""

    text: str = ""
    buttons: list[tuple[str, str]] = field(default_factory=list)
    location: tuple[float, float] | None = None
    photos: list[str] = field(default_factory=list)


class Driver:
    channel: str
    app: Jingtu

    async def text(self, user: str, text: str) -> list[Seen]:
        raise NotImplementedError

    async def press(self, user: str, label: str) -> list[Seen]:
        raise NotImplementedError

    async def location(self, user: str, lat: float, lon: float) -> list[Seen]:
        raise NotImplementedError

    async def photo(self, user: str, ref: str) -> list[Seen]:
        raise NotImplementedError

    def received(self, user: str) -> list[Seen]:
        raise NotImplementedError

    def chat_id(self, user: str) -> str:
        raise NotImplementedError

    async def restart(self) -> Driver:
        """Stop Jingtu and start a new process-equivalent on the same database."""
        raise NotImplementedError

    async def redeliver_last(self, user: str) -> None:
        """The platform delivers the user's last update again."""
        raise NotImplementedError

    async def forge_callback(self, user: str, data: str) -> list[Seen]:
        """A button press with data Jingtu never offered."""
        raise NotImplementedError

    async def deliver(self) -> None:
        """Send whatever the outbox holds (notifications to other people)."""
        await self.app.dispatcher.drain_until_empty()

    def find_button(self, user: str, label: str) -> tuple[str, str]:
        for seen in reversed(self.received(user)):
            for button in seen.buttons:
                if label in button[0]:
                    return button
        shown = [b[0] for s in self.received(user)[-3:] for b in s.buttons]
        raise AssertionError(f"{user} has no button {label!r}; recent buttons: {shown}")

    async def person_id(self, user: str) -> int:
        async with self.app.database.reader() as s:
            person = (
                await s.scalars(
                    select(Person).where(
                        Person.channel == self.channel, Person.chat_id == self.chat_id(user)
                    )
                )
            ).one()
            return person.id

    async def bind_supervisor(self, user: str, cell_code: str) -> None:
        """Make `user` the (only) supervisor of the cell, reachable on this channel."""
        await self.text(user, "/help")  # the person exists once they have written
        person_id = await self.person_id(user)
        async with self.app.database.transaction() as s:
            supervisor_ids = (
                await s.scalars(
                    select(SupervisorCell.supervisor_id).where(
                        SupervisorCell.cell_code == cell_code
                    )
                )
            ).all()
            assert supervisor_ids, f"cell {cell_code} has no supervisor in the roster"
            values: dict[str, Any] = {"person_id": person_id}
            if self.channel == "telegram":
                # The roster path: a supervisor whose roster entry names a Telegram chat.
                values = {"telegram_chat_id": self.chat_id(user)}
            await s.execute(
                update(Supervisor).where(Supervisor.id.in_(supervisor_ids)).values(**values)
            )


class ConsoleDriver(Driver):
    channel = "console"

    def __init__(self, app: Jingtu, console: ConsoleChannel) -> None:
        self.app = app
        self.console = console
        self.last_inbound: dict[str, Inbound] = {}

    def chat_id(self, user: str) -> str:
        return self.console.chat_of(user)

    def received(self, user: str) -> list[Seen]:
        return [
            Seen(
                text=r.text,
                buttons=[(b.label, b.data) for row in r.buttons for b in row],
                location=(r.location.lat, r.location.lon) if r.location else None,
                photos=list(r.photos),
            )
            for r in self.console.screen(user).replies
        ]

    async def _process(self, user: str, inbound: Inbound) -> list[Seen]:
        before = len(self.console.screen(user).replies)
        self.last_inbound[user] = inbound
        await self.console.process(inbound)
        return self.received(user)[before:]

    async def _say(self, user: str, line: str) -> list[Seen]:
        return await self._process(user, self.console.to_inbound(line, user))

    async def restart(self) -> Driver:
        sender = self.console.sender  # the terminal still shows what it showed
        await self.app.stop()
        app = Jingtu(self.app.settings, clock=self.app.clock)
        console = app.attach_console(sender)
        await app.start(background=False)
        self.app, self.console = app, console
        return self

    async def redeliver_last(self, user: str) -> None:
        await self.console.process(self.last_inbound[user])

    async def forge_callback(self, user: str, data: str) -> list[Seen]:
        inbound = self.console.to_inbound("", user)
        return await self._process(user, replace(inbound, text=None, callback=data))

    async def text(self, user: str, text: str) -> list[Seen]:
        return await self._say(user, text)

    async def press(self, user: str, label: str) -> list[Seen]:
        _, data = self.find_button(user, label)
        screen = self.console.screen(user)
        numbers = [d for _, d in screen.buttons]
        if data in numbers:
            return await self._say(user, str(numbers.index(data) + 1))
        raise AssertionError(f"button {label!r} is not among the buttons currently offered")

    async def location(self, user: str, lat: float, lon: float) -> list[Seen]:
        return await self._say(user, f"{lat},{lon}")

    async def photo(self, user: str, ref: str) -> list[Seen]:
        return await self._say(user, f"photo:{ref}")

"""The console channel: the same conversations in a terminal, for demos and end-to-end tests.

Buttons are shown as numbered choices (type the number); a location is typed as `lat,lon`;
`photo:NAME` stands for sending a photo; `/as NAME` speaks as another person, so a demo can show a
resident and a supervisor side by side.

Persona names are ASCII (letters, digits, ``. - _``, at most 32), so the chat id
``console:NAME`` and every update id keep to the rule all channels' ids follow
(`bot.channels.inbound_ids`); a line for a persona outside it is refused, not processed.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from bot.channels.inbound_ids import BadId, external_id
from bot.delivery.outbox import Parts, PermanentFailure
from bot.storage.media_store import MediaUnavailable
from handlers.contract import Inbound, Reply

CHANNEL = "console"
_PERSONA_RE = re.compile(r"[\w.-]{1,32}", re.ASCII)
MAX_PHOTO_REF = 256  # case_photos.file_ref


@dataclass
class ConsoleScreen:
    """What one persona has seen, and the buttons currently offered to them."""

    lines: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)


class ConsoleSender:
    """Outbox sender for console chats: renders into each persona's screen (and a terminal)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out
        self.screens: dict[str, ConsoleScreen] = defaultdict(ConsoleScreen)
        self.closed: set[str] = set()  # personas that "blocked the bot" (for tests)

    async def send(self, chat_id: str, payload: dict[str, Any], parts: Parts | None = None) -> None:
        """A console reply is one part: it is shown whole or not at all."""
        await (parts or Parts()).run([lambda: self._show(chat_id, payload)])

    async def _show(self, chat_id: str, payload: dict[str, Any]) -> None:
        if chat_id in self.closed:
            raise PermanentFailure("console persona closed", unreachable=True)
        reply = Reply.from_payload(payload)
        screen = self.screens[chat_id]
        screen.replies.append(reply)
        rendered = render(reply)
        screen.lines.append(rendered)
        buttons = [(b.label, b.data) for row in reply.buttons for b in row]
        if buttons or reply.remove_keyboard or reply.request_location:
            screen.buttons = buttons
        if self.out is not None:
            name = chat_id.removeprefix("console:")
            for line in rendered.splitlines():
                self.out.write(f"[{name}] {line}\n")
            self.out.flush()


def render(reply: Reply) -> str:
    parts = [reply.text]
    if reply.location is not None:
        parts.append(
            f"📍 {reply.location.lat:.6f},{reply.location.lon:.6f} ({reply.location.datum})"
        )
    for photo in reply.photos:
        parts.append(f"🖼 {photo}")
    number = itertools.count(1)
    for row in reply.buttons:
        parts.append("   ".join(f"[{next(number)}] {b.label}" for b in row))
    if reply.request_location:
        parts.append(f"({reply.request_location}: type lat,lon)")
    return "\n".join(parts)


class ConsoleMedia:
    """The console's media port: a console photo is a name typed at the prompt, with no file."""

    async def fetch(self, file_ref: str, *, max_bytes: int) -> bytes:
        raise MediaUnavailable(
            "a console photo is only a name; there is no file to keep", final=True
        )


class ConsoleChannel:
    """Turns typed lines into Inbound events for the conversation service."""

    def __init__(
        self,
        process: Callable[[Inbound], Any],
        sender: ConsoleSender,
        *,
        persona: str = "resident",
    ) -> None:
        self.process = process
        self.sender = sender
        self.persona = persona
        self._update_ids = itertools.count(1)
        self.run_id = ""

    def chat_of(self, persona: str) -> str:
        return f"console:{persona}"

    def screen(self, persona: str | None = None) -> ConsoleScreen:
        return self.sender.screens[self.chat_of(persona or self.persona)]

    def to_inbound(self, line: str, persona: str) -> Inbound:
        """The Inbound for a typed line; raises `BadId` for a persona whose ids break the rule."""
        if not _PERSONA_RE.fullmatch(persona):
            raise BadId("a console persona is letters, digits, . - _ (at most 32)")
        chat = external_id(self.chat_of(persona), "console chat id")
        update_id = external_id(f"{self.run_id}{next(self._update_ids)}", "console update id")
        stripped = line.strip()
        buttons = self.sender.screens[chat].buttons
        if stripped.isdigit() and buttons and 1 <= int(stripped) <= len(buttons):
            return Inbound(
                CHANNEL,
                chat,
                chat,
                update_id,
                callback=buttons[int(stripped) - 1][1],
                display_name=persona,
            )
        if stripped.startswith("photo:") and len(stripped) > 6:
            photo = f"console-photo:{stripped[6:]}"
            if len(photo) > MAX_PHOTO_REF:
                raise BadId(f"a photo name is at most {MAX_PHOTO_REF - 14} characters")
            return Inbound(CHANNEL, chat, chat, update_id, photo=photo, display_name=persona)
        return Inbound(CHANNEL, chat, chat, update_id, text=line, display_name=persona)

    async def say(self, line: str, *, persona: str | None = None) -> list[str]:
        """Type one line as `persona`; returns what that persona was shown in reply."""
        if line.strip().startswith("/as"):
            name = line.strip()[3:].strip()
            if not _PERSONA_RE.fullmatch(name):
                return ["usage: /as NAME (letters, digits, . - _)"]
            self.persona = name
            return [f"now speaking as {name}"]
        who = persona or self.persona
        try:
            inbound = self.to_inbound(line, who)
        except BadId as exc:
            return [f"refused: {exc}"]
        screen = self.sender.screens[self.chat_of(who)]
        before = len(screen.lines)
        await self.process(inbound)
        return screen.lines[before:]

    async def interact(self, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
        """Read lines until end of input; `/quit` leaves."""
        loop = asyncio.get_running_loop()
        out.write(
            "Jingtu console. Type /start, /report, /help; a number picks a button; "
            "'lat,lon' is a location; photo:NAME sends a photo; /as NAME switches person; "
            "/quit leaves.\n"
        )
        while True:
            out.write(f"{self.persona}> ")
            out.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line or line.strip() in {"/quit", "/exit"}:
                break
            if not line.strip():
                continue
            shown = await self.say(line.rstrip("\n"))
            if self.sender.out is None:
                for block in shown:
                    out.write(block + "\n")
            elif line.strip().startswith("/as"):
                out.write(shown[0] + "\n")

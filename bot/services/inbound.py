"""What a channel hands the conversation service: one Inbound event; what comes back: an Outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.delivery.message import Location


def storable_text(text: str) -> str:
    """`text` without U+0000, which PostgreSQL's text type cannot hold (SQLite's can): a name
    or a message text is stored alike on both, and a NUL a platform lets through does not fail
    the person's transaction."""
    return text.replace("\x00", "")


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person did: a message, a button press, a shared location or photo."""

    channel: str
    user_id: str
    chat_id: str
    update_id: str | None = None
    text: str | None = None
    callback: str | None = None
    location: Location | None = None
    photo: str | None = None  # the channel's file reference
    voice: str | None = None  # the channel's media reference of a voice message
    display_name: str = ""
    language_code: str | None = None

    @property
    def command(self) -> str | None:
        """`/report@jingtu_bot args` → "report"."""
        if not self.text or not self.text.startswith("/"):
            return None
        head = self.text[1:].split(maxsplit=1)[0] if len(self.text) > 1 else ""
        return head.split("@", 1)[0].lower() or None

    @property
    def command_args(self) -> str:
        if self.command is None or self.text is None:
            return ""
        parts = self.text.split(maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""


@dataclass
class Outcome:
    """What handling one Inbound produced: replies to the sender (already in the outbox)."""

    replies: list[Any] = field(default_factory=list)  # committed outbox rows, claimed by us
    duplicate: bool = False

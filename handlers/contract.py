"""What every channel speaks: an Inbound event in, Replies out. Channel-neutral by design."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float
    datum: str = "wgs84"  # Telegram sends WGS-84; WeChat sends GCJ-02


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str  # ≤ 64 bytes (Telegram's callback_data limit)


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


@dataclass(frozen=True, slots=True)
class Reply:
    """A message for a person; channels render it within their own limits."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    request_location: str | None = None  # label of a "share my location" keyboard button
    location: Location | None = None
    photos: tuple[str, ...] = ()  # file references valid on the recipient's channel
    remove_keyboard: bool = False
    # A prompt a crash may lose (a dialog's next question: the dialog's state is stored, so the
    # person's next message carries on from that step): sent straight after the commit rather
    # than through the outbox. Not part of the payload; anything that must arrive (a case number,
    # a notice) leaves it False.
    transient: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [[{"label": b.label, "data": b.data} for b in row] for row in self.buttons],
            "request_location": self.request_location,
            "location": (
                None
                if self.location is None
                else {
                    "lat": self.location.lat,
                    "lon": self.location.lon,
                    "datum": self.location.datum,
                }
            ),
            "photos": list(self.photos),
            "remove_keyboard": self.remove_keyboard,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Reply:
        loc = payload.get("location")
        return cls(
            text=str(payload.get("text", "")),
            buttons=tuple(
                tuple(Button(str(b["label"]), str(b["data"])) for b in row)
                for row in payload.get("buttons") or []
            ),
            request_location=payload.get("request_location"),
            location=None
            if not loc
            else Location(loc["lat"], loc["lon"], loc.get("datum", "wgs84")),
            photos=tuple(payload.get("photos") or ()),
            remove_keyboard=bool(payload.get("remove_keyboard")),
        )


@dataclass
class Outcome:
    """What handling one Inbound produced: replies to the sender (already in the outbox)."""

    replies: list[Any] = field(default_factory=list)  # committed outbox rows, claimed by us
    duplicate: bool = False
    # Transient replies (envelopes), sent after the commit without an outbox row of their own.
    direct: list[Any] = field(default_factory=list)

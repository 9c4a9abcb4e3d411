"""A message for a person, as the outbox stores it and every channel renders it."""

from __future__ import annotations

from dataclasses import dataclass
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
class Reply:
    """A message for a person; channels render it within their own limits."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    request_location: str | None = None  # label of a "share my location" keyboard button
    location: Location | None = None
    photos: tuple[str, ...] = ()  # file references valid on the recipient's channel
    remove_keyboard: bool = False

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


def offered_choices(payload: dict[str, Any]) -> list[list[str]]:
    """A message's buttons as a person may pick them by number: [label, data], row by row.

    Choice n is the n-th button counting from 1 across the rows, as a numbered plain-text list
    (WeChat) and the console show them.
    """
    return [[str(b["label"]), str(b["data"])] for row in payload.get("buttons") or [] for b in row]


def choices_as_buttons(choices: list[list[str]]) -> tuple[tuple[Button, ...], ...]:
    """Remembered choices offered again, one to a row (their numbers stay the same)."""
    return tuple((Button(label, data),) for label, data in choices)

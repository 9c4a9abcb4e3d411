"""A message for a person, as the outbox stores it and every channel renders it.

A photo in a message (`Reply.photos`) is either the platform's own file reference, valid only
on the channel it came from, or a *stored media reference*:

    media:<sha256>                 the file in the media store; the sender uploads its bytes
    media:<sha256>:<platform id>   the same file with its id on the recipient's channel, which
                                   the sender tries first (an expired id falls back to an upload)

Neither form can be read as a local path by a platform library, and the SHA-256 names a file
only inside the store (`bot.storage.media_store`). Each channel's sender resolves them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MEDIA_PREFIX = "media:"
_PLATFORM_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_MEDIA_REF_RE = re.compile(r"media:([0-9a-f]{64})(?::([A-Za-z0-9_-]{1,256}))?")


@dataclass(frozen=True, slots=True)
class StoredRef:
    sha256: str
    platform_id: str | None = None


def stored_ref(sha256: str, platform_id: str | None = None) -> str:
    """The reference to a stored file, with its id on the recipient's channel when that id is
    plain enough to carry (``[A-Za-z0-9_-]``); otherwise the sender uploads the bytes."""
    ref = MEDIA_PREFIX + sha256
    if platform_id and _PLATFORM_ID_RE.fullmatch(platform_id):
        ref += ":" + platform_id
    if parse_stored_ref(ref) is None:
        raise ValueError("not a SHA-256 in lowercase hex")
    return ref


def parse_stored_ref(ref: object) -> StoredRef | None:
    """The parts of a stored media reference, or None for anything else."""
    if not isinstance(ref, str) or not (found := _MEDIA_REF_RE.fullmatch(ref)):
        return None
    return StoredRef(found[1], found[2])


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
class NoticeTag:
    """What a notice is about, for a channel that must reach a person another way.

    WeChat reaches people outside its 48-hour window only by template messages (模板消息),
    which carry named values rather than free text: `values` holds them, flat and as text
    (case number, category label, status, cell name, times in the bureau's time zone). It
    never holds the identity of an anonymous case's reporter.
    """

    kind: str  # case-new | case-escalated | case-status | follow-up
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class Reply:
    """A message for a person; channels render it within their own limits."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    request_location: str | None = None  # label of a "share my location" keyboard button
    location: Location | None = None
    photos: tuple[str, ...] = ()  # file references valid on the recipient's channel
    remove_keyboard: bool = False
    notice: NoticeTag | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
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
        if self.notice is not None:
            payload["notice"] = {"kind": self.notice.kind, "values": dict(self.notice.values)}
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Reply:
        loc = payload.get("location")
        tag = payload.get("notice")  # absent from payloads written before notices were tagged
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
            notice=None
            if not tag
            else NoticeTag(
                str(tag["kind"]), {str(k): str(v) for k, v in (tag.get("values") or {}).items()}
            ),
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

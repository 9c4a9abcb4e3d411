"""Small pieces every conversation uses: language choice, typed coordinates and numbers."""

from __future__ import annotations

import re

from bot.services.notices import channel_datum
from handlers.contract import Button, Location

LANGUAGE_BUTTONS = (
    (Button("中文", "lang:zh-Hans"), Button("བོད་ཡིག", "lang:bo"), Button("English", "lang:en")),
)

# Chinese keyboards type full-width digits (１２３); they mean the same numbers.
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９－", "0123456789-")
_NUMBER = re.compile(r"[0-9]{1,6}")

_LAT_LON = re.compile(r"^\s*(-?\d{1,3}(?:\.\d+)?)\s*[,，]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def parse_typed_location(text: str | None, channel: str) -> Location | None:
    """`29.267, 88.881` typed by hand, in the datum of the channel's maps (WeChat users copy
    GCJ-02 from Chinese map apps; Telegram and the console give WGS-84)."""
    if not text:
        return None
    match = _LAT_LON.match(text)
    if not match:
        return None
    return Location(float(match.group(1)), float(match.group(2)), channel_datum(channel).value)


def typed_number(text: str | None) -> int | None:
    """A message that is only a number (ASCII or full-width digits, spaces around): its value."""
    if not text:
        return None
    digits = ascii_digits(text.strip())
    return int(digits) if _NUMBER.fullmatch(digits) else None


def ascii_digits(text: str) -> str:
    """Full-width digits and hyphen as their ASCII selves; everything else unchanged."""
    return text.translate(_FULL_WIDTH_DIGITS)


def clean_text(text: str | None) -> str:
    """Strip control characters a chat client should never send but a forged update may."""
    if not text:
        return ""
    return "".join(ch for ch in text if ch in "\n\t" or ch.isprintable()).strip()

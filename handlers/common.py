"""Small pieces every conversation uses: language choice, parsing typed coordinates."""

from __future__ import annotations

import re

from handlers.contract import Button, Location

LANGUAGE_BUTTONS = (
    (Button("中文", "lang:zh-Hans"), Button("བོད་ཡིག", "lang:bo"), Button("English", "lang:en")),
)

_LAT_LON = re.compile(r"^\s*(-?\d{1,3}(?:\.\d+)?)\s*[,，]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def parse_typed_location(text: str | None) -> Location | None:
    """`29.267, 88.881` typed by hand (console, or a desktop client without GPS): WGS-84."""
    if not text:
        return None
    match = _LAT_LON.match(text)
    if not match:
        return None
    return Location(float(match.group(1)), float(match.group(2)), "wgs84")


def clean_text(text: str | None) -> str:
    """Strip control characters a chat client should never send but a forged update may."""
    if not text:
        return ""
    return "".join(ch for ch in text if ch in "\n\t" or ch.isprintable()).strip()

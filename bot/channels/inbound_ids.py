"""The one rule for identifiers that arrive from outside, applied by every channel at its door.

A platform's user, chat and update ids become database keys (``String(64)`` columns on
PostgreSQL), so each channel checks them before it builds an `Inbound`: an id must be an ``int``
or a ``str`` (``bool`` is not an int here), and rendered as a string it must be 1–64 printable
ASCII characters, no spaces. Each channel adds its platform's own shape:

* Telegram: user, chat and update ids are decimal integers, possibly negative, within a signed
  64-bit integer, as the Bot API promises (`telegram_id`); photo references are file ids, ``[A-Za-z0-9_-]`` (`telegram_file_id`).
* WeChat: OpenIDs are ``[A-Za-z0-9_-]{1,64}`` (`wechat_openid`), ``MsgId`` and ``CreateTime``
  are decimal (`decimal_id`), event keys are plain ids (`external_id`).
* Console: ids are plain ids (`external_id`).

A value that fails raises `BadId`; the channel refuses the whole update without touching the
database and logs a warning. `BadId`'s message names what failed and describes the value
without repeating it in full (`describe`): refused input is untrusted, and a log is no place for
64 KB of it or for control characters.
"""

from __future__ import annotations

import re
from typing import Final

MAX_ID_CHARS: Final = 64
# A Telegram file_id is URL-safe base64; real ones are around 50-100 characters. The case_photos
# column holds 256.
MAX_FILE_ID_CHARS: Final = 256
# What `describe` shows of a refused value.
SHOWN_CHARS: Final = 16

_PLAIN_RE = re.compile(r"[\x21-\x7e]{1,64}")  # printable ASCII, no space
_TELEGRAM_ID_RE = re.compile(r"-?[0-9]{1,19}")
_INT64: Final = 2**63
_DECIMAL_RE = re.compile(r"[0-9]{1,64}")
_OPENID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FILE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# More bits than any 64-digit number needs: bounds str() of an int before it is computed.
_MAX_INT_BITS: Final = 213


class BadId(ValueError):
    """An external identifier that is not of the shape its channel promises."""


def describe(value: object) -> str:
    """A short, log-safe description of an untrusted value: its type, size and a prefix."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"a {type(value).__name__}"
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            return f"an int of {value.bit_length()} bits"
        value = str(value)
    shown = ascii(value[:SHOWN_CHARS])
    more = "…" if len(value) > SHOWN_CHARS else ""
    return f"{shown}{more} ({len(value)} chars)"


def _rendered(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadId(f"{what} is {describe(value)}, not an int or a string")
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise BadId(f"{what} is {describe(value)}, over {MAX_ID_CHARS} characters")
        return str(value)
    return value


def _matching(value: object, pattern: re.Pattern[str], what: str, shape: str) -> str:
    text = _rendered(value, what)
    if not pattern.fullmatch(text):
        raise BadId(f"{what} is {describe(text)}, not {shape}")
    return text


def external_id(value: object, what: str = "id") -> str:
    """Any channel's id: 1–64 printable ASCII characters without spaces."""
    return _matching(value, _PLAIN_RE, what, f"1-{MAX_ID_CHARS} printable ASCII characters")


def telegram_id(value: object, what: str = "id") -> str:
    """A Telegram user, chat or update id: a decimal integer within a signed 64-bit integer
    (the Bot API says user and chat ids have at most 52 significant bits)."""
    shape = "a decimal integer within a signed 64-bit integer"
    text = _matching(value, _TELEGRAM_ID_RE, what, shape)
    if not -_INT64 < int(text) < _INT64:
        raise BadId(f"{what} is {describe(text)}, not {shape}")
    return text


def decimal_id(value: object, what: str = "id") -> str:
    """An unsigned decimal id (WeChat's MsgId, CreateTime)."""
    return _matching(value, _DECIMAL_RE, what, f"1-{MAX_ID_CHARS} decimal digits")


def wechat_openid(value: object, what: str = "OpenID") -> str:
    """A WeChat OpenID (or any id of the same alphabet)."""
    return _matching(value, _OPENID_RE, what, f"1-{MAX_ID_CHARS} of [A-Za-z0-9_-]")


def telegram_file_id(value: object, what: str = "file_id") -> str:
    """A Telegram file_id: never a path, a URL or anything else PTB could read as a file."""
    return _matching(value, _FILE_ID_RE, what, f"1-{MAX_FILE_ID_CHARS} of [A-Za-z0-9_-]")


def is_telegram_file_id(value: object) -> bool:
    return isinstance(value, str) and _FILE_ID_RE.fullmatch(value) is not None

"""WeChat Official Account (公众号): a webhook on Jingtu's web server, the customer-service API out.

The only module that knows WeChat. What it does:

Inbound. WeChat POSTs every message and event to ``/wechat`` (``GET /wechat`` is the one-off
server verification that echoes ``echostr``). A request is accepted only when its signature is
right and its timestamp is within five minutes of our clock:

* plaintext mode (``WECHAT_AES_KEY`` empty): ``signature`` = sha1 of the sorted
  [token, timestamp, nonce];
* safe mode (安全模式): ``msg_signature`` = sha1 of the sorted [token, timestamp, nonce, Encrypt],
  and ``Encrypt`` is AES-256-CBC (key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7
  padding to 32-byte blocks) over 16 random bytes + 4-byte big-endian length + message + AppID.
  The AppID inside must be ours.

The door (`bot.channels.door`, shared with Telegram): bodies are read up to 1 MB whatever
Content-Length says (a chunked body has none); a source refused 20 times in a minute (stale or
forged signatures, broken bodies) is answered 429 until the minute ends; query parameters of odd
bytes are refused with 401, never encoded. XML with a DOCTYPE or ENTITY declaration is refused
before ElementTree sees it (no XXE, no billion laughs).

Nothing is lost at the door: the webhook answers ``success`` only once the message is stored (its
effects, its replies in the outbox and its update id committed, in one transaction), handled in
the person's lane (`bot.channels.lanes`: one person's messages strictly in order). WeChat retries
a message it has no answer for within 5 s, three times; ``MsgId`` (events:
FromUserName:CreateTime, or a digest of it should that exceed 64 characters) is the update id, so
a retry, or WeChat's redelivery after a crash, changes nothing twice. While the database is
unreachable the message's transaction is tried again for up to 30 s (WeChat has hung up by then
and is retrying: each retry waits in the lane and tries again itself); a message still not stored
is answered 503, never ``success``, which would make WeChat forget it. Replies go out through the
outbox and the customer-service API.

At the door: a message whose FromUserName is not an OpenID (``[A-Za-z0-9_-]{1,64}``), whose
MsgId or CreateTime is not decimal, or whose event key or MediaId is not plain printable ASCII
is refused (`bot.channels.inbound_ids`): answered ``success`` so WeChat does not retry it, logged
as a warning, and nothing is stored.

What becomes what: text → text; location (Location_X = latitude, Location_Y = longitude) →
``Location(lat, lon, "gcj02")``; image → its MediaId as the photo reference (PicUrl, a
short-lived CDN link, is not kept); voice → its speech recognition (``Recognition``, when the
account has it on) as the text and its MediaId as ``voice``; subscribe → ``/start`` (``/start
CODE`` when the follow came from a QR code with scene CODE, and so does a SCAN by a follower); a
custom-menu CLICK → the command its key stands for (``report``, ``mycases``, ``subscribe``: the
shipped ``messages/wechat/menu.json``, installed with ``python -m bot wechat menu install``),
any other key as a button press; video and links → an empty message the dialog answers with its
usual hint. Other events (unsubscribe, VIEW, periodic LOCATION reports) are ignored.

Buttons. WeChat has no inline keyboards; customer-service "msgmenu" messages show the items as
tappable lines under the text (``head_content``), at most ten per message. A tap comes back as a
text message carrying ``bizmsgmenuid`` = the item's id. Each item's id *is* the button's callback
data (≤ 64 bytes, like Telegram's callback_data): nothing to remember, so a press works
after a restart and whichever Jingtu process receives it. Nothing secret is in it — the person
could as well forge a Telegram callback, and the dialogs refuse data they did not offer. (The
alternative, numeric ids mapped back through an in-memory table per OpenID, loses every menu
offered before a restart and does not work across several processes.) WeChat's Official
Account documentation gives no format for these ids (its examples are numbers; WeCom's menus
allow 1–64 bytes): should WeChat refuse non-numeric ids, that table is the fallback. A
``request_location``
keyboard has no WeChat equivalent: its label is shown as the menu's last line with a pointer to
the chat's ⊕ → Location, which sends a location message.

Numbered lists. Subscription and test accounts may not send msgmenu (WeChat answers 40200), and
``WECHAT_MENU_MESSAGES=false`` turns menus off: then a Reply's buttons, flattened row by row, are
a numbered plain-text list ("1. label" a line, then a line asking for the number, in the
person's language), and the dialogs read the typed number back. The first 40200 re-sends that
message as a list at once and switches this process to lists.

The 48-hour window. The customer-service API writes only to someone who wrote to (or followed,
or tapped the menu of) the account in the last 48 hours, and at most 5 messages per such
interaction (each part of a Reply counts: a text, a menu, a photo); beyond that WeChat answers
45015/45047. The sender remembers, per OpenID, when the person last wrote and how many messages
went out since (``ServiceWindows``). A notice tagged with a kind (``Reply.notice``: a
supervisor's new or escalated case, a resident's status change or follow-up question) that the
window cannot carry goes as a template message (模板消息, ``/cgi-bin/message/template/send``)
when ``WECHAT_TEMPLATES_FILE`` gives that kind a template; WeChat's 45015/45047 stays the truth
and sends it by template too. Anything else fails permanently marked undelivered
(`bot.delivery.undelivered`), so staff see it (``python -m bot wechat unreachable``). Media ids
of photos expire after three days, so older photos cannot be forwarded either.

Media. Photos arrive as MediaIds, which WeChat deletes after three days; the media fetcher
downloads each with ``/cgi-bin/media/get`` (JSON with an errcode on failure, the bytes on
success) into the media store (`WeChatMedia`). A stored media reference in a Reply
(``media:<sha256>[:<media_id>]``) is sent by its MediaId when it has one, otherwise the file is
uploaded with ``/cgi-bin/media/upload?type=image`` and the new MediaId kept in memory until
shortly before its three days run out. Should WeChat answer 40007 (invalid media_id) for a
stored photo, it is uploaded again and sent once more.

Datum. WeChat clients send and show GCJ-02 coordinates. Incoming locations are marked
``gcj02`` and converted by the grid; outgoing ones arrive converted by ``bot.services.notify``
(and are converted here should one not be) and are shown as a line of coordinates with an
AMap (高德, GCJ-02) link.

Secrets: the app secret and access tokens travel only in request URLs, and no URL, nor an
aiohttp error that could contain one, is logged or stored as an outbox error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import struct
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from xml.parsers import expat
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.channels.door import RefusalThrottle, TooLarge, read_limited, shut_out, source_of
from bot.channels.inbound_ids import (
    MAX_ID_CHARS,
    BadId,
    decimal_id,
    describe,
    external_id,
    wechat_openid,
)
from bot.channels.lanes import ChatLanes
from bot.config import ConfigError, Settings
from bot.delivery.message import NoticeTag, StoredRef, parse_stored_ref
from bot.delivery.outbox import Parts, PermanentFailure, RetryLater, SendError, Step
from bot.delivery.ratelimit import SharedBudget
from bot.delivery.undelivered import undelivered
from bot.domain.geo import Datum, convert
from bot.services.notices import NOTICE_VALUES
from bot.storage.db import NotStored
from bot.storage.media_store import MediaStore, MediaUnavailable, sniff_type
from bot.storage.models import utcnow
from handlers.contract import Button, Inbound, Location, Reply
from messages import CATALOG_DIR, Translator

log = logging.getLogger(__name__)

CHANNEL = "wechat"
WEBHOOK_PATH = "/wechat"
MAX_BODY_BYTES = 1_000_000
MAX_CLOCK_SKEW_SECONDS = 300
MAX_TEXT_BYTES = 2048  # a customer-service text message
MAX_MENU_HEAD_BYTES = 1024
MAX_MENU_ITEMS = 10
MAX_MENU_ITEM_BYTES = 128
MAX_CALLBACK_BYTES = 64
PKCS7_BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16
_MEDIA_ID_RE = re.compile(r"[\x21-\x7e]{1,256}")  # printable ASCII; case_photos holds 256
MAX_CREATE_TIME_DIGITS = 20
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_PRINTABLE_RE = re.compile(r"[\x21-\x7e]{0,128}")  # a nonce: WeChat sends digits
# Access-token errors: the token was refreshed elsewhere, revoked or has expired.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
INVALID_MEDIA_ID = 40007
# Temporary media (uploads, and what users send) live three days; ours are renewed an hour early.
MEDIA_LIFETIME = timedelta(days=3) - timedelta(hours=1)
# The customer-service window: 48 hours after the person's last message, at most 5 messages.
WINDOW = timedelta(hours=48)
WINDOW_QUOTA = 5
OUTSIDE_WINDOW = frozenset({45015, 45047})
MENUS_REFUSED = 40200  # subscription and test accounts may not send msgmenu messages
# The custom menu's CLICK keys (messages/wechat/menu.json) and the commands they stand for.
MENU_COMMANDS = {"report": "/report", "mycases": "/mycases", "subscribe": "/subscribe"}
SHIPPED_TEMPLATES = CATALOG_DIR / "wechat" / "templates.toml"
SHIPPED_MENU = SHIPPED_TEMPLATES.with_name("menu.json")

Process = Callable[[Inbound], Awaitable[Any]]
Clock = Callable[[], datetime]
LocaleOf = Callable[[str], Awaitable[str | None]]


class BadMessage(ValueError):
    """A request body that is not a well-formed, safe WeChat message."""

    # Set when the body was refused before its signature could be checked.
    unauthenticated = False


# --------------------------------------------------------------------------- signatures, AES


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 over the parts sorted and concatenated, as lowercase hex."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_matches(given: str | None, *parts: str) -> bool:
    # A signature is 40 hex digits; anything not ASCII (aiohttp hands undecodable bytes over as
    # surrogates) is refused before it is encoded.
    if not given or not given.isascii():
        return False
    return hmac.compare_digest(given.strip().lower().encode(), sign(*parts).encode())


def pkcs7_pad(data: bytes, block: int = PKCS7_BLOCK) -> bytes:
    amount = block - len(data) % block
    return data + bytes([amount]) * amount


def pkcs7_unpad(data: bytes, block: int = PKCS7_BLOCK) -> bytes:
    if not data:
        raise BadMessage("empty plaintext")
    amount = data[-1]
    if not 1 <= amount <= block or len(data) < amount or data[-amount:] != bytes([amount]) * amount:
        raise BadMessage("bad padding")
    return data[:-amount]


class WeChatCrypto:
    """Safe-mode message encryption, as WeChat specifies it (the same for Official Accounts and
    WeCom)."""

    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("the EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the EncodingAESKey is not base64") from None
        if len(key) != 32:
            raise ValueError("the EncodingAESKey must decode to 32 bytes")
        self._key = key
        self._iv = key[:16]
        self.app_id = app_id.encode()

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._iv))

    def encrypt(self, message: str, *, random_prefix: bytes | None = None) -> str:
        prefix = os.urandom(16) if random_prefix is None else random_prefix
        if len(prefix) != 16:
            raise ValueError("the random prefix is 16 bytes")
        body = message.encode()
        plain = pkcs7_pad(prefix + struct.pack(">I", len(body)) + body + self.app_id)
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise BadMessage("Encrypt is not base64") from None
        if not data or len(data) % 16:
            raise BadMessage("Encrypt is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = pkcs7_unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < 20:
            raise BadMessage("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise BadMessage("message length beyond the plaintext")
        message, app_id = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(app_id, self.app_id):
            raise BadMessage("the message is for another AppID")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise BadMessage("message is not UTF-8") from None


# --------------------------------------------------------------------------- XML


def _refuse_declarations(body: bytes) -> None:
    """Parse once with expat, refusing any DOCTYPE (and so any entity definition) outright."""

    def refuse(*_: object) -> None:
        raise BadMessage("DOCTYPE and ENTITY declarations are not accepted")

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise BadMessage(f"not well-formed XML: {expat.ErrorString(exc.code)}") from None


def parse_message(body: bytes) -> dict[str, str]:
    """The top-level fields of a WeChat ``<xml>`` message, as text."""
    if len(body) > MAX_BODY_BYTES:
        raise BadMessage("body over 1 MB")
    _refuse_declarations(body)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise BadMessage("not well-formed XML") from None
    if root.tag != "xml":
        raise BadMessage("the root element is not <xml>")
    return {child.tag: child.text or "" for child in root}


def _update_id(openid: str, msg_id: str, created: str) -> str:
    """``MsgId``, or for events (which have none) ``FromUserName:CreateTime``; a pair over 64
    characters becomes a digest of itself, so WeChat's retries still map to the same id."""
    if msg_id:
        return msg_id
    pair = f"{openid}:{created}"
    if len(pair) <= MAX_ID_CHARS:
        return pair
    return "ev:" + hashlib.sha256(pair.encode()).hexdigest()[:40]


def message_to_inbound(fields: Mapping[str, str]) -> Inbound | None:
    """The channel-neutral form of a message, or None for what Jingtu ignores or refuses.

    Refused at the door, with a warning: an OpenID that is not ``[A-Za-z0-9_-]{1,64}``, a
    ``MsgId`` or ``CreateTime`` that is not decimal, an event key or media id that is not plain
    printable ASCII (`bot.channels.inbound_ids`).
    """
    try:
        return _message_to_inbound(fields)
    except BadId as exc:
        log.warning("refused a WeChat message: %s", exc)
        return None


def _optional(fields: Mapping[str, str], key: str, check: Callable[[object, str], str]) -> str:
    value = fields.get(key, "").strip()
    return check(value, key) if value else ""


def _event_key(value: str) -> str:
    return external_id(value, "EventKey")


def _message_to_inbound(fields: Mapping[str, str]) -> Inbound | None:
    openid = wechat_openid(fields.get("FromUserName", "").strip(), "FromUserName")
    msg_id = _optional(fields, "MsgId", decimal_id)
    created = _optional(fields, "CreateTime", decimal_id)
    if len(created) > MAX_CREATE_TIME_DIGITS:
        raise BadId(f"CreateTime is {describe(created)}, over {MAX_CREATE_TIME_DIGITS} digits")
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "user_id": openid,
        "chat_id": openid,
        "update_id": _update_id(openid, msg_id, created),
    }
    kind = fields.get("MsgType", "").strip().lower()
    if kind == "text":
        menu_id = fields.get("bizmsgmenuid", "").strip()
        if menu_id:  # a tap on an item of a msgmenu we sent: the id is the callback data
            return Inbound(callback=menu_id[:MAX_CALLBACK_BYTES], **common)
        return Inbound(text=fields.get("Content", ""), **common)
    if kind == "location":
        try:
            lat = float(fields.get("Location_X", ""))
            lon = float(fields.get("Location_Y", ""))
        except ValueError:
            return Inbound(**common)  # the dialog says it could not read a place
        return Inbound(location=Location(lat, lon, Datum.GCJ02.value), **common)
    if kind == "image":
        return Inbound(photo=_media_id(fields), **common)
    if kind == "voice":
        # With speech recognition on (the admin's 接收语音识别结果), WeChat sends the words.
        recognition = fields.get("Recognition", "").strip()
        return Inbound(text=recognition or None, voice=_media_id(fields), **common)
    if kind == "event":
        event = fields.get("Event", "").strip().lower()
        key = fields.get("EventKey", "").strip()
        if event == "subscribe":
            scene = key.removeprefix("qrscene_") if key.startswith("qrscene_") else ""
            return Inbound(text=f"/start {_event_key(scene)}" if scene else "/start", **common)
        if event == "scan" and key:
            return Inbound(text=f"/start {_event_key(key)}", **common)
        if event == "click" and key:
            command = MENU_COMMANDS.get(key)
            if command is not None:
                return Inbound(text=command, **common)
            return Inbound(callback=_event_key(key), **common)
        return None
    return Inbound(**common)  # video, link …: the dialog answers with its hint


def _media_id(fields: Mapping[str, str]) -> str | None:
    media_id = fields.get("MediaId", "").strip()
    if media_id and not _MEDIA_ID_RE.fullmatch(media_id):
        raise BadId(f"MediaId is {describe(media_id)}, not 1-256 printable ASCII characters")
    return media_id or None


# --------------------------------------------------------------------------- rendering


def _within_bytes(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits in `limit` bytes."""
    return text.encode()[:limit].decode("utf-8", errors="ignore")


def split_utf8(body: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Split at line breaks where possible so no chunk's UTF-8 form exceeds `limit` bytes."""
    if len(body.encode()) <= limit:
        return [body]
    chunks: list[str] = []
    current, size = "", 0
    for line in body.splitlines(keepends=True):
        while len(line.encode()) > limit:
            if current:
                chunks.append(current)
                current, size = "", 0
            head = _within_bytes(line, limit)
            chunks.append(head)
            line = line[len(head) :]
        length = len(line.encode())
        if size + length > limit:
            chunks.append(current)
            current, size = "", 0
        current += line
        size += length
    if current:
        chunks.append(current)
    return chunks


def map_link(lat: float, lon: float) -> str:
    """An AMap (高德) marker: AMap works in GCJ-02, like WeChat."""
    return f"https://uri.amap.com/marker?position={lon:.6f},{lat:.6f}&coordinate=gaode"


def location_line(location: Location) -> str:
    """ "📍 lat,lon <link>" in GCJ-02, converting should the location come in another datum."""
    try:
        source = Datum(location.datum)
    except ValueError:
        source = Datum.WGS84
    point = convert(location.lat, location.lon, source=source, target=Datum.GCJ02)
    return f"📍 {point.lat:.6f},{point.lon:.6f} {map_link(point.lat, point.lon)}"


def _text_message(openid: str, content: str) -> dict[str, Any]:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


def _menu_message(openid: str, head: str, items: list[Button], tail: str) -> dict[str, Any]:
    return {
        "touser": openid,
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": head,
            "list": [
                {"id": b.data, "content": _within_bytes(b.label, MAX_MENU_ITEM_BYTES)}
                for b in items
            ],
            "tail_content": tail,
        },
    }


def _body(reply: Reply) -> str:
    """The Reply's text with its place as a line of coordinates and a map link."""
    if reply.location is None:
        return reply.text
    line = location_line(reply.location)
    return f"{reply.text}\n{line}" if reply.text else line


def _hint(reply: Reply) -> str:
    """A "share my location" keyboard has no WeChat equivalent: say where to find it."""
    return f"{reply.request_location} → ⊕ → 📍" if reply.request_location else ""


def _image_messages(openid: str, reply: Reply) -> list[dict[str, Any]]:
    return [
        {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}}
        for media_id in reply.photos
    ]


def render(openid: str, reply: Reply) -> list[dict[str, Any]]:
    """The customer-service messages that show one Reply, in order, choices as menus."""
    body = _body(reply)
    buttons = [b for row in reply.buttons for b in row]
    for button in buttons:
        size = len(button.data.encode())
        if not 1 <= size <= MAX_CALLBACK_BYTES:
            raise PermanentFailure(f"button data not 1–64 bytes: {button.data[:20]!r}")
    hint = _hint(reply)
    messages: list[dict[str, Any]] = []
    if buttons:
        chunks = split_utf8(body or "…")
        head_parts = split_utf8(chunks.pop(), MAX_MENU_HEAD_BYTES)
        chunks.extend(head_parts[:-1])
        messages.extend(_text_message(openid, c) for c in chunks)
        groups = [buttons[i : i + MAX_MENU_ITEMS] for i in range(0, len(buttons), MAX_MENU_ITEMS)]
        for i, group in enumerate(groups):
            head = head_parts[-1] if i == 0 else "…"
            tail = hint if i == len(groups) - 1 else ""
            messages.append(_menu_message(openid, head, group, tail))
    else:
        if hint:
            body = f"{body}\n\n{hint}" if body else hint
        if body or not reply.photos:
            messages.extend(_text_message(openid, c) for c in split_utf8(body or "…"))
    return messages + _image_messages(openid, reply)


def numbered_choices(labels: Sequence[str], prompt: str, *, start: int = 1) -> str:
    """Choices as plain text: "1. label" a line, numbered on from `start`, then the prompt.

    The contract with the dialogs, which read a typed number back: the buttons of a Reply
    flattened row by row and numbered from 1.
    """
    lines = [f"{start + i}. {label}" for i, label in enumerate(labels)]
    return "\n".join([*lines, prompt])


def render_numbered(openid: str, reply: Reply, prompt: str) -> list[dict[str, Any]]:
    """The customer-service messages that show one Reply with its choices as a numbered list
    (for accounts that may not send menus); `prompt` asks for the number, in the person's
    language."""
    labels = [b.label for row in reply.buttons for b in row]
    parts = [p for p in (_body(reply), numbered_choices(labels, prompt) if labels else "") if p]
    if hint := _hint(reply):
        parts.append(hint)
    text = "\n\n".join(parts)
    messages: list[dict[str, Any]] = []
    if text or not reply.photos:
        messages.extend(_text_message(openid, c) for c in split_utf8(text or "…"))
    return messages + _image_messages(openid, reply)


def menu_as_numbered(message: dict[str, Any], prompt: str, *, start: int) -> list[dict[str, Any]]:
    """One msgmenu message again as numbered text, its items numbered on from `start`."""
    menu = message["msgmenu"]
    labels = [str(item["content"]) for item in menu["list"]]
    head = menu.get("head_content", "")
    parts = [
        p for p in (head if head != "…" else "", numbered_choices(labels, prompt, start=start)) if p
    ]
    if tail := menu.get("tail_content", ""):
        parts.append(tail)
    return [_text_message(message["touser"], c) for c in split_utf8("\n\n".join(parts))]


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True, slots=True)
class Template:
    """One notice kind's template message: its id and its fields' values by notice value name."""

    template_id: str
    data: Mapping[str, str]  # the template's field name → a value name of the notice


_TEMPLATE_FIELD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_TEMPLATE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
# How long a value of a typed field may be (the newer templates' field types), in characters.
_FIELD_LIMITS = (
    ("thing", 20),
    ("character_string", 32),
    ("phrase", 5),
    ("number", 32),
    ("letter", 32),
    ("symbol", 5),
    ("car_number", 8),
    ("name", 10),
    ("phone_number", 17),
    ("amount", 32),
    ("time", 32),
    ("date", 32),
)
_CLASSIC_LIMIT = 200


def load_templates(path: str | Path) -> dict[str, Template]:
    """The templates of a TOML file (see messages/wechat/templates.toml); kinds without a
    template id have none. A malformed file stops the program, naming the file and the fault."""
    try:
        config = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"WECHAT_TEMPLATES_FILE {path}: {exc}") from None
    templates: dict[str, Template] = {}
    for kind, table in config.items():
        where = f"WECHAT_TEMPLATES_FILE {path}: [{kind}]"
        if kind not in NOTICE_VALUES:
            raise ConfigError(f"{where} is not a notice kind ({', '.join(NOTICE_VALUES)})")
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table")
        template_id = table.get("template_id", "")
        data = table.get("data", {})
        if not isinstance(template_id, str) or (
            template_id and not _TEMPLATE_ID_RE.fullmatch(template_id)
        ):
            raise ConfigError(f"{where} template_id must be a template id string")
        if not isinstance(data, dict) or not data:
            raise ConfigError(f"{where} data must map template fields to value names")
        names = {*NOTICE_VALUES[kind], "time"}
        for key, name in data.items():
            if not _TEMPLATE_FIELD_RE.fullmatch(key):
                raise ConfigError(f"{where} {key!r} is not a template field name")
            if name not in names:
                raise ConfigError(
                    f"{where} {key} = {name!r}: not one of {', '.join(sorted(names))}"
                )
        if template_id:
            templates[kind] = Template(template_id, dict(data))
    return templates


def _field_value(key: str, value: str) -> str:
    limit = next((n for prefix, n in _FIELD_LIMITS if key.startswith(prefix)), _CLASSIC_LIMIT)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def template_message(
    openid: str, template: Template, notice: NoticeTag, *, sent_at: str
) -> dict[str, Any]:
    """The template/send body for a tagged notice; `sent_at` is the "time" value."""
    values = {"time": sent_at, **notice.values}
    return {
        "touser": openid,
        "template_id": template.template_id,
        "data": {
            key: {"value": _field_value(key, values.get(name, "") or "—")}
            for key, name in template.data.items()
        },
    }


# --------------------------------------------------------------------------- the custom menu

MENU_TYPES_WITH_KEY = frozenset(
    {
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    }
)


def menu_problems(menu: object) -> list[str]:
    """What WeChat would refuse in a custom menu (menu/create), each problem named; [] if none.

    At most 3 buttons, each with at most 5 sub-buttons; names at most 16 bytes (sub-buttons 60);
    keys at most 128 bytes; view URLs at most 1,024 bytes.
    """
    if not isinstance(menu, dict) or not isinstance(menu.get("button"), list):
        return ['the menu must be a JSON object with a "button" list']
    top = menu["button"]
    problems = []
    if not 1 <= len(top) <= 3:
        problems.append(f"{len(top)} buttons: a menu has 1 to 3")
    for i, button in enumerate(top, 1):
        where = f"button {i}"
        if not isinstance(button, dict):
            problems.append(f"{where} is not an object")
            continue
        problems += _name_problems(button, where, 16)
        subs = button.get("sub_button")
        if subs is None:
            problems += _action_problems(button, where)
            continue
        if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
            problems.append(f"{where}: sub_button must list 1 to 5 buttons")
            continue
        for j, sub in enumerate(subs, 1):
            sub_where = f"{where}.{j}"
            if not isinstance(sub, dict):
                problems.append(f"{sub_where} is not an object")
                continue
            if "sub_button" in sub:
                problems.append(f"{sub_where}: sub-buttons have no sub-buttons")
            problems += _name_problems(sub, sub_where, 60)
            problems += _action_problems(sub, sub_where)
    return problems


def _name_problems(button: dict[str, Any], where: str, limit: int) -> list[str]:
    name = button.get("name")
    if not isinstance(name, str) or not name.strip():
        return [f"{where}: no name"]
    size = len(name.encode())
    return [f"{where} {name!r}: name is {size} bytes, over {limit}"] if size > limit else []


def _action_problems(button: dict[str, Any], where: str) -> list[str]:
    kind = button.get("type")
    if kind in MENU_TYPES_WITH_KEY:
        key = button.get("key")
        if not isinstance(key, str) or not 1 <= len(key.encode()) <= 128:
            return [f"{where}: a {kind} button needs a key of 1 to 128 bytes"]
        return []
    if kind == "view":
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return [f"{where}: a view button needs an http(s) url"]
        if len(url.encode()) > 1024:
            return [f"{where}: url over 1,024 bytes"]
        return []
    if kind == "miniprogram":
        missing = [k for k in ("url", "appid", "pagepath") if not button.get(k)]
        return [f"{where}: a miniprogram button needs {', '.join(missing)}"] if missing else []
    if kind in ("media_id", "view_limited"):
        return [] if button.get("media_id") else [f"{where}: a {kind} button needs a media_id"]
    if kind in ("article_id", "article_view_limited"):
        return [] if button.get("article_id") else [f"{where}: a {kind} button needs an article_id"]
    return [f"{where}: type {kind!r} is not a WeChat menu button type"]


# --------------------------------------------------------------------------- outbound


class InvalidMediaId(PermanentFailure):
    """WeChat does not know the media_id (40007): temporary media expire after three days."""


class OutsideWindow(PermanentFailure):
    """45015/45047: the customer-service API cannot reach the person now; a template could."""


class MenusRefused(PermanentFailure):
    """40200: this account may not send menu messages (subscription and test accounts)."""


def send_error(code: int, errmsg: str) -> SendError:
    """The outbox's reading of an API error code (customer service, templates, menus)."""
    detail = f"wechat errcode {code}: {errmsg[:200]}"
    if code in OUTSIDE_WINDOW:
        return OutsideWindow(
            undelivered(
                f"{detail} — outside the customer-service window (the person has not written "
                "to the account in the last 48 hours, or the reply quota for their last "
                "message is spent); only a template message could reach them now"
            )
        )
    if code == MENUS_REFUSED:
        return MenusRefused(f"{detail} — this account may not send menu messages")
    if code == 43004:
        return PermanentFailure(
            undelivered(f"{detail} — the person unfollowed the account"), unreachable=True
        )
    if code == 40003:
        return PermanentFailure(
            undelivered(f"{detail} — not an OpenID of this account"), unreachable=True
        )
    if code == 43101:
        return PermanentFailure(
            undelivered(f"{detail} — the person turned off this account's notifications")
        )
    if code in (40037, 47003):
        return PermanentFailure(
            undelivered(
                f"{detail} — WeChat refused the template: check its id and fields in "
                "WECHAT_TEMPLATES_FILE against the account's templates"
            )
        )
    if code == 45009:
        return RetryLater(f"{detail} — daily API quota reached", retry_after=3600.0)
    if code == INVALID_MEDIA_ID:
        return InvalidMediaId(f"{detail} — the media_id has expired or was never issued")
    if code in (40008, 44002, 45002, 47001):
        return PermanentFailure(f"{detail} — WeChat refused the message itself")
    return RetryLater(detail)  # -1 (system busy), token errors and anything unknown


@dataclass
class _Window:
    opened: datetime
    sent: int = 0


@dataclass
class ServiceWindows:
    """What this process knows of each person's customer-service window: when they last
    wrote, and how many customer-service messages went out to them since.

    WeChat's answer stays the truth (another process may have seen a later message, and after
    a restart nothing is known): this only lets a notice that has a template go by template
    without first trying a call sure to fail.
    """

    clock: Clock
    _windows: dict[str, _Window] = field(default_factory=dict)

    def opened(self, openid: str) -> None:
        """The person wrote (followed, tapped): a new window and a new quota."""
        now = self.clock()
        if len(self._windows) >= 10_000:
            self._windows = {k: w for k, w in self._windows.items() if now - w.opened <= WINDOW}
        self._windows[openid] = _Window(now)

    def spent(self, openid: str) -> None:
        if (window := self._windows.get(openid)) is not None:
            window.sent += 1

    def closed(self, openid: str) -> None:
        """WeChat said the window is shut: nothing more until the person writes."""
        window = self._windows.setdefault(openid, _Window(self.clock()))
        window.sent = WINDOW_QUOTA

    def room(self, openid: str) -> int | None:
        """How many more messages the window takes; None when this process does not know."""
        window = self._windows.get(openid)
        if window is None:
            return None
        if self.clock() - window.opened > WINDOW:
            return 0
        return max(WINDOW_QUOTA - window.sent, 0)


class TokenStore(Protocol):
    """Where the access token is shared by every process (`bot.services.shared`): the stored
    token while good, else `fetch()`ed by exactly one process and stored for the others."""

    async def token(
        self, fetch: Callable[[], Awaitable[tuple[str, int]]], *, refused: str | None = None
    ) -> tuple[str, datetime]: ...


class WeChatSender:
    """Sends outbox payloads to WeChat, raising the outbox's errors.

    Inside the person's customer-service window: customer-service messages, choices as menus
    (numbered lists when menus are off or refused). Outside it, a tagged notice whose kind has
    a template goes as a template message; anything else fails permanently, marked undelivered.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        locale_of: LocaleOf | None = None,
        templates: Mapping[str, Template] | None = None,
        store: MediaStore | None = None,
        tokens: TokenStore | None = None,
        budget: SharedBudget | None = None,
    ) -> None:
        """`tokens`: where the access token is shared with the other processes (without it,
        this process fetches its own: right only when it is the account's one process);
        `budget`: the send budget shared with them."""
        self.store = store
        self.tokens = tokens
        self.budget = budget
        self._refused: str | None = None  # the stored form of the token WeChat last refused
        self._stored: str | None = None  # the stored form of the token in use
        # Stored photo → (its uploaded media_id, when we stop using it).
        self.uploaded: dict[str, tuple[str, datetime]] = {}
        self.base_url = settings.wechat_api_base_url.rstrip("/")
        self.app_id = settings.wechat_app_id
        self._secret = settings.wechat_app_secret
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)
        self.default_locale = settings.default_locale
        self.locale_of = locale_of
        self.templates = (
            load_templates(settings.wechat_templates_file or SHIPPED_TEMPLATES)
            if templates is None
            else dict(templates)
        )
        self.windows = ServiceWindows(clock)
        self.menus = settings.wechat_menu_messages  # False once WeChat refuses them (40200)
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._token_lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(total=15)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self._http

    async def _call(
        self, method: str, path: str, params: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One API call. Errors name the path only: the URL holds the secret or the token."""
        data = None
        headers = {}
        if body is not None:
            # WeChat wants UTF-8 JSON: \\u escapes would be shown to the person as typed.
            data = _json_dumps(body)
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with self._session().request(
                method, self.base_url + path, params=params, data=data, headers=headers
            ) as response:
                if response.status != 200:
                    raise RetryLater(f"HTTP {response.status} from {path}")
                result = await response.json(content_type=None)
        except RetryLater:
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise RetryLater(f"{path}: {type(exc).__name__}") from None
        if not isinstance(result, dict):
            raise RetryLater(f"{path}: the answer is not a JSON object")
        return result

    def _cached_token(self) -> str | None:
        if self._token is None or self._token_expires is None:
            return None
        return self._token if self.clock() < self._token_expires else None

    async def access_token(self) -> str:
        """The cached access token; when it is (nearly) expired or was refused, the shared one
        (fetched by whichever process gets there first), or one fetched here."""
        if (cached := self._cached_token()) is not None:
            return cached
        async with self._token_lock:
            if (cached := self._cached_token()) is not None:
                return cached
            if self.tokens is not None:
                stored, until = await self.tokens.token(self._fetch_sealed, refused=self._refused)
                token = self._unseal(stored)
                if token is None:  # sealed under another app secret: fetch anew
                    stored, until = await self.tokens.token(self._fetch_sealed, refused=stored)
                    token = self._unseal(stored)
                    if token is None:
                        raise RetryLater("the shared access token cannot be read")
                self._stored = stored
            else:
                token, lifetime = await self._fetch_token()
                # Renew a little early, so a token never expires between our check and WeChat's.
                until = self.clock() + timedelta(seconds=lifetime - min(300, lifetime // 2))
            self._token, self._token_expires = token, until
            return token

    async def _fetch_token(self) -> tuple[str, int]:
        """A new access token from WeChat, and its lifetime in seconds (this invalidates the
        previous one, in every process)."""
        result = await self._call(
            "GET",
            "/cgi-bin/token",
            {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret},
        )
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            code = result.get("errcode")
            errmsg = str(result.get("errmsg", ""))[:200]
            raise RetryLater(f"no access token: wechat errcode {code}: {errmsg}")
        try:
            lifetime = int(result.get("expires_in", 7200))
        except (TypeError, ValueError):
            lifetime = 7200
        return token, max(lifetime, 2)

    def forget_token(self, token: str) -> None:
        """WeChat refused `token`: the next call takes another (never this one again)."""
        if self._token == token:
            self._refused = self._stored
            self._token = None

    # The token is stored sealed (AES-GCM under a key derived from the app secret, which every
    # process of the account has): a database dump, a backup or a logged SQL parameter does not
    # hand out a live credential.

    def _sealer(self) -> AESGCM:
        return AESGCM(
            hashlib.sha256(b"jingtu wechat access token\0" + self._secret.encode()).digest()
        )

    def _seal(self, token: str) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._sealer().encrypt(nonce, token.encode(), None)
        return base64.urlsafe_b64encode(sealed).decode()

    def _unseal(self, stored: str) -> str | None:
        try:
            raw = base64.urlsafe_b64decode(stored.encode())
            return self._sealer().decrypt(raw[:12], raw[12:], None).decode()
        except (InvalidTag, ValueError):
            return None

    async def _fetch_sealed(self) -> tuple[str, int]:
        token, lifetime = await self._fetch_token()
        return self._seal(token), lifetime

    async def call_api(self, path: str, body: dict[str, Any]) -> None:
        """POST one API request with the access token, renewing the token once if WeChat
        refuses it; a non-zero errcode raises its `send_error`."""
        for attempt in range(2):
            token = await self.access_token()
            result = await self._call("POST", path, {"access_token": token}, body)
            try:
                code = int(result.get("errcode", 0))
            except (TypeError, ValueError):
                raise RetryLater(f"{path}: errcode is not a number") from None
            if code == 0:
                return
            if code in TOKEN_ERRORS and attempt == 0:
                self.forget_token(token)
                continue
            raise send_error(code, str(result.get("errmsg", "")))

    async def post_message(self, message: dict[str, Any]) -> None:
        """Send one customer-service message; it counts against the person's window quota."""
        if self.budget is not None:
            await self.budget.take()
        await self.call_api("/cgi-bin/message/custom/send", message)
        self.windows.spent(str(message["touser"]))

    async def send_template(self, openid: str, template: Template, notice: NoticeTag) -> None:
        sent_at = self.clock().astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
        body = template_message(openid, template, notice, sent_at=sent_at)
        if self.budget is not None:
            await self.budget.take()
        await self.call_api("/cgi-bin/message/template/send", body)

    async def install_menu(self, menu: dict[str, Any]) -> None:
        """Replace the account's custom menu (menu/create)."""
        await self.call_api("/cgi-bin/menu/create", menu)

    async def _prompt(self, openid: str) -> str:
        locale = await self.locale_of(openid) if self.locale_of is not None else None
        return Translator(locale or self.default_locale)("choice-reply-with-number")

    async def _render(self, openid: str, reply: Reply) -> list[dict[str, Any]]:
        if reply.buttons and not self.menus:
            return render_numbered(openid, reply, await self._prompt(openid))
        return render(openid, reply)

    async def send(self, chat_id: str, payload: dict[str, Any], parts: Parts | None = None) -> None:
        """Send one payload; with `parts`, the messages already sent are skipped."""
        progress = parts or Parts()
        reply = Reply.from_payload(payload)
        notice = reply.notice
        template = self.templates.get(notice.kind) if notice is not None else None
        reply, stored_by_id = await self._resolve_photos(reply)
        messages = await self._render(chat_id, reply)
        room = self.windows.room(chat_id)
        left = len(messages) - progress.done
        if notice is not None and template is not None and room is not None and room < left:
            await self.send_template(chat_id, template, notice)
            return
        try:
            await self._send_parts(chat_id, messages, stored_by_id, progress)
        except OutsideWindow as exc:
            self.windows.closed(chat_id)
            if notice is None:
                raise
            if template is None:
                raise OutsideWindow(f"{exc}; no template for {notice.kind} notices") from None
            await self.send_template(chat_id, template, notice)

    async def _resolve_photos(self, reply: Reply) -> tuple[Reply, dict[str, str]]:
        """The reply with stored photos replaced by MediaIds, and which stored photo each shows."""
        stored_by_id: dict[str, str] = {}  # media_id → the stored photo it shows
        if any(parse_stored_ref(ref) for ref in reply.photos):
            photos = []
            for ref in reply.photos:
                stored = parse_stored_ref(ref)
                media_id = ref if stored is None else await self.media_id_for(stored)
                if media_id is not None:
                    photos.append(media_id)
                    if stored is not None:
                        stored_by_id[media_id] = stored.sha256
            reply = replace(reply, photos=tuple(photos))
        return reply, stored_by_id

    async def _send_parts(
        self,
        openid: str,
        parts: list[dict[str, Any]],
        stored_by_id: Mapping[str, str],
        progress: Parts,
    ) -> None:
        """Each customer-service message is a part of its own (see `Parts`)."""
        steps: list[Step] = []
        start = 1  # the number of a menu's first item, should it have to become a list
        for part in parts:
            if part["msgtype"] == "image":
                steps.append(functools.partial(self._post_image, part, stored_by_id))
            elif part["msgtype"] != "msgmenu":
                steps.append(functools.partial(self.post_message, part))
            else:
                steps.append(functools.partial(self._post_menu, openid, part, start))
                start += len(part["msgmenu"]["list"])
        await progress.run(steps)

    async def _post_menu(self, openid: str, part: dict[str, Any], start: int) -> None:
        try:
            await self.post_message(part)
        except MenusRefused:
            if self.menus:
                log.warning("WeChat refuses menu messages (40200): choices are lists now")
            self.menus = False
            for text in menu_as_numbered(part, await self._prompt(openid), start=start):
                await self.post_message(text)

    async def _post_image(self, message: dict[str, Any], stored_by_id: Mapping[str, str]) -> None:
        """An image message; a stored photo whose MediaId WeChat has forgotten goes again."""
        media_id = (message.get("image") or {}).get("media_id", "")
        sha256 = stored_by_id.get(media_id)
        if sha256 is None:
            await self.post_message(message)
            return
        try:
            await self.post_message(message)
        except InvalidMediaId:
            # Expired (three days) or forgotten: upload the stored file again, send once more.
            self.uploaded.pop(sha256, None)
            fresh = await self.upload_image(sha256)
            if fresh is None:
                raise
            await self.post_message({**message, "image": {"media_id": fresh}})

    # --- media ------------------------------------------------------------------------------

    async def media_id_for(self, stored: StoredRef) -> str | None:
        """A MediaId for a stored photo: one we uploaded lately (it replaced an expired one, or
        the photo came from elsewhere), else its own, else a new upload."""
        cached = self.uploaded.get(stored.sha256)
        if cached is not None and self.clock() < cached[1]:
            return cached[0]
        if stored.platform_id is not None:
            return stored.platform_id
        return await self.upload_image(stored.sha256)

    async def upload_image(self, sha256: str) -> str | None:
        """Upload a stored photo as temporary media; None when the store does not have it."""
        data = await self.store.read(sha256) if self.store is not None else None
        if data is None:
            log.warning("dropped a stored photo %s…: not in the media store", sha256[:12])
            return None
        path = "/cgi-bin/media/upload"
        for attempt in range(2):
            token = await self.access_token()
            form = aiohttp.FormData()
            form.add_field(
                "media",
                data,
                filename=f"{sha256[:16]}.jpg",
                content_type=sniff_type(data) or "application/octet-stream",
            )
            try:
                async with self._session().post(
                    self.base_url + path, params={"access_token": token, "type": "image"}, data=form
                ) as response:
                    if response.status != 200:
                        raise RetryLater(f"HTTP {response.status} from {path}")
                    result = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise RetryLater(f"{path}: {type(exc).__name__}") from None
            if not isinstance(result, dict):
                raise RetryLater(f"{path}: the answer is not a JSON object")
            media_id = result.get("media_id")
            if isinstance(media_id, str) and media_id:
                self.uploaded[sha256] = (media_id, self.clock() + MEDIA_LIFETIME)
                return media_id
            code = _errcode(result)
            if code in TOKEN_ERRORS and attempt == 0:
                self.forget_token(token)
                continue
            raise RetryLater(f"{path}: wechat errcode {code}: {str(result.get('errmsg'))[:200]}")
        return None  # not reached: the loop returns or raises

    async def download(self, media_id: str, *, max_bytes: int) -> bytes:
        """``/cgi-bin/media/get``: the file's bytes, or `MediaUnavailable`."""
        path = "/cgi-bin/media/get"
        for attempt in range(2):
            try:
                token = await self.access_token()
            except RetryLater as exc:
                raise MediaUnavailable(str(exc)) from None
            try:
                async with self._session().get(
                    self.base_url + path, params={"access_token": token, "media_id": media_id}
                ) as response:
                    if response.status != 200:
                        raise MediaUnavailable(f"HTTP {response.status} from {path}")
                    if response.content_type in ("application/json", "text/plain"):
                        result = await response.json(content_type=None)
                        data = None
                    else:
                        if (response.content_length or 0) > max_bytes:
                            raise MediaUnavailable(
                                f"{response.content_length} bytes, over the limit of {max_bytes}",
                                refused=True,
                            )
                        data = await response.content.read(max_bytes + 1)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise MediaUnavailable(f"{path}: {type(exc).__name__}") from None
            if data is not None:
                if len(data) > max_bytes:
                    raise MediaUnavailable(f"over the limit of {max_bytes} bytes", refused=True)
                return data
            code = _errcode(result if isinstance(result, dict) else {})
            if code in TOKEN_ERRORS and attempt == 0:
                self.forget_token(token)
                continue
            detail = f"{path}: wechat errcode {code}"
            if code == INVALID_MEDIA_ID:
                raise MediaUnavailable(
                    f"{detail} — WeChat no longer has the file (media is kept three days)",
                    final=True,
                )
            raise MediaUnavailable(detail)
        raise MediaUnavailable(f"{path}: the access token was refused twice")


def _errcode(result: dict[str, Any]) -> int | None:
    try:
        return int(result.get("errcode", -1))
    except (TypeError, ValueError):
        return None


class WeChatMedia:
    """Downloads a MediaId for the media fetcher, with the sender's access token."""

    def __init__(self, sender: WeChatSender) -> None:
        self.sender = sender

    async def fetch(self, file_ref: str, *, max_bytes: int) -> bytes:
        if not _MEDIA_ID_RE.fullmatch(file_ref):
            raise MediaUnavailable(f"{describe(file_ref)} is not a WeChat MediaId", final=True)
        return await self.sender.download(file_ref, max_bytes=max_bytes)


def _json_dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- the channel


class _Unauthenticated(Exception):
    """The request's signature does not match."""


def _refusal(status: int, text: str) -> web.Response:
    """A refusal of an authenticated request: WeChat's own, so not counted against its source."""
    return web.Response(status=status, text=text)


class WeChatChannel:
    """The ``/wechat`` webhook and the sender; one person's messages are handled in order."""

    def __init__(
        self,
        settings: Settings,
        process: Process,
        *,
        clock: Clock = utcnow,
        locale_of: LocaleOf | None = None,
        store: MediaStore | None = None,
        tokens: TokenStore | None = None,
        budget: SharedBudget | None = None,
    ) -> None:
        """`locale_of(openid)`: the language a person chose, for the few texts the channel
        itself writes (how to answer a numbered list); `tokens` and `budget`: see
        `WeChatSender`."""
        if not settings.wechat_token:
            raise ValueError("WECHAT_TOKEN is needed to check WeChat's signatures")
        self.settings = settings
        self.process = process
        self.clock = clock
        self.crypto = (
            WeChatCrypto(settings.wechat_aes_key, settings.wechat_app_id)
            if settings.wechat_aes_key
            else None
        )
        self.sender = WeChatSender(
            settings, clock=clock, locale_of=locale_of, store=store, tokens=tokens, budget=budget
        )
        self.media = WeChatMedia(self.sender)
        self.lanes = ChatLanes()
        self.refusals = RefusalThrottle()

    def _fresh(self, timestamp: str) -> bool:
        # ASCII digits only: str.isdigit() also takes "²" and "١", which int() refuses or reads.
        if not _TIMESTAMP_RE.fullmatch(timestamp):
            return False
        return abs(self.clock().timestamp() - int(timestamp)) <= MAX_CLOCK_SKEW_SECONDS

    def _signed(self, query: Mapping[str, str], key: str, *extra: str) -> bool:
        """The request is fresh and `query[key]` is WeChat's signature over token, timestamp,
        nonce and `extra`. A nonce of odd characters (aiohttp hands undecodable bytes over as
        surrogates) is refused before it is encoded."""
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not self._fresh(timestamp) or not _PRINTABLE_RE.fullmatch(nonce):
            return False
        return signature_matches(
            query.get(key), self.settings.wechat_token, timestamp, nonce, *extra
        )

    def _refuse(self, source: str, status: int, text: str) -> web.Response:
        """A refusal counted against the source: genuine WeChat requests are never refused."""
        self.refusals.refused(source)
        return web.Response(status=status, text=text)

    async def verify(self, request: web.Request) -> web.Response:
        """GET /wechat: the server check when the URL is saved in the Official Account admin."""
        source = source_of(request)
        wait = self.refusals.retry_after(source)
        if wait is not None:
            return shut_out(wait)
        if not self._signed(request.query, "signature"):
            return self._refuse(source, 401, "unauthorized")
        echostr = request.query.get("echostr", "")
        if not _PRINTABLE_RE.fullmatch(echostr):  # WeChat's is a random number
            return self._refuse(source, 400, "echostr is not printable ASCII")
        return web.Response(text=echostr)

    async def receive(self, request: web.Request) -> web.Response:
        """POST /wechat: check, decrypt and parse; answer ``success`` once the message is stored.

        WeChat forgets a message once it is answered, so the answer waits until the message's
        transaction (its effects, its replies in the outbox and its MsgId) has committed: a crash
        after answering loses nothing. WeChat retries a message not answered within 5 s, up to
        three times; a retry waits in the person's lane behind the first delivery, and the stored
        MsgId makes it change nothing.
        """
        source = source_of(request)
        wait = self.refusals.retry_after(source)
        if wait is not None:
            return shut_out(wait)
        query = request.query
        # Plaintext mode authenticates before reading; safe mode signs the Encrypt field, so the
        # body is read first, and what is refused before the signature is checked is counted.
        safe = self.crypto is not None
        if not self._fresh(query.get("timestamp", "")) or not (
            query.get("msg_signature") if safe else self._signed(query, "signature")
        ):
            return self._refuse(source, 401, "unauthorized")
        try:
            body = await read_limited(request, MAX_BODY_BYTES)
        except TooLarge:
            return self._refuse(source, 413, "too large") if safe else _refusal(413, "too large")
        try:
            fields = self._fields(query, body)
        except BadMessage as exc:
            log.warning("refused a WeChat request: %s", exc)
            if exc.unauthenticated:
                return self._refuse(source, 400, "bad request")
            return _refusal(400, "bad request")
        except _Unauthenticated:
            return self._refuse(source, 401, "unauthorized")
        inbound = message_to_inbound(fields)
        if inbound is not None:
            self.sender.windows.opened(inbound.user_id)  # before any reply can go out
            stored = asyncio.get_running_loop().create_future()
            handling = await self.lanes.submit(
                inbound.chat_id, lambda: self._store(inbound, stored)
            )
            # Not cancelled with the request: should WeChat hang up, the message is still
            # stored, and its retry finds the MsgId.
            await asyncio.wait({handling})
            if stored.done() and not stored.result():
                # "success" (or an empty body) would tell WeChat to forget the message. WeChat
                # retries a message it has no answer for within 5 s; by now it has hung up and
                # is retrying, and a retry that finds the database back stores the message once.
                return web.Response(
                    status=503, text="not stored; send it again", headers={"Retry-After": "5"}
                )
        return web.Response(text="success")

    async def _store(self, inbound: Inbound, stored: asyncio.Future[bool]) -> None:
        """Handle one message in its lane; `stored` says whether it was stored (or was already):
        False when the database stayed unreachable (`NotStored`)."""
        try:
            await self.process(inbound)
        except NotStored:
            log.warning(
                "WeChat message %s was not stored: the database stayed unreachable",
                inbound.update_id,
            )
            stored.set_result(False)
        else:
            stored.set_result(True)

    def _fields(self, query: Mapping[str, str], body: bytes) -> dict[str, str]:
        """The message's fields, from a request whose timestamp (and, in plaintext mode,
        signature) has been checked; `_Unauthenticated` for a wrong msg_signature, `BadMessage`
        for a body that is no message (marked unauthenticated when it came before the check)."""
        if self.crypto is None:
            return parse_message(body)
        try:
            encrypted = parse_message(body).get("Encrypt", "").strip()
        except BadMessage as exc:
            exc.unauthenticated = True
            raise
        if not self._signed(query, "msg_signature", encrypted):
            raise _Unauthenticated
        return parse_message(self.crypto.decrypt(encrypted).encode())

    async def start(self) -> None:
        """Nothing to connect: WeChat calls us; the sender opens its HTTP session when needed."""

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.lanes.drain(), timeout=10)
        await self.sender.close()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(WEBHOOK_PATH, self.verify)
        app.router.add_post(WEBHOOK_PATH, self.receive)

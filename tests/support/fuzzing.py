"""Hostile inputs for every door, as hypothesis strategies, and what a fuzz run checks.

Shared by the fuzz tests (a few hundred examples each, ``JINGTU_FUZZ_EXAMPLES`` for more) and
``bench/fuzz.py`` (10,000 per door). Each strategy says whether what it drew is *invalid*: an
input that must be refused and change nothing in the database. What is drawn covers what a
forger would try: random fields, types and sizes, Tibetan and right-to-left text, objects and
arrays where ids go, broken JSON and XML, bodies that are not UTF-8.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.storage.db import Database
from bot.storage.models import Case, OutboxMessage, Person, ProcessedUpdate

# Examples per fuzz test in the suite; JINGTU_FUZZ_EXAMPLES=10000 for a long run.
FUZZ_EXAMPLES = int(os.environ.get("JINGTU_FUZZ_EXAMPLES", "300"))

TEXTS = st.sampled_from(
    [
        "",
        "བཀྲ་ཤིས་བདེ་ལེགས།",  # Tibetan
        "ཆུ་རྙོག་པ་འདུག ཤིང་ཚལ་ཁར།",
        "مرحبا بالعالم",  # Arabic, right to left
        "שלום",  # Hebrew
        "\u202eevil\u202c",  # right-to-left override
        "/report",
        "/start x",
        "0" * 70,
        "\x00",
        "💩" * 3,
    ]
) | st.text(max_size=40)
# Sizes around the limits that matter: a WeChat text message (2,048 bytes), an id (64).
SIZED_TEXTS = st.sampled_from([63, 64, 65, 683, 2_049, 20_000]).map(lambda n: "ཀ" * n)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=3),
    max_leaves=8,
)


# --------------------------------------------------------------------------- Telegram updates

ID_PATHS = [
    ("update_id",),
    ("message", "chat", "id"),
    ("message", "from", "id"),
    ("message", "message_id"),
    ("message", "date"),
    ("message", "chat"),
    ("message", "from"),
    ("message",),
]
OTHER_PATHS = [
    ("message", "text"),
    ("message", "photo"),
    ("message", "location"),
    ("message", "entities"),
    ("message", "reply_to_message"),
    ("message", "chat", "type"),
    ("message", "from", "language_code"),
    ("message", "from", "first_name"),
]


def valid_update(update_id: int, user_id: int) -> dict[str, Any]:
    chat = {"id": user_id, "type": "private", "first_name": "F"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "from": {"id": user_id, "is_bot": False, "first_name": "F"},
            "chat": chat,
            "text": "/help",
        },
    }


def put(update: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = update
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


HOSTILE_IDS = (
    st.integers(min_value=2**63)
    | st.integers(max_value=-(2**63))
    | st.floats()
    | st.booleans()
    | st.none()
    | st.text(max_size=80).filter(lambda s: not s.lstrip("-").isascii() or not s.isdigit())
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(TEXTS, SCALARS, max_size=2)
)


@st.composite
def forged_updates(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """An update with junk in some fields; True when an id was forged (it must write nothing)."""
    update = valid_update(draw(st.integers(1, 2**31)), draw(st.integers(10**6, 10**7)))
    forged_id = draw(st.booleans())
    if forged_id:
        put(update, draw(st.sampled_from(ID_PATHS)), draw(HOSTILE_IDS))
    for path in draw(st.lists(st.sampled_from(OTHER_PATHS), max_size=3, unique=True)):
        junk = draw(st.one_of(JUNK, SIZED_TEXTS))
        # A part of the path may have been replaced by junk already: then there is nothing to put.
        with contextlib.suppress(KeyError, TypeError):
            put(update, path, junk)
    return update, forged_id


# --------------------------------------------------------------------------- WeChat messages

_OPENID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DECIMAL_RE = re.compile(r"[0-9]{1,20}")

# How a value is written into the XML: in CDATA (as WeChat writes strings), escaped text (as
# WeChat writes numbers), or a raw fragment (nested elements: a wrong type; or broken markup).
XmlValue = tuple[str, str]


def cdata(text: str) -> XmlValue:
    return ("cdata", text)


def bare(text: str) -> XmlValue:
    return ("bare", text)


def raw(fragment: str) -> XmlValue:
    return ("raw", fragment)


def render_xml(fields: list[tuple[str, XmlValue]]) -> str:
    parts = ["<xml>"]
    for key, (how, text) in fields:
        if how == "cdata":
            inner = "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
        elif how == "bare":
            inner = escape(text)
        else:
            inner = text
        parts.append(f"<{key}>{inner}</{key}>")
    parts.append("</xml>")
    return "".join(parts)


WX_TEXT = TEXTS | SIZED_TEXTS
WX_NUMBERS = (
    st.integers().map(str)
    | st.floats().map(str)
    | st.sampled_from(["nan", "inf", "-inf", "1e400", "1_0", "٣", "²", "０", " 29.5 "])
)
WX_VALUES = st.one_of(
    WX_TEXT.map(cdata),
    WX_TEXT.map(bare),
    WX_NUMBERS.map(bare),
    st.sampled_from(["<a>1</a>", "<a/><b>x</b>", "", "<![CDATA[]]>"]).map(raw),
)
WX_KEYS = [
    "ToUserName",
    "MsgType",
    "Content",
    "Location_X",
    "Location_Y",
    "Scale",
    "Label",
    "MediaId",
    "PicUrl",
    "Format",
    "Recognition",
    "Event",
    "EventKey",
    "bizmsgmenuid",
    "Ticket",
    "Latitude",
]
KIND_FIELDS: dict[str, list[tuple[str, st.SearchStrategy[XmlValue]]]] = {
    "text": [("Content", WX_TEXT.map(cdata))],
    "image": [("PicUrl", st.just(cdata("http://mmbiz.qpic.cn/x/0"))), ("MediaId", WX_VALUES)],
    "voice": [
        ("MediaId", WX_VALUES),
        ("Format", st.just(cdata("amr"))),
        ("Recognition", WX_VALUES),
    ],
    "location": [
        ("Location_X", st.floats(-90, 90).map(lambda f: bare(f"{f:.6f}")) | WX_VALUES),
        ("Location_Y", st.floats(-180, 180).map(lambda f: bare(f"{f:.6f}")) | WX_VALUES),
        ("Scale", st.just(bare("15"))),
        ("Label", WX_TEXT.map(cdata)),
    ],
    "event": [
        (
            "Event",
            st.sampled_from(["subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW", "LOCATION"]).map(
                cdata
            )
            | WX_VALUES,
        ),
        ("EventKey", st.sampled_from(["report", "qrscene_abc", "mycases"]).map(cdata) | WX_VALUES),
    ],
    "video": [("MediaId", WX_VALUES)],
    "link": [("Title", WX_TEXT.map(cdata)), ("Url", WX_TEXT.map(cdata))],
}
HOSTILE_OPENIDS = st.text(max_size=80).filter(lambda s: not _OPENID_RE.fullmatch(s.strip()))
HOSTILE_DECIMALS = st.sampled_from(["9" * 65, "-1", "1.5", "１２", "0x10", "1e3"]) | st.text(
    max_size=30
).filter(lambda s: bool(s.strip()) and not _DECIMAL_RE.fullmatch(s.strip()))


@st.composite
def wechat_messages(draw: st.DrawFn, openids: st.SearchStrategy[str]) -> tuple[bytes, bool]:
    """A WeChat message body, plaintext XML; True when it must be refused and change nothing
    (a forged OpenID, MsgId or CreateTime, or a body that is not well-formed XML)."""
    kind = draw(st.sampled_from([*KIND_FIELDS, "shortvideo", "junk"]))
    fields: list[tuple[str, XmlValue]] = [
        ("ToUserName", cdata("gh_3f5e8a9b1c2d")),
        ("FromUserName", cdata(draw(openids))),
        ("CreateTime", bare(str(draw(st.integers(1_600_000_000, 1_900_000_000))))),
        ("MsgType", cdata(kind if kind != "junk" else draw(WX_TEXT))),
    ]
    fields += [(key, draw(values)) for key, values in KIND_FIELDS.get(kind, [])]
    if kind != "event":
        fields.append(("MsgId", bare(str(draw(st.integers(1, 10**19))))))
    for key in draw(st.lists(st.sampled_from(WX_KEYS), max_size=3, unique=True)):
        fields.append((key, draw(WX_VALUES)))  # a repeated tag: the last one counts
    forged = draw(st.booleans())
    if forged:
        which = draw(st.sampled_from(["FromUserName", "MsgId", "CreateTime"]))
        hostile = HOSTILE_OPENIDS if which == "FromUserName" else HOSTILE_DECIMALS
        value = (
            draw(hostile.map(cdata) | st.just(raw("<a>12</a><b/>")))
            if which == "FromUserName"
            else draw(hostile.map(cdata))
        )
        fields = [(k, v) for k, v in fields if k != which] + [(which, value)]
    body = render_xml(draw(st.permutations(fields))).encode()
    damage = draw(st.sampled_from(["none"] * 6 + ["truncate", "doctype", "binary", "latin1"]))
    if damage == "truncate":
        return body[: draw(st.integers(0, len(body) - 1))], True
    if damage == "doctype":
        return b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "b">]>' + body, True
    if damage == "binary":
        return draw(st.binary(max_size=200)), True
    if damage == "latin1":
        # Not UTF-8 (unless it is all ASCII): refused, or read as it stands.
        return render_xml(fields).encode("latin-1", errors="replace"), forged
    return body, forged


# --------------------------------------------------------------------------- what is checked


async def database_counts(database: Database) -> tuple[int, ...]:
    """Rows an inbound message can add: people, update ids, cases and outbox messages."""
    async with database.reader() as s:
        return tuple(
            [
                int(await s.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Person, ProcessedUpdate, Case, OutboxMessage)
            ]
        )


class ErrorRecords(logging.Handler):
    """Counts log records at ERROR and above (a traceback is logged at ERROR)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

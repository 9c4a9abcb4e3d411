"""An in-process fake of the Telegram Bot API, speaking the real HTTP protocol on loopback.

A real ``telegram.Bot`` / ``telegram.ext.Application`` talks to it over HTTP exactly as it would
talk to ``api.telegram.org``: point ``base_url``/``base_file_url`` at :attr:`FakeBotApi.base_url`
and :attr:`FakeBotApi.base_file_url`. Tests push what users do (``user_text``, ``user_photo``,
``user_callback`` …) and inspect or await what the bot did (``sent_to``, ``wait_for_messages``,
``calls``). Faults (``fail_next``, ``block_chat``) and flood limits (``set_rate_limits``) are
injectable.

Fidelity notes, where the fake copies behaviour of the real server that code may trip over:

* ``parse_mode="HTML"`` is parsed the way Telegram does: the returned (and recorded) ``text``/
  ``caption`` is plain text plus ``entities``; unsupported tags (``<br>``, ``<p>`` …), unclosed or
  mismatched tags and stray ``<`` fail with 400 "can't parse entities". The raw request text is in
  :attr:`FakeBotApi.calls`. Markdown modes are not parsed: the text is echoed unchanged.
* Limits: text over 4096 UTF-16 units, captions over 1024, empty text, callback_data over 64
  bytes, invalid bot commands → 400. Editing to identical content → 400 "message is not modified".
* Only inline keyboards appear in returned messages (as on Telegram); :meth:`sent_to` keeps the
  ``reply_markup`` exactly as the bot sent it, whatever its kind.
* Updates stay queued until acknowledged by a later ``getUpdates`` ``offset``, so an update is
  never lost when a long poll is abandoned. ``getUpdates`` while a webhook is set → 409.
* Unknown file ids are accepted by ``sendPhoto`` (and registered), but ``getFile`` only knows
  files it has seen. Every file part of a multipart request is kept in :attr:`FakeBotApi.uploads`
  (tests check that nothing was uploaded that should not have been).
* Forged updates: :meth:`FakeBotApi.push_update` takes any dict. One whose ``update_id`` is not
  an ordinary update id (not an integer, or one of over 15 digits) is handed out by the next
  ``getUpdates`` after the pending ones, once, and never enters the id sequence: no offset can
  confirm it, and it must not push later updates' ids out of range.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import pprint
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypedDict, Unpack

from aiohttp import web

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"

# Parameters the Bot API types as String. PTB sends every string parameter raw in form data and
# everything else JSON-encoded, so all other form values are JSON-decoded — but these must stay
# strings (a caption "42" or a callback_query_id "123" is not a number).
_STRING_PARAMS = frozenset(
    {
        "action",
        "address",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "description",
        "emoji",
        "file_id",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
        "inline_message_id",
        "ip_address",
        "language_code",
        "message_effect_id",
        "parse_mode",
        "photo",
        "secret_token",
        "text",
        "title",
        "url",
    }
)
# Parameters that are JSON objects/arrays; in a JSON body they may still arrive JSON-encoded.
_JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "entities",
        "link_preview_options",
        "media",
        "reply_markup",
        "reply_parameters",
        "scope",
    }
)
# Methods that create messages: rate limited, counted in stats["sent"].
_MESSAGE_METHODS = frozenset(
    {"sendMessage", "sendLocation", "sendVenue", "sendPhoto", "sendMediaGroup"}
)
# Methods that fail with 403 when the user blocked the bot.
_CHAT_METHODS = _MESSAGE_METHODS | {"sendChatAction", "editMessageText", "editMessageReplyMarkup"}

_INLINE_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "callback_game",
        "copy_text",
        "login_url",
        "pay",
        "switch_inline_query",
        "switch_inline_query_chosen_chat",
        "switch_inline_query_current_chat",
        "url",
        "web_app",
    }
)
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,})?")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
# A tiny stand-in for photo contents (JPEG start/end markers around filler).
_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-photo\xff\xd9"


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (``params`` hold it in place of the file id)."""

    field: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class _StoredFile:
    file_unique_id: str
    file_path: str
    content: bytes


@dataclass(frozen=True)
class _Fault:
    error_code: int
    description: str
    retry_after: int | None


class _ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.code)


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


class UserKw(TypedDict, total=False):
    """Optional sender details for the ``user_*`` builders."""

    first_name: str
    last_name: str
    username: str
    language_code: str
    update_id: int


# --------------------------------------------------------------------------- helpers


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def _normalise_chat_id(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _decode_form_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# --------------------------------------------------------------------------- HTML parse mode

_HTML_TAGS = {
    "a": "text_link",
    "b": "bold",
    "blockquote": "blockquote",
    "code": "code",
    "del": "strikethrough",
    "em": "italic",
    "i": "italic",
    "ins": "underline",
    "pre": "pre",
    "s": "strikethrough",
    "span": "spoiler",
    "strike": "strikethrough",
    "strong": "bold",
    "tg-emoji": "custom_emoji",
    "tg-spoiler": "spoiler",
    "tg-time": "date_time",
    "u": "underline",
}
_ATTR = r"[A-Za-z][A-Za-z0-9_-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?"
_TAG_RE = re.compile(rf"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+{_ATTR})*)\s*>")
_ATTR_RE = re.compile(
    r"([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?"
)
_HTML_ENTITY_RE = re.compile(r"&(?:#(\d+)|#[xX]([0-9a-fA-F]+)|(lt|gt|amp|quot));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_char(match: re.Match[str]) -> str | None:
    if match[3]:
        return _NAMED_ENTITIES[match[3]]
    code = int(match[1]) if match[1] else int(match[2], 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _html_unescape(text: str) -> str:
    return _HTML_ENTITY_RE.sub(lambda m: _html_char(m) or m[0], text)


def _parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Turn Telegram-flavoured HTML into (plain text, entities) like the Bot API does.

    Raises ValueError with a Telegram-like message for markup Telegram rejects.
    """
    out: list[str] = []
    pos = 0  # current UTF-16 offset in the plain text
    stack: list[tuple[str, dict[str, str], int]] = []
    entities: list[JSONDict] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&" and (m := _HTML_ENTITY_RE.match(source, i)) and (decoded := _html_char(m)):
            out.append(decoded)
            pos += _utf16_len(decoded)
            i = m.end()
            continue
        if char != "<":
            out.append(char)
            pos += _utf16_len(char)
            i += 1
            continue
        byte_offset = len(source[:i].encode())
        tag = _TAG_RE.match(source, i)
        if tag is None:
            raise ValueError(f"Unclosed start tag at byte offset {byte_offset}")
        name = tag[2].lower()
        if tag[1]:  # end tag
            if tag[3].strip():
                raise ValueError(f"Unclosed end tag at byte offset {byte_offset}")
            if not stack:
                raise ValueError(f'Unexpected end tag "{name}" at byte offset {byte_offset}')
            open_name, attrs, start = stack.pop()
            if open_name != name:
                raise ValueError(
                    f'Unmatched end tag at byte offset {byte_offset}, expected "</{open_name}>", '
                    f'found "</{name}>"'
                )
            if (entity := _html_entity(name, attrs, start, pos - start, stack)) is not None:
                entities.append(entity)
        else:
            if name not in _HTML_TAGS:
                raise ValueError(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
            attrs = {
                a[1].lower(): _html_unescape(next((v for v in a.groups()[1:] if v is not None), ""))
                for a in _ATTR_RE.finditer(tag[3])
            }
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise ValueError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset}'
                )
            stack.append((name, attrs, pos))
        i = tag.end()
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _html_entity(
    name: str,
    attrs: dict[str, str],
    offset: int,
    length: int,
    stack: list[tuple[str, dict[str, str], int]],
) -> JSONDict | None:
    if length == 0:
        return None
    entity: JSONDict = {"type": _HTML_TAGS[name], "offset": offset, "length": length}
    if name == "a":
        if not attrs.get("href"):
            return None
        entity["url"] = attrs["href"]
    elif name == "code" and attrs.get("class", "").startswith("language-"):
        if stack and stack[-1][0] == "pre":  # <pre><code class="language-x"> → pre(language)
            stack[-1][1]["language"] = attrs["class"].removeprefix("language-")
            return None
    elif name == "pre" and "language" in attrs:
        entity["language"] = attrs["language"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        if not attrs.get("emoji-id"):
            return None
        entity["custom_emoji_id"] = attrs["emoji-id"]
    elif name == "tg-time":
        if not attrs.get("unix", "").isdigit():
            return None
        entity["unix_time"] = int(attrs["unix"])
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
    return entity


# --------------------------------------------------------------------------- rate limiting


def busiest_within(stamps: Sequence[float], window: float = 1.0) -> int:
    """The most of the (ascending) `stamps` within any rolling `window` seconds."""
    most, first = 0, 0
    for last, now in enumerate(stamps):
        while stamps[first] <= now - window:
            first += 1
        most = max(most, last - first + 1)
    return most


class _SlidingWindow:
    """Admits ``per_second`` events per sliding one-second window.

    Rates below one become one event per ``1/rate`` seconds; fractional rates above one are
    floored.
    """

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive")
        if per_second >= 1:
            self.capacity, self.window = int(per_second), 1.0
        else:
            self.capacity, self.window = 1, 1.0 / per_second
        self.stamps: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        """Seconds until the next event is admitted (0 when admitted now)."""
        while self.stamps and self.stamps[0] <= now - self.window:
            self.stamps.popleft()
        if len(self.stamps) < self.capacity:
            return 0.0
        return self.stamps[0] + self.window - now

    def record(self, now: float) -> None:
        self.stamps.append(now)


# --------------------------------------------------------------------------- the fake server

_Handler = Callable[[JSONDict], Coroutine[Any, Any, Any]]


class FakeBotApi:
    """The fake Bot API server. Start it, then point PTB at ``base_url``/``base_file_url``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "jingtu_test_bot",
        bot_first_name: str = "Jingtu Test",
        first_update_id: int = 1,
    ) -> None:
        """`first_update_id`: where update ids start (Telegram's carry on across a restart)."""
        self.token = token
        self.bot_user: JSONDict = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.calls: list[tuple[str, JSONDict]] = []
        self.stats: Counter[str] = Counter()
        # When each request of a message-sending method arrived (the fake's clock), admitted
        # or refused with 429: what `busiest_second` counts.
        self.send_attempts: list[float] = []
        self.webhook: JSONDict | None = None
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.files: dict[str, _StoredFile] = {}
        self.uploads: list[UploadedFile] = []  # every file part received, in order
        self.port = 0

        self._updates: list[JSONDict] = []
        self._forged: list[JSONDict] = []  # updates with ids no offset confirms: sent once
        # Called with the ids an offset confirms, before they are forgotten (tests check that
        # the bot stored them first).
        self.on_confirm: Callable[[list[int]], Awaitable[None]] | None = None
        self._next_update_id = first_update_id
        self._allowed_updates: list[str] = []
        self._chats: dict[int, JSONDict] = {}
        self._usernames: dict[str, int] = {}
        self._message_seq: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._sent: dict[int, list[int]] = {}
        self._callbacks: dict[str, bool] = {}  # callback_query id -> answered
        self._faults: dict[str, deque[_Fault]] = {}
        self._blocked: set[int] = set()
        self._clock: Callable[[], float] = time.monotonic
        self._global_window: _SlidingWindow | None = None
        self._per_chat_rate: float | None = None
        self._chat_windows: dict[int, _SlidingWindow] = {}
        self._serial = itertools.count(1)
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None

        self._methods: dict[str, _Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendLocation": self._send_location,
            "sendVenue": self._send_venue,
            "sendPhoto": self._send_photo,
            "sendMediaGroup": self._send_media_group,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "getFile": self._get_file,
            "close": self._true,
            "logOut": self._true,
        }
        # Bot API method names are case-insensitive.
        self._canonical = {name.lower(): name for name in self._methods}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=2.0, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._closing = False
        self.port = runner.addresses[0][1]  # the bound socket of the site's server

    async def stop(self) -> None:
        """Wake pending long polls (they answer ``[]``) and shut the server down."""
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """PTB ``base_url``: PTB appends the token, requests hit ``/bot<TOKEN>/<method>``."""
        self._require_started()
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        self._require_started()
        return f"http://127.0.0.1:{self.port}/file/bot"

    def _require_started(self) -> None:
        if self._runner is None:
            raise RuntimeError("FakeBotApi is not started")

    # ------------------------------------------------------------------ inbound: what users do

    def push_update(self, update: JSONDict) -> Any:
        """Queue a raw Update dict for getUpdates; assigns a monotonic ``update_id`` if missing.

        An update whose ``update_id`` is not an ordinary one (see the module notes) is sent once
        by the next getUpdates and does not move the id sequence."""
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        if not _ordinary_update_id(update["update_id"]):
            self._forged.append(update)
            self._notify()
            return update["update_id"]
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self._updates.append(update)
        self._updates.sort(key=lambda u: u["update_id"])
        self._notify()
        return int(update["update_id"])

    def user_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Test",
        language_code: str = "zh-hans",
        update_id: int | None = None,
        username: str | None = None,
    ) -> JSONDict:
        """A private-chat text message; a leading ``/command`` gets its bot_command entity."""
        content: JSONDict = {"text": text}
        if command := _COMMAND_RE.match(text):
            length = _utf16_len(command[0])
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        kw: UserKw = {"first_name": first_name, "language_code": language_code}
        if update_id is not None:
            kw["update_id"] = update_id
        if username is not None:
            kw["username"] = username
        return self._user_message(user_id, content, **kw)

    def user_location(self, user_id: int, lat: float, lon: float, **kw: Unpack[UserKw]) -> JSONDict:
        location = {"latitude": lat, "longitude": lon}
        return self._user_message(user_id, {"location": location}, **kw)

    def user_venue(
        self,
        user_id: int,
        lat: float,
        lon: float,
        title: str,
        address: str,
        **kw: Unpack[UserKw],
    ) -> JSONDict:
        location = {"latitude": lat, "longitude": lon}
        venue = {"location": location, "title": title, "address": address}
        return self._user_message(user_id, {"venue": venue, "location": location}, **kw)

    def user_photo(
        self,
        user_id: int,
        file_id: str | None = None,
        caption: str | None = None,
        *,
        content: bytes = _FAKE_JPEG,
        **kw: Unpack[UserKw],
    ) -> JSONDict:
        """A photo message; the largest size carries ``file_id`` (downloadable via getFile)."""
        file_id = file_id or f"AgACAgUAAxkBAAI{next(self._serial):06d}-user-photo"
        message: JSONDict = {"photo": self._photo_sizes(file_id, content)}
        if caption is not None:
            message["caption"] = caption
        return self._user_message(user_id, message, **kw)

    def user_callback(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int | None = None,
        **kw: Unpack[UserKw],
    ) -> JSONDict:
        """A button press. Without ``message_id`` the newest bot message in the chat with a
        button carrying ``data`` is used; failing that, a plausible bot message is fabricated
        (and becomes editable)."""
        user, chat = self._user_and_chat(user_id, kw)
        message = None
        if message_id is not None:
            message = self._messages.get((user_id, message_id))
        else:
            for sent_id in reversed(self._sent.get(user_id, [])):
                candidate = self._messages[(user_id, sent_id)]
                if data in _callback_datas(candidate.get("reply_markup")):
                    message = candidate
                    break
        if message is None:
            if message_id is None:
                message_id = self._next_message_id(user_id)
            else:  # keep later message ids above the fabricated one
                seq = self._message_seq.get(user_id, 0)
                self._message_seq[user_id] = max(seq, message_id)
            markup = {"inline_keyboard": [[{"text": data, "callback_data": data}]]}
            message = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": chat,
                "date": int(time.time()),
                "text": "…",
                "reply_markup": markup,
            }
            self._messages[(user_id, message["message_id"])] = message
        query_id = str(4_000_000_000_000_000_000 + next(self._serial))
        self._callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": user,
            "chat_instance": str(8_000_000_000_000_000_000 + abs(user_id)),
            "data": data,
            "message": _public(message),
        }
        update: JSONDict = {"callback_query": query}
        if "update_id" in kw:
            update["update_id"] = kw["update_id"]
        self.push_update(update)
        return update

    def _user_and_chat(self, user_id: int, kw: UserKw) -> tuple[JSONDict, JSONDict]:
        user: JSONDict = {
            "id": user_id,
            "is_bot": False,
            "first_name": kw.get("first_name", "Test"),
            "language_code": kw.get("language_code", "zh-hans"),
        }
        chat: JSONDict = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in kw:
                user[key] = chat[key] = kw[key]
        self._chats[user_id] = chat
        return user, chat

    def _user_message(self, user_id: int, content: JSONDict, **kw: Unpack[UserKw]) -> JSONDict:
        user, chat = self._user_and_chat(user_id, kw)
        message = {
            "message_id": self._next_message_id(user_id),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        self._messages[(user_id, message["message_id"])] = message
        update: JSONDict = {"message": message}
        if "update_id" in kw:
            update["update_id"] = kw["update_id"]
        self.push_update(update)
        return update

    # ------------------------------------------------------------------ outbound: what the bot did

    def sent_to(self, chat_id: int | str) -> list[JSONDict]:
        """Messages the bot sent to the chat, in order (current state, after any edits)."""
        chat = self._resolve_chat_id(_normalise_chat_id(chat_id))
        return [self._messages[(chat, mid)] for mid in self._sent.get(chat, [])]

    async def wait_for_messages(
        self,
        chat_id: int | str,
        count: int,
        timeout: float = 10.0,
    ) -> list[JSONDict]:
        """Wait until at least ``count`` messages were sent to the chat; return all of them."""
        if not await self._wait_until(lambda: len(self.sent_to(chat_id)) >= count, timeout):
            raise AssertionError(
                f"expected {count} message(s) to chat {chat_id} within {timeout}s, "
                f"got {len(self.sent_to(chat_id))}\n{self.dump(chat_id)}"
            )
        return self.sent_to(chat_id)

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] | None = None,
        timeout: float = 10.0,
        *,
        since: int = 0,
    ) -> JSONDict:
        """Return the params of the first call of ``method`` (from index ``since`` of
        :attr:`calls`, failed calls included) matching ``predicate``; wait if there is none."""
        canonical = self._canonical_method(method)
        found: list[JSONDict] = []

        def match() -> bool:
            for name, params in self.calls[since:]:
                if name == canonical and (predicate is None or predicate(params)):
                    found.append(params)
                    return True
            return False

        if not await self._wait_until(match, timeout):
            raise AssertionError(f"no matching {method} call within {timeout}s\n{self.dump()}")
        return found[0]

    async def wait_until_updates_consumed(
        self,
        timeout: float = 10.0,
    ) -> None:
        """Wait until the bot acknowledged (via a later getUpdates offset) every pushed update."""
        if not await self._wait_until(lambda: not self._updates and not self._forged, timeout):
            pending = [u["update_id"] for u in self._updates]
            raise AssertionError(f"updates {pending} not consumed within {timeout}s\n{self.dump()}")

    def dump(self, chat_id: int | str | None = None) -> str:
        """A human-readable summary of recent traffic, for assertion messages."""
        lines = ["recent calls:"]
        for name, params in self.calls[-20:]:
            lines.append(f"  {name} {_short(params)}")
        if chat_id is not None:
            lines.append(f"sent to {chat_id}:")
            lines.extend(f"  {_short(m)}" for m in self.sent_to(chat_id))
        lines.append(f"pending update ids: {[u['update_id'] for u in self._updates]}")
        lines.append(f"stats: {dict(self.stats)}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ fault injection & limits

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error."""
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(error_code, f"Error {error_code}")
            if error_code == 429 and retry_after is not None:
                description = f"Too Many Requests: retry after {retry_after}"
        fault = _Fault(error_code, description, retry_after)
        queue = self._faults.setdefault(self._canonical_method(method), deque())
        queue.extend([fault] * times)

    def block_chat(self, chat_id: int | str) -> None:
        """The user blocked the bot: send*/edit* to the chat answer 403."""
        self._blocked.add(self._resolve_chat_id(_normalise_chat_id(chat_id)))

    def unblock_chat(self, chat_id: int | str) -> None:
        self._blocked.discard(self._resolve_chat_id(_normalise_chat_id(chat_id)))

    def set_rate_limits(
        self,
        *,
        global_per_second: float | None = None,
        per_chat_per_second: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Flood limits on message-sending methods (sliding one-second windows). Exceeding
        them answers 429 with ``retry_after`` = whole seconds until allowed (at least 1)."""
        self._clock = clock
        self._global_window = _SlidingWindow(global_per_second) if global_per_second else None
        self._per_chat_rate = per_chat_per_second
        self._chat_windows = {}

    def busiest_second(self, window: float = 1.0) -> int:
        """The most message-sending requests that arrived within any rolling `window` seconds
        (admitted or refused): what Telegram's flood control would have counted."""
        return busiest_within(self.send_attempts, window)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        # Stamped before the body is read: on a loaded machine reading it can wait on the event
        # loop, and a later stamp would bunch requests that arrived apart.
        arrived = self._clock()
        if request.match_info["token"] != self.token:
            return _ApiError(401, "Unauthorized").response()
        name = self._canonical.get(request.match_info["method"].lower())
        if name is None:
            return _ApiError(404, "Not Found").response()
        try:
            params = await self._read_params(request)
        except ValueError as exc:
            return _bad_request(f"can't parse request: {exc}").response()
        self.calls.append((name, params))
        self._notify()
        try:
            chat_id = self._admit(name, params, arrived)
            result = await self._methods[name](params)
            if chat_id is not None:
                self._record_send(chat_id)
        except _ApiError as error:
            self.stats[str(error.code)] += 1
            self._notify()
            return error.response()
        self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        if request.match_info["token"] == self.token:
            for stored in self.files.values():
                if stored.file_path == path:
                    return web.Response(body=stored.content)
        return _ApiError(404, "Not Found").response()

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = {k: _decode_form_value(k, v) for k, v in request.query.items()}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("JSON body must be an object")
                for key, value in body.items():
                    if key in _JSON_PARAMS and isinstance(value, str):
                        value = json.loads(value)
                    params[key] = value
            else:  # application/x-www-form-urlencoded or multipart/form-data
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        content = value.file.read()
                        params[key] = UploadedFile(key, value.filename, value.content_type, content)
                        self.uploads.append(params[key])
                    else:
                        text = value if isinstance(value, str) else bytes(value).decode()
                        params[key] = _decode_form_value(key, text)
        uploads = {k: v for k, v in params.items() if isinstance(v, UploadedFile)}
        for key, value in list(params.items()):
            params[key] = _resolve_attach(value, uploads)
        if "chat_id" in params:
            params["chat_id"] = _normalise_chat_id(params["chat_id"])
        return params

    def _admit(self, name: str, params: JSONDict, arrived: float) -> int | None:
        """Apply injected faults, blocks and flood limits; return the chat to count a send for."""
        if queue := self._faults.get(name):
            fault = queue.popleft()
            raise _ApiError(fault.error_code, fault.description, fault.retry_after)
        if name not in _CHAT_METHODS or "chat_id" not in params:
            return None
        chat_id = self._resolve_chat_id(params["chat_id"])
        if chat_id in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if name not in _MESSAGE_METHODS:
            return None
        now = arrived
        self.send_attempts.append(now)
        waits = [0.0]
        if self._global_window is not None:
            waits.append(self._global_window.wait_time(now))
        if self._per_chat_rate:
            window = self._chat_windows.setdefault(chat_id, _SlidingWindow(self._per_chat_rate))
            waits.append(window.wait_time(now))
        if (wait := max(waits)) > 0:
            retry_after = max(1, math.ceil(wait))
            raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        return chat_id

    def _record_send(self, chat_id: int) -> None:
        now = self._clock()
        if self._global_window is not None:
            self._global_window.record(now)
        if chat_id in self._chat_windows:
            self._chat_windows[chat_id].record(now)

    def _notify(self) -> None:
        """Wake every waiter; they re-check their condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, condition: Callable[[], bool], within: float) -> bool:
        """Wait (woken by ``_notify``, never by polling) until ``condition()`` holds; False if
        it still does not after ``within`` seconds."""
        try:
            async with asyncio.timeout(within):
                while True:
                    changed = self._changed
                    if condition():
                        return True
                    await changed.wait()
        except TimeoutError:
            return condition()

    def _canonical_method(self, method: str) -> str:
        try:
            return self._canonical[method.lower()]
        except KeyError:
            raise ValueError(f"FakeBotApi does not implement {method!r}") from None

    # ------------------------------------------------------------------ chats & messages

    def _resolve_chat_id(self, chat_id: Any) -> int:
        if isinstance(chat_id, int):
            return chat_id
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            return self._usernames.setdefault(chat_id, -1_001_000_000_000 - len(self._usernames))
        raise _bad_request("chat not found")

    def _chat(self, chat_id: int) -> JSONDict:
        if chat_id in self._chats:
            return self._chats[chat_id]
        if chat_id > 0:
            return {"id": chat_id, "type": "private"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}

    def _next_message_id(self, chat_id: int) -> int:
        self._message_seq[chat_id] = self._message_seq.get(chat_id, 0) + 1
        return self._message_seq[chat_id]

    def _target_chat(self, params: JSONDict) -> int:
        if "chat_id" not in params:
            raise _bad_request("chat_id is empty")
        return self._resolve_chat_id(params["chat_id"])

    def _new_message(self, params: JSONDict, content: JSONDict) -> JSONDict:
        chat_id = self._target_chat(params)
        markup = params.get("reply_markup")
        _check_reply_markup(markup)
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = message
        self._sent.setdefault(chat_id, []).append(message["message_id"])
        self.stats["sent"] += 1
        return _public(message)

    def _register_file(self, file_id: str, content: bytes, folder: str = "photos") -> str:
        if file_id not in self.files:
            serial = next(self._serial)
            self.files[file_id] = _StoredFile(
                f"AQAD{serial:08d}", f"{folder}/file_{serial}.jpg", content
            )
        return self.files[file_id].file_unique_id

    def _photo_sizes(self, file_id: str, content: bytes = _FAKE_JPEG) -> list[JSONDict]:
        sizes = []
        for suffix, (width, height) in (("-s", (90, 68)), ("-m", (320, 240)), ("", (800, 600))):
            size_id = f"{file_id}{suffix}"
            unique_id = self._register_file(size_id, content)
            sizes.append(
                {
                    "file_id": size_id,
                    "file_unique_id": unique_id,
                    "file_size": len(content),
                    "width": width,
                    "height": height,
                }
            )
        return sizes

    def _media(self, value: Any, missing: str) -> str:
        """The file id for a sent file: the given id, or a new one for an upload or URL."""
        if isinstance(value, UploadedFile):
            file_id = f"AgACAgUAAxkDAAI{next(self._serial):06d}-upload"
            self._register_file(file_id, value.content)
            return file_id
        if not isinstance(value, str) or not value:
            raise _bad_request(missing)
        if value.startswith(("http://", "https://")):
            return f"AgACAgUAAxkDAAI{next(self._serial):06d}-url"
        return value

    # ------------------------------------------------------------------ Bot API methods

    async def _true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        if isinstance(offset, int) and offset:
            confirmed = [u["update_id"] for u in self._updates if u["update_id"] < offset]
            if offset > 0 and confirmed and self.on_confirm is not None:
                await self.on_confirm(confirmed)
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            else:
                self._updates = self._updates[offset:]
            self._notify()
        if params.get("allowed_updates"):
            self._allowed_updates = list(params["allowed_updates"])
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        await self._wait_until(
            lambda: self._closing or bool(self._deliverable()) or bool(self._forged), timeout
        )
        batch = self._deliverable()[:limit]
        if len(batch) < limit and self._forged:
            forged, self._forged = (
                self._forged[: limit - len(batch)],
                self._forged[limit - len(batch) :],
            )
            batch.extend(forged)
            self._notify()
        return batch

    def _deliverable(self) -> list[JSONDict]:
        """Pending updates, dropping kinds the bot did not subscribe to (as Telegram does)."""
        if self._allowed_updates:
            kept = [u for u in self._updates if _update_kind(u) in self._allowed_updates]
            if len(kept) != len(self._updates):
                self._updates = kept
                self._notify()
        return list(self._updates)

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _set_webhook(self, params: JSONDict) -> bool:
        if not params.get("url"):
            return await self._delete_webhook(params)
        self.webhook = dict(params)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        hook = self.webhook or {}
        info: JSONDict = {
            "url": hook.get("url", ""),
            "has_custom_certificate": "certificate" in hook,
            "pending_update_count": len(self._updates),
        }
        for key in ("max_connections", "allowed_updates", "ip_address"):
            if key in hook:
                info[key] = hook[key]
        return info

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("commands must be a list of at most 100 BotCommand")
        for command in commands:
            if not _BOT_COMMAND_NAME_RE.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _send_message(self, params: JSONDict) -> JSONDict:
        raw = params.get("text")
        if not isinstance(raw, str) or not raw.strip():
            raise _bad_request("message text is empty")
        text, entities = _format(raw, params.get("parse_mode"), params.get("entities"))
        if _utf16_len(text) > 4096:
            raise _bad_request("message is too long")
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        if "link_preview_options" in params:
            content["link_preview_options"] = params["link_preview_options"]
        return self._new_message(params, content)

    async def _send_location(self, params: JSONDict) -> JSONDict:
        return self._new_message(params, {"location": _location(params)})

    async def _send_venue(self, params: JSONDict) -> JSONDict:
        location = _location(params)
        if not params.get("title") or not params.get("address"):
            raise _bad_request("venue title and address must be non-empty")
        venue: JSONDict = {
            "location": location,
            "title": params["title"],
            "address": params["address"],
        }
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if key in params:
                venue[key] = params[key]
        return self._new_message(params, {"venue": venue, "location": location})

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        file_id = self._media(params.get("photo"), "there is no photo in the request")
        content: JSONDict = {"photo": self._photo_sizes(file_id)}
        content.update(_caption(params))
        return self._new_message(params, content)

    async def _send_media_group(self, params: JSONDict) -> list[JSONDict]:
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _bad_request("media must be an array of 2-10 InputMedia")
        group_id = str(13_000_000_000_000_000 + next(self._serial))
        contents = []
        for item in media:  # validate everything before sending anything
            kind = item.get("type")
            if kind not in ("photo", "video", "document", "audio"):
                raise _bad_request(f"unsupported media type {kind!r}")
            file_id = self._media(item.get("media"), "media file is missing")
            content: JSONDict = {"media_group_id": group_id}
            if kind == "photo":
                content["photo"] = self._photo_sizes(file_id)
            else:
                unique_id = self._register_file(file_id, b"", folder=f"{kind}s")
                content[kind] = {"file_id": file_id, "file_unique_id": unique_id}
                if kind == "video":
                    content[kind].update(width=640, height=480, duration=1)
                elif kind == "audio":
                    content[kind]["duration"] = 1
            content.update(_caption(item))
            contents.append(content)
        plain = {k: v for k, v in params.items() if k != "reply_markup"}
        return [self._new_message(plain, content) for content in contents]

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._target_chat(params)
        if not params.get("action"):
            raise _bad_request("wrong parameter action in request")
        return True

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id"))
        if self._callbacks.get(query_id, True):  # unknown or already answered
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._callbacks[query_id] = True
        return True

    def _editable(self, params: JSONDict) -> tuple[tuple[int, int], JSONDict] | None:
        """The message an edit targets, or None for inline messages (not tracked)."""
        if "inline_message_id" in params:
            return None
        key = (self._target_chat(params), params.get("message_id"))
        message = self._messages.get(key)  # type: ignore[arg-type]
        if message is None:
            raise _bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad_request("message can't be edited")
        return key, message  # type: ignore[return-value]

    def _store_edit(self, key: tuple[int, int], old: JSONDict, new: JSONDict) -> JSONDict:
        if {k: v for k, v in new.items() if k != "edit_date"} == {
            k: v for k, v in old.items() if k != "edit_date"
        }:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        self._messages[key] = new
        return _public(new)

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        raw = params.get("text")
        if not isinstance(raw, str) or not raw.strip():
            raise _bad_request("message text is empty")
        text, entities = _format(raw, params.get("parse_mode"), params.get("entities"))
        if _utf16_len(text) > 4096:
            raise _bad_request("MESSAGE_TOO_LONG")
        markup = params.get("reply_markup")
        _check_reply_markup(markup)
        target = self._editable(params)
        if target is None:
            return True
        key, old = target
        if "text" not in old:
            raise _bad_request("there is no text in the message to edit")
        new = {k: v for k, v in old.items() if k not in ("entities", "reply_markup")}
        new["text"] = text
        if entities:
            new["entities"] = entities
        if markup is not None:  # editing without reply_markup removes the keyboard
            new["reply_markup"] = markup
        return self._store_edit(key, old, new)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = params.get("reply_markup")
        _check_reply_markup(markup)
        target = self._editable(params)
        if target is None:
            return True
        key, old = target
        new = {k: v for k, v in old.items() if k != "reply_markup"}
        if markup is not None and markup.get("inline_keyboard"):
            new["reply_markup"] = markup
        return self._store_edit(key, old, new)

    async def _get_file(self, params: JSONDict) -> JSONDict:
        file_id = params.get("file_id")
        stored = self.files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }


# --------------------------------------------------------------------------- module helpers


def _public(message: JSONDict) -> JSONDict:
    """The message as Telegram returns it: only inline keyboards are echoed."""
    markup = message.get("reply_markup")
    if markup is not None and "inline_keyboard" not in markup:
        return {k: v for k, v in message.items() if k != "reply_markup"}
    return dict(message)


def _ordinary_update_id(value: Any) -> bool:
    """What Telegram's update ids are: positive integers, well within 64 bits."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15


def _update_kind(update: JSONDict) -> str:
    return next((k for k in update if k != "update_id"), "")


def _callback_datas(markup: Any) -> set[str]:
    if not isinstance(markup, dict):
        return set()
    rows = markup.get("inline_keyboard") or []
    return {b["callback_data"] for row in rows for b in row if "callback_data" in b}


def _resolve_attach(value: Any, uploads: dict[str, UploadedFile]) -> Any:
    """Replace ``attach://name`` references (top level or inside InputMedia) by the upload."""
    if isinstance(value, str) and value.startswith("attach://"):
        name = value.removeprefix("attach://")
        if name not in uploads:
            raise ValueError(f"missing file part {name!r}")
        return uploads[name]
    if isinstance(value, list):
        return [_resolve_attach(item, uploads) for item in value]
    if isinstance(value, dict) and "type" in value and "media" in value:
        return {k: _resolve_attach(v, uploads) for k, v in value.items()}
    return value


def _format(text: str, parse_mode: Any, entities: Any) -> tuple[str, list[JSONDict]]:
    if isinstance(parse_mode, str) and parse_mode.lower() == "html":
        try:
            return _parse_html(text)
        except ValueError as exc:
            raise _bad_request(f"can't parse entities: {exc}") from None
    return text, list(entities or [])


def _caption(params: JSONDict) -> JSONDict:
    raw = params.get("caption")
    if not raw:
        return {}
    caption, entities = _format(raw, params.get("parse_mode"), params.get("caption_entities"))
    if _utf16_len(caption) > 1024:
        raise _bad_request("message caption is too long")
    result: JSONDict = {"caption": caption}
    if entities:
        result["caption_entities"] = entities
    return result


def _location(params: JSONDict) -> JSONDict:
    lat, lon = params.get("latitude"), params.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        raise _bad_request("latitude and longitude must be numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise _bad_request("wrong location specified")
    location: JSONDict = {"latitude": float(lat), "longitude": float(lon)}
    for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
        if key in params:
            location[key] = params[key]
    return location


def _check_reply_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise _bad_request("BUTTON_TEXT_INVALID")
            if not _INLINE_BUTTON_ACTIONS & button.keys():
                raise _bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _bad_request("BUTTON_DATA_INVALID")


def _short(value: Any, limit: int = 300) -> str:
    text = pprint.pformat(value, width=10_000, compact=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"

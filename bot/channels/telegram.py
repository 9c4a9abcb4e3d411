"""Telegram through python-telegram-bot 22: polling or a webhook on Jingtu's own web server.

All PTB wiring lives here. Updates become `Inbound` events for the conversation service; the
outbox sends `Reply` payloads back through `TelegramSender`, which maps Bot API errors onto the
outbox's retry rules (429 → retry after the time Telegram asks; 403 → the chat is gone).

At the door. An update's ids become database keys, so they are checked before anything else
(`bot.channels.inbound_ids`): user, chat and update ids must be decimal integers of at most 64
characters, a photo's file_id ``[A-Za-z0-9_-]``, texts and callback data strings. An update that
fails is refused whole and a warning logged: the webhook answers 200 (Telegram would otherwise
redeliver it forever) and drops it; a polled one is replaced by an empty update of the same id
(`_ScreenedUpdatesRequest`), so PTB confirms it and nothing reaches Jingtu. Only the kinds
Jingtu asks for (messages, edited messages, button presses) get through.

Photos out. python-telegram-bot reads any string that names an existing local file as that file
and uploads it (``telegram._utils.files.parse_file_input``), so a reference such as
``canary.txt`` or ``/etc/hostname`` must never reach it as a string. `TelegramSender` hands PTB
each photo as a `telegram.PhotoSize`, whose ``file_id`` PTB sends as it is, and drops (with a
warning) any reference that is not a strict file_id; the text still goes out.

Media. A stored media reference (``media:<sha256>[:<file_id>]``, `bot.delivery.message`) is sent
by its file_id when it has one, otherwise uploaded from the media store as an explicit
`telegram.InputFile` of bytes (never a path); the file_id Telegram gives the upload is kept in
memory, so the next chat gets the same photo by id. Should Telegram refuse a stored photo's
file_id, the photos are uploaded from the store once more. `TelegramMedia` downloads files
(getFile, then the file URL) for the media fetcher.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    PhotoSize,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.door import (
    MAX_UPDATE_BYTES,
    RefusalThrottle,
    TooLarge,
    read_limited,
    shut_out,
    source_of,
)
from bot.channels.inbound_ids import (
    BadId,
    describe,
    is_telegram_file_id,
    telegram_file_id,
    telegram_id,
)
from bot.channels.lanes import ChatLanes
from bot.channels.telegram_http import AiohttpRequest, environment_proxy
from bot.config import WEBHOOK_SECRET_RE, ConfigError, Settings, redact_url
from bot.delivery.message import parse_stored_ref
from bot.delivery.outbox import Parts, PermanentFailure, RetryLater, Step
from bot.delivery.ratelimit import SharedBudget
from bot.services.inbound import storable_text
from bot.storage.db import NotStored
from bot.storage.media_store import MediaStore, MediaUnavailable
from handlers.contract import Inbound, Location, Reply
from messages import LOCALES, text

log = logging.getLogger(__name__)

# Seconds between attempts to reach the Bot API at startup, then every minute: a bureau's
# network blips, and the service should come up when it is back rather than exit.
START_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)

CHANNEL = "telegram"
MAX_MESSAGE = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Updates handled at once, and Bot API connections: matched, so a handler seldom waits for a
# connection while it holds a slot (the outbox's drain shares them).
CONNECTIONS = 8
POOL_WAIT_SECONDS = 30.0
COMMANDS = (
    "report",
    "mycases",
    "case",
    "subscribe",
    "unsubscribe",
    "settings",
    "language",
    "help",
    "cancel",
)

Process = Callable[[Inbound], Awaitable[Any]]


# The update kinds Jingtu asks Telegram for; any other is refused at the door.
UPDATE_KINDS = ("message", "edited_message", "callback_query")
MAX_LANGUAGE_CODE = 35
MAX_UPDATE_ID = 2**63
# Message ids and Unix dates are integers that JSON carries exactly (below 2^53).
MAX_JSON_INTEGER = 2**53


class RefusedUpdate(BadId):
    """An update refused at the door: its ids or its shape are not what Telegram promises."""


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RefusedUpdate(f"{what} is {describe(value)}, not an object")
    return value


def _optional_text(container: Mapping[str, Any], key: str, what: str) -> None:
    value = container.get(key)
    if value is not None and not isinstance(value, str):
        raise RefusedUpdate(f"{what}.{key} is {describe(value)}, not a string")


def _whole_number(container: Mapping[str, Any], key: str, what: str) -> None:
    value = container.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_JSON_INTEGER:
        raise RefusedUpdate(f"{what}.{key} is {describe(value)}, not an integer in 0..2^53-1")


def _screen_message(message: Mapping[str, Any], what: str) -> None:
    _whole_number(message, "message_id", what)
    _whole_number(message, "date", what)
    telegram_id(_object(message.get("chat"), f"{what}.chat").get("id"), f"{what}.chat.id")
    if "from" in message:
        telegram_id(_object(message["from"], f"{what}.from").get("id"), f"{what}.from.id")
    for key in ("text", "caption"):
        _optional_text(message, key, what)
    photo = message.get("photo")
    if photo is not None:
        if not isinstance(photo, list):
            raise RefusedUpdate(f"{what}.photo is {describe(photo)}, not an array")
        for size in photo:
            file_id = _object(size, f"{what}.photo[]").get("file_id")
            telegram_file_id(file_id, f"{what}.photo[].file_id")


def _confirmable(update_id: object) -> bool:
    """An update id as Telegram issues them: a positive integer within 64 bits, which PTB's
    updater confirms by asking for the next one."""
    return (
        isinstance(update_id, int)
        and not isinstance(update_id, bool)
        and 0 <= update_id < MAX_UPDATE_ID
    )


def screen_update(raw: Mapping[str, Any]) -> None:
    """Check an update's JSON before PTB or Jingtu reads it; raises `BadId` when refused.

    Cheap on purpose (no parsing beyond the JSON): it runs on every update, on the ids, texts
    and photo references Jingtu reads and the objects that hold them.
    """
    update_id = raw.get("update_id")
    if not _confirmable(update_id):
        raise RefusedUpdate(f"update_id is {describe(update_id)}, not an integer in 0..2^63-1")
    kinds = [key for key in raw if key != "update_id"]
    if len(kinds) != 1 or kinds[0] not in UPDATE_KINDS:
        raise RefusedUpdate(f"an update of kind {describe(','.join(map(str, kinds)))}")
    kind = kinds[0]
    payload = _object(raw[kind], kind)
    if kind == "callback_query":
        telegram_id(_object(payload.get("from"), f"{kind}.from").get("id"), f"{kind}.from.id")
        _optional_text(payload, "data", kind)
        if payload.get("message") is not None:
            _screen_message(_object(payload["message"], f"{kind}.message"), f"{kind}.message")
    else:
        _screen_message(payload, kind)


def parse_update(update: Update) -> Inbound | None:
    """The channel-neutral form of an update, None for what Jingtu ignores; raises `BadId` for
    what it refuses (an id, a photo reference, a text that is not what Telegram promises)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    names = (user.first_name, user.last_name)
    language = user.language_code
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "user_id": telegram_id(user.id, "user id"),
        "chat_id": telegram_id(chat.id, "chat id"),
        "update_id": telegram_id(update.update_id, "update_id"),
        "display_name": storable_text(" ".join(p for p in names if isinstance(p, str) and p))[:200],
        "language_code": (
            language if isinstance(language, str) and len(language) <= MAX_LANGUAGE_CODE else None
        ),
    }
    if chat.type != "private":
        return None  # Jingtu is a one-to-one service: reports are not made in groups
    if update.callback_query is not None:
        data = update.callback_query.data
        if data is not None and not isinstance(data, str):
            raise RefusedUpdate(f"callback data is {describe(data)}, not a string")
        return Inbound(callback=(data or "")[:MAX_CALLBACK_BYTES], **common)
    message = update.message or update.edited_message
    if message is None:
        return None
    if message.venue is not None:
        loc = message.venue.location
        return Inbound(location=Location(loc.latitude, loc.longitude, "wgs84"), **common)
    if message.location is not None:
        loc = message.location
        return Inbound(location=Location(loc.latitude, loc.longitude, "wgs84"), **common)
    if message.photo:
        file_id = telegram_file_id(message.photo[-1].file_id, "photo file_id")
        return Inbound(photo=file_id, **common)
    if message.text is not None and not isinstance(message.text, str):
        raise RefusedUpdate(f"text is {describe(message.text)}, not a string")
    text = None if message.text is None else storable_text(message.text)
    return Inbound(text=text, **common)


def update_to_inbound(update: Update) -> Inbound | None:
    """`parse_update`, with a refused update logged and treated as ignored."""
    try:
        return parse_update(update)
    except BadId as exc:
        log.warning("refused a Telegram update: %s", exc)
        return None


def split_text(body: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split at line breaks where possible so no chunk exceeds Telegram's limit."""
    if len(body) <= limit:
        return [body]
    chunks: list[str] = []
    current = ""
    for line in body.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current:
        chunks.append(current)
    return chunks


def inline_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if len(button.data.encode()) > MAX_CALLBACK_BYTES:
                raise PermanentFailure(f"callback data over 64 bytes: {button.data[:20]}…")
            buttons.append(InlineKeyboardButton(button.label[:64], callback_data=button.data))
        rows.append(buttons)
    return InlineKeyboardMarkup(rows)


@dataclass(frozen=True, slots=True)
class OutgoingPhoto:
    """A photo to send: by `file_id` when set, else uploaded from the store by `sha256`."""

    file_id: str | None
    sha256: str | None = None


def sendable_photos(
    refs: Iterable[object], chat_id: str, uploaded: Mapping[str, str] | None = None
) -> list[OutgoingPhoto]:
    """The photo references Telegram may be sent: strict file_ids, and stored media (by its
    file_id on Telegram if known — in the reference or in `uploaded` — else by its bytes).

    A plain string would be read and uploaded by PTB if it names an existing local file, even
    one shaped like a file_id, so a file_id goes to PTB as a `PhotoSize` (sent by its
    ``file_id`` alone) and stored bytes as an `InputFile`. Any other reference is dropped and
    logged.
    """
    photos = []
    for ref in refs:
        stored = parse_stored_ref(ref)
        if stored is not None:
            known = stored.platform_id if is_telegram_file_id(stored.platform_id) else None
            photos.append(
                OutgoingPhoto(known or (uploaded or {}).get(stored.sha256), stored.sha256)
            )
            continue
        if not is_telegram_file_id(ref):
            log.warning(
                "dropped a photo for Telegram chat %s: its reference %s is not a file_id",
                chat_id,
                describe(ref),
            )
            continue
        assert isinstance(ref, str)
        photos.append(OutgoingPhoto(ref))
    return photos


def _refused_file_id(exc: BadRequest) -> bool:
    """Telegram's answer to a file_id it no longer knows (or never issued to this bot)."""
    text = exc.message.lower()
    return "file identifier" in text or "file_id" in text or "file reference" in text


class TelegramSender:
    """Sends one outbox payload to one chat; raises the outbox's error types."""

    def __init__(self, application: Application, store: MediaStore | None = None) -> None:
        self.application = application
        self.store = store
        # Stored photo → the file_id Telegram gave its upload: the next chat gets it by id.
        self.uploaded: dict[str, str] = {}

    async def _photo_input(
        self, photo: OutgoingPhoto, *, attach: bool
    ) -> PhotoSize | InputFile | None:
        if photo.file_id is not None:
            return PhotoSize(file_id=photo.file_id, file_unique_id=photo.file_id, width=0, height=0)
        assert photo.sha256 is not None
        data = await self.store.read(photo.sha256) if self.store is not None else None
        if data is None:
            log.warning("dropped a stored photo %s…: not in the media store", photo.sha256[:12])
            return None
        return InputFile(data, filename=f"{photo.sha256[:16]}.jpg", attach=attach)

    async def _send_photos(
        self,
        chat: int | str,
        photos: Sequence[OutgoingPhoto],
        *,
        caption: str | None = None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """One photo (with the caption, if given) or an album; stored photos whose file_id
        Telegram refuses are uploaded from the store, once."""
        bot = self.application.bot
        for attempt in range(2):
            group = len(photos) > 1
            inputs = [(p, await self._photo_input(p, attach=group)) for p in photos[:10]]
            kept = [(p, i) for p, i in inputs if i is not None]
            try:
                sent: Sequence[Message]
                if len(kept) == 1:
                    sent = [
                        await bot.send_photo(chat, kept[0][1], caption=caption, reply_markup=markup)
                    ]
                elif kept:
                    sent = await bot.send_media_group(chat, [InputMediaPhoto(i) for _, i in kept])
                else:
                    sent = []
                    if caption is not None:
                        await bot.send_message(chat, caption or "…", reply_markup=markup)
            except BadRequest as exc:
                by_id = [p for p in photos if p.sha256 is not None and p.file_id is not None]
                if attempt == 0 and by_id and _refused_file_id(exc):
                    for photo in by_id:
                        self.uploaded.pop(photo.sha256 or "", None)
                    photos = [replace(p, file_id=None) if p.sha256 else p for p in photos]
                    continue
                raise
            for (photo, _), message in zip(kept, sent, strict=False):
                if photo.sha256 is not None and photo.file_id is None and message.photo:
                    self.uploaded[photo.sha256] = message.photo[-1].file_id
            return

    def _steps(self, chat_id: str, reply: Reply) -> list[Step]:
        """The Bot API requests of one reply, in order: each is a part the outbox records."""
        bot = self.application.bot
        chat: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        photos = sendable_photos(reply.photos, chat_id, self.uploaded)
        inline = inline_keyboard(reply)
        steps: list[Step] = []
        location = reply.location
        if location is not None:

            def pin() -> Awaitable[object]:
                return bot.send_location(chat, location.lat, location.lon)

        if len(photos) == 1 and len(reply.text) <= MAX_CAPTION and not reply.request_location:
            # One photo with its text as the caption: one request, not two (this matters
            # for broadcasts, which Telegram allows one message per second per chat).
            steps.append(lambda: self._send_photos(chat, photos, caption=reply.text, markup=inline))
            if location is not None:
                steps.append(pin)
            return steps
        chunks = split_text(reply.text or "…")
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            markup: Any = None
            if last and reply.request_location:
                # A message carries one keyboard: the location keyboard goes with the text,
                # the inline buttons follow in a message of their own.
                markup = ReplyKeyboardMarkup(
                    [[KeyboardButton(reply.request_location, request_location=True)]],
                    resize_keyboard=True,
                    one_time_keyboard=True,
                )
            elif last and inline is not None:
                markup = inline
            elif last and reply.remove_keyboard:
                markup = ReplyKeyboardRemove()
            steps.append(functools.partial(bot.send_message, chat, chunk, reply_markup=markup))
        if reply.request_location and inline is not None:
            steps.append(functools.partial(bot.send_message, chat, "👇", reply_markup=inline))
        if location is not None:
            steps.append(pin)
        if photos:
            steps.append(lambda: self._send_photos(chat, photos))
        return steps

    async def send(self, chat_id: str, payload: dict[str, Any], parts: Parts | None = None) -> None:
        """Send one payload; with `parts`, the requests already done are skipped."""
        reply = Reply.from_payload(payload)
        try:
            await (parts or Parts()).run(self._steps(chat_id, reply))
        except RetryAfter as exc:
            with warnings.catch_warnings():
                # PTB 22 warns that the type will become timedelta; both are handled here.
                warnings.simplefilter("ignore")
                delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            raise RetryLater(
                f"429 flood control: retry after {seconds:g}s", retry_after=seconds
            ) from None
        except Forbidden as exc:
            raise PermanentFailure(f"403 {exc.message}", unreachable=True) from None
        except BadRequest as exc:
            gone = "chat not found" in exc.message.lower()
            raise PermanentFailure(f"400 {exc.message}", unreachable=gone) from None
        except (TimedOut, NetworkError) as exc:
            raise RetryLater(f"network: {exc}") from None
        except TelegramError as exc:
            raise RetryLater(f"telegram: {exc}") from None


class TelegramMedia:
    """Downloads a file by its file_id (getFile, then the file URL): the media fetcher's port."""

    def __init__(self, application: Application) -> None:
        self.application = application

    async def fetch(self, file_ref: str, *, max_bytes: int) -> bytes:
        if not is_telegram_file_id(file_ref):
            raise MediaUnavailable(f"{describe(file_ref)} is not a Telegram file_id", final=True)
        try:
            file = await self.application.bot.get_file(file_ref)
            if file.file_size is not None and file.file_size > max_bytes:
                raise MediaUnavailable(
                    f"{file.file_size} bytes, over the limit of {max_bytes}", refused=True
                )
            data = bytes(await file.download_as_bytearray())
        except BadRequest as exc:
            # An id Telegram does not know, or a file over the 20 MB bots may download.
            too_big = "too big" in exc.message.lower()
            raise MediaUnavailable(
                f"getFile: 400 {exc.message}", final=True, refused=too_big
            ) from None
        except (TelegramError, RuntimeError) as exc:
            raise MediaUnavailable(f"getFile: {type(exc).__name__}: {exc}") from None
        if len(data) > max_bytes:
            raise MediaUnavailable(
                f"{len(data)} bytes, over the limit of {max_bytes}", refused=True
            )
        return data


def _readable(raw: Mapping[str, Any]) -> None:
    """PTB can build an Update from it; raises `RefusedUpdate` otherwise.

    `screen_update` checks only what Jingtu reads; a field it does not read (entities, a reply's
    message) may still be of a type PTB fails on. In polling, PTB reads the whole batch at once,
    so one such update would fail every getUpdates and stop the updater on that batch for ever.
    """
    try:
        Update.de_json(dict(raw), None)
    except Exception as exc:
        raise RefusedUpdate(f"PTB cannot read it ({type(exc).__name__})") from None


def screened_updates(result: list[Any]) -> list[Any]:
    """A getUpdates result with each refused update replaced by an empty one of the same id.

    Refused: what `screen_update` refuses, and what PTB cannot read (`_readable`). PTB confirms
    what it fetched by the last update's id, so a refused update keeps its id (an
    empty update is ignored by Jingtu and confirmed by PTB); one whose id is not an update id
    Telegram could have issued cannot be confirmed (PTB would fail on it, or ask for updates
    from an id beyond every real one) and is left out.
    """
    kept = []
    for raw in result:
        try:
            screen_update(_object(raw, "update"))
            _readable(raw)
        except BadId as exc:
            update_id = raw.get("update_id") if isinstance(raw, Mapping) else None
            log.warning("refused a polled Telegram update: %s", exc)
            if _confirmable(update_id):
                kept.append({"update_id": update_id})
            continue
        kept.append(raw)
    return kept


class _ScreenedUpdatesRequest(AiohttpRequest):
    """The getUpdates connection: refused updates are taken out before PTB parses the answer,
    and no update is confirmed before it is stored.

    `parse_json_payload` is PTB's documented hook for reading Bot API answers; this request
    object serves getUpdates only. Each getUpdates call confirms, by its offset, every update
    fetched before it, and Telegram then forgets them; so each call first waits (its
    `before_request`, the channel's `_fetched_updates_stored`) until those updates have been handled (their effects and their
    ids committed). A crash between two calls loses nothing: Telegram sends again what was not
    confirmed, and the stored ids make the repeats do nothing.
    """

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        data = AiohttpRequest.parse_json_payload(payload)
        if isinstance(data, dict) and isinstance(data.get("result"), list):
            data["result"] = screened_updates(data["result"])
        return data


def sends_a_message(api_method: str) -> bool:
    """Whether a Bot API method puts a message in a chat (what Telegram's flood limits count)."""
    name = api_method.lower()
    return name.startswith(("send", "copy", "forward")) and name != "sendchataction"


class TelegramChannel:
    """The PTB Application, its update handler and (in webhook mode) its aiohttp route."""

    def __init__(
        self,
        settings: Settings,
        process: Process,
        *,
        store: MediaStore | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        budget: SharedBudget | None = None,
    ) -> None:
        """`budget`: the bot token's send budget shared with other processes, if any."""
        self.settings = settings
        self.process = process
        self.sleep = sleep  # the wait between attempts to reach the Bot API
        builder: ApplicationBuilder = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_base_url)
            .base_file_url(settings.telegram_base_file_url)
        )
        # Bot API requests share one pool of connections, sized for Telegram's own limits
        # (about 30 messages a second per bot): a few connections carry that, and a burst waits
        # for a connection rather than failing. They go through aiohttp's client rather than
        # PTB's default httpx stack, which costs about twice the CPU per call (telegram_http.py).
        proxy = settings.telegram_proxy_url or environment_proxy(settings.telegram_base_url)
        self.budget = budget
        fetcher = _ScreenedUpdatesRequest(
            connections=1, proxy=proxy, before_request=self._fetched_updates_stored
        )
        requests = AiohttpRequest(
            connections=CONNECTIONS,
            pool_timeout=POOL_WAIT_SECONDS,
            proxy=proxy,
            before_request=None if budget is None else self._take_send_slot,
        )
        builder = builder.request(requests).get_updates_request(fetcher)
        if settings.telegram_mode == "webhook":
            builder = builder.updater(None)  # updates arrive through our own web server
        self.application: Application = builder.build()
        # Group 0, the only handler: every update goes through the channel-neutral router.
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(self.application, store)
        self.media = TelegramMedia(self.application)
        self.lanes = ChatLanes(concurrency=CONNECTIONS)
        # Webhook updates whose handling gave up because the database stayed unreachable.
        self._unstored: set[int] = set()
        self.refusals = RefusalThrottle()

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # PTB hands polled updates over one at a time, in order; the lanes run different
        # chats' updates concurrently and each chat's in that order.
        await self._admit(update)

    async def _admit(self, update: Update) -> asyncio.Task[None] | None:
        """Queue an update in its chat's lane; the task that handles it, if any."""
        try:
            inbound = parse_update(update)
        except BadId as exc:
            log.warning("refused a Telegram update: %s", exc)
            return None  # refused at the door: not even a pressed button is answered
        if inbound is not None:
            return await self.lanes.submit(inbound.chat_id, lambda: self._handle(update, inbound))
        if update.callback_query is not None:
            await self._answer(update)
        return None

    async def _take_send_slot(self, api_method: str) -> None:
        """A request that puts a message in a chat first takes a slot of the bot token's
        budget, shared by every process (`SharedBudget`)."""
        if self.budget is not None and sends_a_message(api_method):
            await self.budget.take()

    async def _fetched_updates_stored(self, _api_method: str = "getUpdates") -> None:
        """Every update fetched so far has been handed to a lane, and every lane has finished."""
        await self.application.update_queue.join()
        await self.lanes.drain()

    async def _handle(self, update: Update, inbound: Inbound) -> None:
        if update.callback_query is not None:
            await self._answer(update)
        while True:
            try:
                await self.process(inbound)
                return
            except NotStored:
                if self.settings.telegram_mode == "webhook":
                    self._unstored.add(update.update_id)  # answered 503: Telegram sends it again
                    return
                # Polling: the offset is not confirmed until it is stored, so wait for the
                # database rather than let the next getUpdates forget the update.
                log.error("update %s waits for the database to come back", update.update_id)

    @staticmethod
    async def _answer(update: Update) -> None:
        """Stop the client's spinner on the pressed button."""
        assert update.callback_query is not None
        try:
            await update.callback_query.answer()
        except TelegramError:
            log.warning("could not answer callback query of update %s", update.update_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed", exc_info=context.error)

    async def register_commands(self) -> None:
        bot = self.application.bot
        for locale in LOCALES:
            commands = [BotCommand(c, text(locale, f"command-{c}")[:256]) for c in COMMANDS]
            language = None if locale == "zh-Hans" else locale
            await bot.set_my_commands(commands, language_code=language)

    async def _initialize(self) -> None:
        """Reach the Bot API (getMe); while it cannot be reached, one line per attempt, and retry.

        A token the Bot API refuses is a configuration error, not a blip: no retry.
        """
        attempt = 0
        while True:
            try:
                await self.application.initialize()
                return
            except InvalidToken:
                raise ConfigError(
                    "TELEGRAM_BOT_TOKEN was refused by the Bot API at "
                    f"{redact_url(self.settings.telegram_base_url)}; check it with @BotFather"
                ) from None
            except NetworkError as exc:  # TimedOut included
                delay = START_BACKOFF[min(attempt, len(START_BACKOFF) - 1)]
                attempt += 1
                log.warning(
                    "cannot reach the Bot API at %s (attempt %d: %s); retrying in %.0f s",
                    redact_url(self.settings.telegram_base_url),
                    attempt,
                    exc.message or type(exc).__name__,
                    delay,
                )
                await self.sleep(delay)

    async def start(self, *, receive: bool = True) -> None:
        """Connect; `receive=False` (a sender or scheduler process) only sends, and leaves the
        webhook and polling to the web processes."""
        app = self.application
        await self._initialize()
        await app.start()
        if not receive:
            return
        try:
            await self.register_commands()
        except TelegramError as exc:
            log.warning("could not register the command list: %s", exc)
        if self.settings.telegram_mode == "webhook":
            if self.settings.telegram_webhook_url:
                await app.bot.set_webhook(
                    self.settings.telegram_webhook_url,
                    secret_token=self.settings.telegram_webhook_secret,
                    allowed_updates=["message", "edited_message", "callback_query"],
                )
        else:
            assert app.updater is not None
            await app.bot.delete_webhook()
            await app.updater.start_polling(
                allowed_updates=["message", "edited_message", "callback_query"],
                poll_interval=0.0,
                timeout=10,
            )

    async def stop(self) -> None:
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        await self.lanes.drain()  # what was fetched is handled before we go
        if app.running:
            await app.stop()
        await app.shutdown()

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /telegram/webhook: only Telegram knows the secret it echoes in the header."""
        source = source_of(request)
        wait = self.refusals.retry_after(source)
        if wait is not None:
            return shut_out(wait)
        if not self._bears_secret(request.headers.get(SECRET_HEADER, "")):
            self.refusals.refused(source)
            return web.Response(status=401, text="unauthorized")
        try:
            raw = await read_limited(request, MAX_UPDATE_BYTES)
        except TooLarge:
            return web.Response(status=413, text="too large")
        try:
            body = json.loads(raw)
        except ValueError:  # UnicodeDecodeError included
            return web.Response(status=400, text="not an update")
        if not isinstance(body, dict):
            return web.Response(status=400, text="not an update")
        # Refused updates are answered 200 and dropped: Telegram redelivers anything else, and
        # the same update would be refused again, forever.
        try:
            screen_update(body)
            update = Update.de_json(body, self.application.bot)
        except BadId as exc:
            log.warning("refused a Telegram webhook update: %s", exc)
            return web.Response(text="ok")
        except Exception as exc:
            log.warning("refused a Telegram webhook update PTB cannot read: %s", type(exc).__name__)
            return web.Response(text="ok")
        # 200 only once the update is stored (its effects and its id committed): Telegram
        # forgets what it was answered 200 for, so a crash after answering must lose nothing.
        handling = await self._admit(update)
        if handling is not None:
            await handling
        if update.update_id in self._unstored:
            self._unstored.discard(update.update_id)
            return web.Response(
                status=503, text="not stored; send it again", headers={"Retry-After": "5"}
            )
        return web.Response(text="ok")

    def _bears_secret(self, given: str) -> bool:
        """The header is the configured secret. A header of other characters (aiohttp hands
        non-UTF-8 bytes over as surrogates) is refused before it is compared or encoded."""
        expected = self.settings.telegram_webhook_secret
        if not expected or not WEBHOOK_SECRET_RE.fullmatch(given):
            return False
        return hmac.compare_digest(given.encode("ascii"), expected.encode("ascii"))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self.webhook)

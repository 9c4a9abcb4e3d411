"""Telegram through python-telegram-bot 22: polling or a webhook on Jingtu's own web server.

All PTB wiring lives here. Updates become `Inbound` events for the conversation service; the
outbox sends `Reply` payloads back through `TelegramSender`, which maps Bot API errors onto the
outbox's retry rules (429 → retry after the time Telegram asks; 403 → the chat is gone).
"""

from __future__ import annotations

import hmac
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.lanes import ChatLanes
from bot.channels.telegram_http import AiohttpRequest, environment_proxy
from bot.config import Settings
from bot.delivery.outbox import PermanentFailure, RetryLater
from handlers.contract import Inbound, Location, Reply
from messages import LOCALES, text

log = logging.getLogger(__name__)

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


def update_to_inbound(update: Update) -> Inbound | None:
    """The channel-neutral form of an update, or None for what Jingtu ignores."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "user_id": str(user.id),
        "chat_id": str(chat.id),
        "update_id": str(update.update_id),
        "display_name": " ".join(p for p in (user.first_name, user.last_name) if p)[:200],
        "language_code": user.language_code,
    }
    if chat.type != "private":
        return None  # Jingtu is a one-to-one service: reports are not made in groups
    if update.callback_query is not None:
        return Inbound(callback=(update.callback_query.data or "")[:MAX_CALLBACK_BYTES], **common)
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
        return Inbound(photo=message.photo[-1].file_id, **common)
    return Inbound(text=message.text, **common)


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


class TelegramSender:
    """Sends one outbox payload to one chat; raises the outbox's error types."""

    def __init__(self, application: Application) -> None:
        self.application = application

    async def send(self, chat_id: str, payload: dict[str, Any]) -> None:
        reply = Reply.from_payload(payload)
        bot = self.application.bot
        chat: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        try:
            inline = inline_keyboard(reply)
            if (
                len(reply.photos) == 1
                and len(reply.text) <= MAX_CAPTION
                and not reply.request_location
            ):
                # One photo with its text as the caption: one request, not two (this matters
                # for broadcasts, which Telegram allows one message per second per chat).
                await bot.send_photo(chat, reply.photos[0], caption=reply.text, reply_markup=inline)
                if reply.location is not None:
                    await bot.send_location(chat, reply.location.lat, reply.location.lon)
                return
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
                await bot.send_message(chat, chunk, reply_markup=markup)
            if reply.request_location and inline is not None:
                await bot.send_message(chat, "👇", reply_markup=inline)
            if reply.location is not None:
                await bot.send_location(chat, reply.location.lat, reply.location.lon)
            if len(reply.photos) == 1:
                await bot.send_photo(chat, reply.photos[0])
            elif len(reply.photos) > 1:
                await bot.send_media_group(chat, [InputMediaPhoto(p) for p in reply.photos[:10]])
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


class TelegramChannel:
    """The PTB Application, its update handler and (in webhook mode) its aiohttp route."""

    def __init__(self, settings: Settings, process: Process) -> None:
        self.settings = settings
        self.process = process
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
        builder = builder.request(
            AiohttpRequest(connections=CONNECTIONS, pool_timeout=POOL_WAIT_SECONDS, proxy=proxy)
        ).get_updates_request(AiohttpRequest(connections=1, proxy=proxy))
        if settings.telegram_mode == "webhook":
            builder = builder.updater(None)  # updates arrive through our own web server
        self.application: Application = builder.build()
        # Group 0, the only handler: every update goes through the channel-neutral router.
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(self.application)
        self.lanes = ChatLanes(concurrency=CONNECTIONS)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # PTB hands updates over one at a time, in order; the lanes run different chats'
        # updates concurrently and each chat's in that order.
        inbound = update_to_inbound(update)
        if inbound is not None:
            await self.lanes.submit(inbound.chat_id, lambda: self._handle(update, inbound))
        elif update.callback_query is not None:
            await self._answer(update)

    async def _handle(self, update: Update, inbound: Inbound) -> None:
        if update.callback_query is not None:
            await self._answer(update)
        await self.process(inbound)

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

    async def start(self) -> None:
        app = self.application
        await app.initialize()
        await app.start()
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
        given = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.telegram_webhook_secret
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=401, text="unauthorized")
        if request.content_length is not None and request.content_length > 1_000_000:
            return web.Response(status=413, text="too large")
        try:
            body = await request.json()
            update = Update.de_json(body, self.application.bot)
        except Exception:
            return web.Response(status=400, text="not an update")
        if update is None:
            return web.Response(status=400, text="not an update")
        await self.application.process_update(update)
        return web.Response(text="ok")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self.webhook)

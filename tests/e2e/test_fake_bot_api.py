"""The fake Bot API speaks the real protocol: python-telegram-bot talks to it over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_api import FakeBotApi, UploadedFile

# PTB warns about the int form of RetryAfter.retry_after even while raising it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning"
)

USER = 42


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        yield bot


def retry_seconds(error: RetryAfter) -> float:
    """PTB 22 gives ``retry_after`` as int (deprecated, warns) or timedelta (PTB_TIMEDELTA=1)."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "jingtu_test_bot")
    assert me.can_join_groups is True


async def test_send_message_with_inline_keyboard(fake: FakeBotApi, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("确认", callback_data="confirm:1")]])

    message = await bot.send_message(USER, "你好", reply_markup=markup)

    assert (message.message_id, message.chat.id, message.text) == (1, USER, "你好")
    assert message.from_user is not None and message.from_user.id == 123456
    assert message.reply_markup == markup
    [sent] = fake.sent_to(USER)
    assert sent["text"] == "你好"
    assert sent["reply_markup"] == markup.to_dict()
    method, params = fake.calls[-1]
    assert method == "sendMessage"
    assert params["chat_id"] == USER  # sent as the string "42", normalised
    assert params["reply_markup"] == markup.to_dict()  # sent as a JSON string, decoded


async def test_string_params_stay_strings(fake: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(str(USER), "123")
    assert fake.calls[-1][1] == {"chat_id": USER, "text": "123"}
    assert fake.sent_to(str(USER))[0]["text"] == "123"


async def test_send_location_and_venue(fake: FakeBotApi, bot: Bot) -> None:
    location = await bot.send_location(USER, latitude=31.2304, longitude=121.4737)
    venue = await bot.send_venue(USER, 31.2304, 121.4737, title="外滩", address="中山东一路")

    assert location.location is not None
    assert (location.location.latitude, location.location.longitude) == (31.2304, 121.4737)
    assert venue.venue is not None and venue.venue.title == "外滩"
    assert [m["message_id"] for m in fake.sent_to(USER)] == [1, 2]
    with pytest.raises(BadRequest):
        await bot.send_location(USER, latitude=121.4737, longitude=31.2304)  # swapped


async def test_send_photo_by_file_id_and_download(fake: FakeBotApi, bot: Bot) -> None:
    incoming = fake.user_photo(USER, file_id="AgAC-report-photo", caption="黑烟")
    assert incoming["message"]["photo"][-1]["file_id"] == "AgAC-report-photo"

    message = await bot.send_photo(USER, photo="AgAC-report-photo", caption="已收到")

    assert message.photo[-1].file_id == "AgAC-report-photo"
    assert message.caption == "已收到"
    assert fake.sent_to(USER)[0]["photo"][-1]["file_id"] == "AgAC-report-photo"
    file = await bot.get_file("AgAC-report-photo")
    assert file.file_path is not None and file.file_path.startswith(fake.base_file_url)
    assert bytes(await file.download_as_bytearray()).startswith(b"\xff\xd8")


async def test_send_photo_upload_is_multipart(fake: FakeBotApi, bot: Bot) -> None:
    content = b"\xff\xd8uploaded-bytes\xff\xd9"

    message = await bot.send_photo(USER, photo=content, caption="图")

    file = await message.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == content
    params = await fake.wait_for_call("sendPhoto")  # already happened: returns at once
    assert isinstance(params["photo"], UploadedFile)
    assert params["photo"].content == content


async def test_media_group(fake: FakeBotApi, bot: Bot) -> None:
    media = [InputMediaPhoto("AgAC-a", caption="一"), InputMediaPhoto(b"\xff\xd8two\xff\xd9")]

    messages = await bot.send_media_group(USER, media)

    assert len(messages) == 2
    assert messages[0].media_group_id == messages[1].media_group_id is not None
    assert messages[0].caption == "一"
    assert len(fake.sent_to(USER)) == 2


async def test_html_is_parsed_like_telegram(fake: FakeBotApi, bot: Bot) -> None:
    message = await bot.send_message(USER, "<b>空气</b> &amp; <i>水</i>", parse_mode=ParseMode.HTML)

    assert message.text == "空气 & 水"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 2),
        ("italic", 5, 1),
    ]
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(USER, "a<br>b", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(USER, "PM2.5 < 35", parse_mode=ParseMode.HTML)
    assert len(fake.sent_to(USER)) == 1


async def test_fail_next_429_surfaces_as_retry_after(fake: FakeBotApi, bot: Bot) -> None:
    fake.fail_next("sendMessage", error_code=429, retry_after=3)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "hi")

    assert retry_seconds(caught.value) == 3
    assert fake.stats["429"] == 1
    await bot.send_message(USER, "hi")  # only the next call failed
    assert len(fake.sent_to(USER)) == 1


async def test_blocked_chat_is_forbidden(fake: FakeBotApi, bot: Bot) -> None:
    fake.block_chat(USER)

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "hi")

    assert fake.stats["403"] == 1
    assert fake.sent_to(USER) == []
    await bot.send_message(USER + 1, "hi")  # other chats are unaffected


async def test_unknown_token_and_method(fake: FakeBotApi, bot: Bot) -> None:
    stranger = Bot("999:wrong-token", base_url=fake.base_url, base_file_url=fake.base_file_url)
    with pytest.raises(InvalidToken):
        async with stranger:  # shuts its HTTP client down when initialising fails
            pass
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")


async def test_per_chat_rate_limit(fake: FakeBotApi, bot: Bot) -> None:
    now = [1000.0]
    fake.set_rate_limits(per_chat_per_second=1, clock=lambda: now[0])

    await bot.send_message(USER, "one")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "two")
    await bot.send_message(USER + 1, "other chat")

    assert retry_seconds(caught.value) == 1
    now[0] += 1.0
    await bot.send_message(USER, "two")
    assert [m["text"] for m in fake.sent_to(USER)] == ["one", "two"]
    assert fake.stats["429"] == 1


async def test_global_rate_limit(fake: FakeBotApi, bot: Bot) -> None:
    now = [0.0]
    fake.set_rate_limits(global_per_second=2, clock=lambda: now[0])

    await bot.send_message(1, "a")
    now[0] += 0.5
    await bot.send_message(2, "b")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(3, "c")

    assert retry_seconds(caught.value) == 1  # ceil(0.5)
    now[0] += 0.5  # the first send leaves the window
    await bot.send_message(3, "c")


async def test_busiest_second_counts_refused_sends_too(fake: FakeBotApi, bot: Bot) -> None:
    now = [0.0]
    fake.set_rate_limits(global_per_second=2, clock=lambda: now[0])

    await bot.send_message(1, "a")
    now[0] += 0.4
    await bot.send_message(2, "b")
    now[0] += 0.4
    with pytest.raises(RetryAfter):  # arrived, refused: still counted
        await bot.send_message(3, "c")
    await bot.get_me()  # not a message
    now[0] += 0.3  # "a" is now more than a second ago
    await bot.send_message(4, "d")

    assert fake.busiest_second() == 3  # a, b, c within 0.8 s
    assert fake.busiest_second(window=0.5) == 2


async def test_get_updates_offset_and_long_poll(fake: FakeBotApi, bot: Bot) -> None:
    first = fake.push_update({"message": fake.user_text(USER, "a")["message"]})
    assert first == 2  # user_text pushed update 1 already

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [1, 2]
    assert [u.update_id for u in await bot.get_updates()] == [1, 2]  # not yet confirmed
    assert await bot.get_updates(offset=3) == ()
    await fake.wait_until_updates_consumed(timeout=1)

    since = len(fake.calls)
    poll = asyncio.create_task(bot.get_updates(offset=3, timeout=30))
    await fake.wait_for_call("getUpdates", since=since)  # the long poll is parked
    fake.user_text(USER, "/start")
    [update] = await asyncio.wait_for(poll, timeout=5)
    assert update.update_id == 3
    assert update.message is not None and update.message.text == "/start"
    assert update.message.entities[0].type == "bot_command"


async def test_webhook_roundtrip(fake: FakeBotApi, bot: Bot) -> None:
    await bot.set_webhook("https://example.test/hook", secret_token="s3cret")

    assert fake.webhook is not None
    assert (fake.webhook["url"], fake.webhook["secret_token"]) == (
        "https://example.test/hook",
        "s3cret",
    )
    assert (await bot.get_webhook_info()).url == "https://example.test/hook"
    with pytest.raises(Conflict):
        await bot.get_updates()
    await bot.delete_webhook()
    assert fake.webhook is None


async def test_commands(fake: FakeBotApi, bot: Bot) -> None:
    await bot.set_my_commands([("report", "举报污染"), ("help", "帮助")])
    assert [c.command for c in await bot.get_my_commands()] == ["report", "help"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Report", "uppercase is invalid")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_application_polls_and_replies(fake: FakeBotApi) -> None:
    """A real Application: echo, a command with a keyboard, and a button press that edits."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("好", callback_data="ok")]])
        await update.effective_message.reply_text("欢迎", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"pressed {query.data}")

    app = (
        Application.builder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        fake.user_text(USER, "hello")
        [reply] = await fake.wait_for_messages(USER, 1)
        assert reply["text"] == "echo: hello"

        fake.user_text(USER, "/start")
        welcome = (await fake.wait_for_messages(USER, 2))[-1]
        assert welcome["text"] == "欢迎"

        fake.user_callback(USER, "ok")
        edit = await fake.wait_for_call("editMessageText")
        assert edit["message_id"] == welcome["message_id"]
        await fake.wait_for_call("answerCallbackQuery")
        await fake.wait_until_updates_consumed()
        assert fake.sent_to(USER)[-1]["text"] == "pressed ok"
        assert "reply_markup" not in fake.sent_to(USER)[-1]  # edit without markup drops it
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

"""A photo reference never makes python-telegram-bot upload a local file.

PTB reads any string naming an existing local file as that file (``parse_file_input``), so a
"file_id" such as ``canary.txt`` in the working directory or ``/etc/hostname`` would be sent to
Telegram as a photo. Jingtu refuses such references where they come in (a forged update) and
never hands PTB a string it could read as a path where they go out (a notification, a resolution
photo, an album): the fake Bot API server records every file part it receives, and sees none.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.channels.telegram import TelegramChannel
from bot.config import Settings
from bot.storage.models import OutboxMessage, Person, ProcessedUpdate
from handlers.contract import Reply
from tests.fakes.telegram_api import FakeBotApi, UploadedFile
from tests.support.clock import FakeClock
from tests.support.telegram_driver import telegram_driver, telegram_settings

CANARY = b"CANARY-8f3a1c: this file must never leave the machine\n"
# Shaped like a real file_id, and a local file as well: only sending by file_id keeps it local.
FILE_ID_NAMED_FILE = "AgACAgUAAxkBAAIcanary_file-id"
CHAT = 7_100_001
LONG_TEXT = "A notification longer than a caption may be. " * 40  # > 1024 characters


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding files named like the references a forger would use."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "canary.txt").write_bytes(CANARY)
    (tmp_path / FILE_ID_NAMED_FILE).write_bytes(CANARY)
    return tmp_path


def local_refs(canary: Path) -> list[str]:
    refs = ["canary.txt", "./canary.txt", str(canary / "canary.txt"), "file://canary.txt"]
    if Path("/etc/hostname").is_file():
        refs.append("/etc/hostname")
    return refs


def assert_nothing_uploaded(api: FakeBotApi) -> None:
    assert api.uploads == []
    for _, params in api.calls:
        assert not any(isinstance(v, UploadedFile) for v in params.values()), params
        assert "CANARY" not in repr(params)
        assert "file://" not in repr(params)


def photo_calls(api: FakeBotApi) -> list[Any]:
    """The photo references Jingtu asked the Bot API to send."""
    sent: list[Any] = []
    for name, params in api.calls:
        if name == "sendPhoto":
            sent.append(params["photo"])
        elif name == "sendMediaGroup":
            sent.extend(item["media"] for item in params["media"])
    return sent


@pytest.fixture
async def channel() -> AsyncIterator[tuple[FakeBotApi, TelegramChannel]]:
    """Jingtu's Telegram channel against the fake server, for its sender alone (no database)."""

    async def process(_: Any) -> None:
        raise AssertionError("no update is expected here")

    async with FakeBotApi() as api:
        telegram = TelegramChannel(telegram_settings(Settings(), api), process)
        await telegram.application.initialize()
        try:
            yield api, telegram
        finally:
            await telegram.application.shutdown()


@pytest.mark.parametrize("text", ["Case 2026-00001: black smoke", LONG_TEXT])
async def test_a_local_file_named_as_the_one_photo_is_dropped_and_the_text_still_goes_out(
    canary: Path,
    channel: tuple[FakeBotApi, TelegramChannel],
    text: str,
    caplog: pytest.LogCaptureFixture,
):
    api, telegram = channel
    caplog.set_level(logging.WARNING)
    refs = local_refs(canary)
    for ref in refs:
        await telegram.sender.send(str(CHAT), Reply(text=text, photos=(ref,)).to_payload())
    received = api.sent_to(CHAT)
    assert received and all("photo" not in m for m in received)
    assert sum(text[:40] in (m.get("text") or "") for m in received) == len(refs)
    assert photo_calls(api) == []
    assert_nothing_uploaded(api)
    dropped = [r.getMessage() for r in caplog.records if "dropped a photo" in r.getMessage()]
    assert len(dropped) == len(refs)


async def test_a_file_id_that_is_also_a_local_file_is_sent_by_its_id(
    canary: Path, channel: tuple[FakeBotApi, TelegramChannel]
):
    api, telegram = channel
    # `canary` made FILE_ID_NAMED_FILE a local file: PTB would upload it, given the bare string.
    await telegram.sender.send(
        str(CHAT), Reply(text="Resolved", photos=(FILE_ID_NAMED_FILE,)).to_payload()
    )
    await telegram.sender.send(
        str(CHAT), Reply(text=LONG_TEXT, photos=(FILE_ID_NAMED_FILE,)).to_payload()
    )
    assert photo_calls(api) == [FILE_ID_NAMED_FILE, FILE_ID_NAMED_FILE]
    assert_nothing_uploaded(api)
    [with_caption, long_text, photo] = api.sent_to(CHAT)
    assert with_caption["caption"] == "Resolved" and with_caption["photo"]
    assert long_text["text"].startswith(LONG_TEXT[:40]) and photo["photo"]


async def test_an_album_sends_only_its_file_ids_and_nothing_from_disk(
    canary: Path, channel: tuple[FakeBotApi, TelegramChannel]
):
    api, telegram = channel
    refs = (*local_refs(canary), FILE_ID_NAMED_FILE, "AgACAgUAAxkBAAI-second")
    await telegram.sender.send(str(CHAT), Reply(text="Before and after", photos=refs).to_payload())
    assert photo_calls(api) == [FILE_ID_NAMED_FILE, "AgACAgUAAxkBAAI-second"]
    assert_nothing_uploaded(api)
    received = api.sent_to(CHAT)
    assert received[0]["text"] == "Before and after"
    assert [bool(m.get("photo")) for m in received] == [False, True, True]
    # Only local files left: no album, no photo, the text alone.
    await telegram.sender.send(
        str(CHAT), Reply(text="Only files", photos=tuple(local_refs(canary))).to_payload()
    )
    assert api.sent_to(CHAT)[-1]["text"] == "Only files"
    assert len(photo_calls(api)) == 2
    assert_nothing_uploaded(api)


# --------------------------------------------------------------------------- through the app


@pytest.fixture
def settings(sample_database_url: str) -> Settings:
    return replace(Settings(), database_url=sample_database_url)


async def test_a_supervisor_notification_naming_a_local_file_uploads_nothing(
    canary: Path, settings: Settings
):
    from tests.e2e.test_report_flows import VILLAGE_AT_SAMZHUBZE, report

    clock = FakeClock()
    async with telegram_driver(settings, clock) as tg:
        await tg.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
        await report(tg, "alice", photos=1)
        # As if the stored photo reference named a local file (a forged update, an old row).
        async with tg.app.database.transaction() as s:
            notes = (await s.scalars(select(OutboxMessage))).all()
            with_photos = [n for n in notes if n.payload.get("photos")]
            assert with_photos
            for note in with_photos:
                note.payload = {**note.payload, "photos": local_refs(canary)}
        await tg.deliver()
        received = tg.received("supervisor")
        assert any("2026-00001" in s.text for s in received)
        assert not any(s.photos for s in received)
        assert_nothing_uploaded(tg.api)


async def test_a_forged_photo_naming_a_local_file_is_refused_at_the_door(
    canary: Path, settings: Settings
):
    clock = FakeClock()
    async with telegram_driver(settings, clock) as tg:
        for ref in local_refs(canary):
            tg.api.user_photo(7_100_002, file_id=ref, first_name="mallory")
        await tg.api.wait_until_updates_consumed()
        assert "/report" in (await tg.text("alice", "/help"))[-1].text
        async with tg.app.database.reader() as s:
            people = await s.scalar(select(func.count()).select_from(Person))
            updates = await s.scalar(select(func.count()).select_from(ProcessedUpdate))
        assert (people, updates) == (1, 1)
        assert tg.api.sent_to(7_100_002) == []
        assert_nothing_uploaded(tg.api)

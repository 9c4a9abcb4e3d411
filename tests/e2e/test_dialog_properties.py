"""Property-based: whatever people (or forgers) send, the dialog answers and stored data holds.

Hypothesis feeds random text, captions, coordinates (NaN and infinities included), callback data
and orderings into the resident dialog through the console channel on the real database.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from telegram import Bot, Update

from bot.app import Jingtu
from bot.channels.telegram import update_to_inbound
from bot.config import Settings
from bot.storage.models import Case, GridCell, Person, Supervisor
from handlers.contract import Inbound, Location
from messages import text as message_text
from tests.support.clock import FakeClock

KNOWN_PREFIXES = [
    "r:g:",
    "r:c:",
    "r:pk:",
    "r:e:",
    "r:anon:",
    "r:ph:",
    "r:loc:",
    "lang:",
    "sv:",
    "r:",
]
KNOWN_CALLBACKS = ["r:ok", "r:x", "r:urg", "r:edit", "r:back", "r:ph:done", "r:loc:pick", "r:pk:up"]

texts = (
    st.text(max_size=300)
    | st.text(min_size=2000, max_size=5000)
    | st.sampled_from(
        [
            "/report",
            "/cancel",
            "/start",
            "/help",
            "/mycases",
            "/case",
            "/case 2026-00001",
            "/nope",
            "29.267, 88.881",
            "91,200",
            "nan,nan",
            "/",
            "",
            " ",
            "\x00\x01",
            "/report@jingtu_bot x",
        ]
    )
)
callbacks = (
    st.builds(lambda p, s: p + s, st.sampled_from(KNOWN_PREFIXES), st.text(max_size=20))
    | st.sampled_from(KNOWN_CALLBACKS)
    | st.text(max_size=64)
)
coordinates = st.floats(allow_nan=True, allow_infinity=True, width=64)
locations = st.builds(
    Location, coordinates, coordinates, st.sampled_from(["wgs84", "gcj02", "bogus"])
) | st.builds(
    Location,
    st.floats(min_value=27.0, max_value=31.5),
    st.floats(min_value=82.0, max_value=91.0),
)
_event_lists = st.lists(
    st.one_of(
        st.tuples(st.just("text"), texts),
        st.tuples(st.just("callback"), callbacks),
        st.tuples(st.just("location"), locations),
        st.tuples(st.just("photo"), st.text(min_size=1, max_size=300)),
    ),
    min_size=1,
    max_size=25,
)
# Half the sequences open the report dialog first, so the steps deep inside it get exercised.
events = st.builds(
    lambda open_dialog, rest: ([("text", "/report")] if open_dialog else []) + rest,
    st.booleans(),
    _event_lists,
)


async def table_counts(app: Jingtu) -> dict[str, int]:
    async with app.database.reader() as s:
        return {
            model.__name__: int(await s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Case, GridCell, Supervisor, Person)
        }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=events)
async def test_random_input_never_crashes_the_dialog_nor_touches_stored_data(
    sample_database_url, sequence
):
    app = Jingtu(replace(Settings(), database_url=sample_database_url), clock=FakeClock())
    console = app.attach_console()
    await app.start(background=False)
    apologies = {message_text(loc, "error-internal") for loc in ("zh-Hans", "en", "bo")}
    persona = f"p{next(_personas)}"
    chat = console.chat_of(persona)
    try:
        baseline = await table_counts(app)
        for kind, value in sequence:
            before = await table_counts(app)
            inbound = Inbound(
                "console",
                chat,
                chat,
                update_id=f"prop:{next(_personas)}",
                text=value if kind == "text" else None,
                callback=value if kind == "callback" else None,
                location=value if kind == "location" else None,
                photo=value if kind == "photo" else None,
            )
            await app.conversation.process(inbound)
            shown = console.screen(persona).replies
            assert shown, f"no answer to {kind} {value!r}"
            assert shown[-1].text not in apologies, f"unhandled error on {kind} {value!r}"
            after = await table_counts(app)
            # Only a confirmation may add a case; nothing may ever change the grid or roster.
            if after["Case"] != before["Case"]:
                assert (kind, value) == ("callback", "r:ok")
                assert after["Case"] == before["Case"] + 1
            assert (after["GridCell"], after["Supervisor"]) == (
                baseline["GridCell"],
                baseline["Supervisor"],
            )
    finally:
        await app.stop()


_personas = itertools.count()


message_dicts = st.fixed_dictionaries(
    {
        "message_id": st.integers(1, 2**31),
        "date": st.integers(0, 2**31),
        "chat": st.fixed_dictionaries(
            {
                "id": st.integers(-(2**40), 2**40),
                "type": st.sampled_from(["private", "group", "channel"]),
            }
        ),
        "from": st.fixed_dictionaries(
            {
                "id": st.integers(1, 2**40),
                "is_bot": st.booleans(),
                "first_name": st.text(max_size=80),
                "language_code": st.sampled_from(["zh-hans", "en", "bo", "xx", ""]),
            }
        ),
    },
    optional={
        "text": st.text(max_size=5000),
        "caption": st.text(max_size=1100),
        "location": st.fixed_dictionaries(
            {
                "latitude": st.floats(allow_nan=False, width=32),
                "longitude": st.floats(allow_nan=False, width=32),
            }
        ),
        "photo": st.lists(
            st.fixed_dictionaries(
                {
                    "file_id": st.text(min_size=1, max_size=100),
                    "file_unique_id": st.text(min_size=1, max_size=20),
                    "width": st.integers(1, 5000),
                    "height": st.integers(1, 5000),
                }
            ),
            max_size=4,
        ),
    },
)
update_dicts = st.one_of(
    st.builds(
        lambda uid, m: {"update_id": uid, "message": m}, st.integers(0, 2**31), message_dicts
    ),
    st.builds(
        lambda uid, m, data: {
            "update_id": uid,
            "callback_query": {
                "id": "1",
                "from": m["from"],
                "chat_instance": "c",
                "data": data,
                "message": m,
            },
        },
        st.integers(0, 2**31),
        message_dicts,
        st.text(max_size=200),
    ),
)


@settings(max_examples=200, deadline=None)
@given(raw=update_dicts)
def test_any_telegram_update_becomes_a_well_formed_inbound_or_is_ignored(raw):
    bot = Bot("123456:TEST-token-abcdefghijklmnopqrstuvwxyz")
    update = Update.de_json(raw, bot)
    inbound = update_to_inbound(update)
    if inbound is None:
        return
    assert inbound.channel == "telegram" and inbound.user_id and inbound.chat_id
    assert inbound.callback is None or len(inbound.callback) <= 64
    if inbound.location is not None:
        assert not math.isnan(inbound.location.lat)

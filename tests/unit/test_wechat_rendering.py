"""How a Reply becomes customer-service messages, and how WeChat's error codes are read."""

from __future__ import annotations

import re

import pytest

from bot.channels.wechat import (
    MAX_MENU_HEAD_BYTES,
    MAX_TEXT_BYTES,
    location_line,
    render,
    send_error,
    split_utf8,
)
from bot.delivery.outbox import PermanentFailure, RetryLater
from bot.domain.geo import wgs84_to_gcj02
from handlers.contract import Button, Location, Reply

OPENID = "oJingtu_tenzin"


def test_a_plain_reply_is_one_text_message():
    assert render(OPENID, Reply("Hello")) == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "Hello"}}
    ]


def test_buttons_become_a_menu_whose_item_ids_are_the_callback_data():
    reply = Reply("Pick a group", buttons=((Button("Air", "r:g:air"), Button("Water", "r:g:w")),))
    [menu] = render(OPENID, reply)
    assert menu["msgtype"] == "msgmenu"
    assert menu["msgmenu"]["head_content"] == "Pick a group"
    assert menu["msgmenu"]["list"] == [
        {"id": "r:g:air", "content": "Air"},
        {"id": "r:g:w", "content": "Water"},
    ]


def test_more_than_ten_buttons_are_spread_over_several_menus_in_order():
    buttons = tuple((Button(f"County {i}", f"r:pk:{i}"),) for i in range(18))
    menus = render(OPENID, Reply("Which county?", buttons=buttons))
    assert [len(m["msgmenu"]["list"]) for m in menus] == [10, 8]
    assert [m["msgmenu"]["head_content"] for m in menus] == ["Which county?", "…"]
    ids = [item["id"] for m in menus for item in m["msgmenu"]["list"]]
    assert ids == [f"r:pk:{i}" for i in range(18)]


def test_a_long_text_with_buttons_keeps_the_menu_head_within_its_limit():
    body = "\n".join("污染举报 " * 30 for _ in range(20))
    messages = render(OPENID, Reply(body, buttons=((Button("OK", "ok"),),)))
    texts = [m["text"]["content"] for m in messages if m["msgtype"] == "text"]
    head = messages[-1]["msgmenu"]["head_content"]
    assert all(len(t.encode()) <= MAX_TEXT_BYTES for t in texts)
    assert len(head.encode()) <= MAX_MENU_HEAD_BYTES
    assert "".join([*texts, head]) == body


def test_the_share_location_label_ends_the_message_with_where_to_find_it():
    reply = Reply("Where is it?", request_location="📍 Share my location")
    [text] = render(OPENID, reply)
    assert text["text"]["content"].endswith("📍 Share my location → ⊕ → 📍")
    menu_reply = Reply("Where?", buttons=((Button("Pick", "r:loc:pick"),),), request_location="📍")
    assert render(OPENID, menu_reply)[0]["msgmenu"]["tail_content"] == "📍 → ⊕ → 📍"


def test_a_location_is_a_gcj02_line_with_a_map_link_whatever_datum_it_came_in():
    gcj = wgs84_to_gcj02(29.267, 88.881)
    line = location_line(Location(29.267, 88.881, "wgs84"))
    assert line == location_line(Location(gcj.lat, gcj.lon, "gcj02"))
    assert line.startswith(f"📍 {gcj.lat:.6f},{gcj.lon:.6f} https://uri.amap.com/marker?")
    [message] = render(OPENID, Reply("New case", location=Location(gcj.lat, gcj.lon, "gcj02")))
    assert re.search(r"New case\n📍 \d+\.\d{6},\d+\.\d{6}", message["text"]["content"])


def test_photos_follow_the_text_as_image_messages():
    messages = render(OPENID, Reply("Resolved", photos=("media-1", "media-2")))
    assert [m["msgtype"] for m in messages] == ["text", "image", "image"]
    assert messages[2]["image"] == {"media_id": "media-2"}
    assert [m["msgtype"] for m in render(OPENID, Reply("", photos=("m",)))] == ["image"]


def test_button_data_over_64_bytes_is_a_permanent_failure():
    with pytest.raises(PermanentFailure):
        render(OPENID, Reply("x", buttons=((Button("Too long", "d" * 65),),)))


@pytest.mark.parametrize(
    ("code", "kind", "unreachable"),
    [
        (45015, PermanentFailure, False),
        (45047, PermanentFailure, False),
        (43004, PermanentFailure, True),
        (40003, PermanentFailure, True),
        (45002, PermanentFailure, False),
        (-1, RetryLater, None),
        (45009, RetryLater, None),
        (42001, RetryLater, None),
        (99999, RetryLater, None),
    ],
)
def test_each_error_code_is_read_as_the_outbox_needs(code, kind, unreachable):
    error = send_error(code, "message from wechat")
    assert isinstance(error, kind)
    assert str(code) in str(error)
    if isinstance(error, PermanentFailure):
        assert error.unreachable is unreachable


def test_the_window_errors_say_why_in_words_an_operator_understands():
    assert "48 hours" in str(send_error(45015, "response out of time limit"))
    quota = send_error(45009, "api limit")
    assert isinstance(quota, RetryLater) and quota.retry_after == 3600.0


def test_long_texts_are_split_within_wechats_byte_limit():
    body = "\n".join(f"第 {i} 行 " + "污染" * 60 for i in range(40))
    chunks = split_utf8(body, 2048)
    assert all(len(c.encode()) <= 2048 for c in chunks)
    assert "".join(chunks) == body
    assert split_utf8("净" * 1000, 2048) == ["净" * 682, "净" * 318]

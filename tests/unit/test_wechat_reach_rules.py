"""The pure parts of reaching people on WeChat: notice tags, templates, numbered lists, the
custom menu's limits, the window's bookkeeping and what voice and menu clicks become."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.channels.wechat import (
    SHIPPED_MENU,
    SHIPPED_TEMPLATES,
    ServiceWindows,
    Template,
    load_templates,
    menu_as_numbered,
    menu_problems,
    message_to_inbound,
    render,
    render_numbered,
    template_message,
)
from bot.config import ConfigError
from bot.delivery.message import Button, Location, NoticeTag, Reply
from bot.domain.grid import GridIndex
from bot.services.notices import EscalationNotice, SupervisorChat, escalation_digests
from tests.support.clock import FakeClock

OPENID = "oJingtu_tenzin"


def test_a_notice_tag_survives_the_outbox_and_old_payloads_still_load():
    tag = NoticeTag("follow-up", {"number": "2026-00001", "title": "Is it fixed?"})
    reply = Reply("Is it fixed?", buttons=((Button("Yes", "fu:1:y"),),), notice=tag)
    assert Reply.from_payload(json.loads(json.dumps(reply.to_payload()))) == reply
    old = Reply("Hello").to_payload()
    assert "notice" not in old
    assert Reply.from_payload(old).notice is None


def test_the_shipped_templates_file_is_valid_and_names_no_template():
    assert load_templates(SHIPPED_TEMPLATES) == {}


def test_a_templates_file_maps_kinds_to_template_ids_and_fields(tmp_path: Path):
    path = tmp_path / "t.toml"
    path.write_text(
        '[follow-up]\ntemplate_id = "abc-123"\ndata = { first = "title", keyword1 = "number" }\n'
        '[case-new]\ntemplate_id = ""\ndata = { first = "title" }\n',
        encoding="utf-8",
    )
    assert load_templates(path) == {
        "follow-up": Template("abc-123", {"first": "title", "keyword1": "number"})
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('[case-old]\ntemplate_id = "x"\ndata = { first = "title" }\n', "[case-old] is not a"),
        (
            '[case-new]\ntemplate_id = "x"\ndata = { first = "reporter" }\n',
            "first = 'reporter': not one of category, cell, deadline, hint, number, time, title",
        ),
        ('[case-new]\ntemplate_id = "x"\n', "data must map template fields"),
        ('[case-new]\ntemplate_id = "x y"\ndata = { first = "title" }\n', "template_id must"),
        ("[case-new\n", "WECHAT_TEMPLATES_FILE"),
    ],
)
def test_a_bad_templates_file_stops_the_program_naming_the_fault(
    tmp_path: Path, body: str, problem: str
):
    path = tmp_path / "t.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match="WECHAT_TEMPLATES_FILE") as raised:
        load_templates(path)
    assert problem in str(raised.value)


def test_template_values_are_cut_to_what_each_field_type_allows():
    template = Template(
        "T1",
        {"thing1": "title", "character_string2": "number", "keyword3": "cell", "time4": "time"},
    )
    tag = NoticeTag(
        "case-new", {"title": "一二三四五六七八九十一二三四五六七八九十多", "number": "2026-00001"}
    )
    body = template_message(OPENID, template, tag, sent_at="2026-11-30 10:00")
    assert body == {
        "touser": OPENID,
        "template_id": "T1",
        "data": {
            "thing1": {"value": "一二三四五六七八九十一二三四五六七八九…"},
            "character_string2": {"value": "2026-00001"},
            "keyword3": {"value": "—"},  # a value the notice does not have
            "time4": {"value": "2026-11-30 10:00"},
        },
    }


def test_a_numbered_list_is_the_buttons_row_by_row_then_the_prompt():
    reply = Reply(
        "Pick a group",
        buttons=((Button("Air", "a"), Button("Water", "w")), (Button("Cancel", "c"),)),
        request_location="📍 Share my location",
    )
    [message] = render_numbered(OPENID, reply, "Reply with the number.")
    assert message["text"]["content"] == (
        "Pick a group\n\n1. Air\n2. Water\n3. Cancel\nReply with the number.\n\n"
        "📍 Share my location → ⊕ → 📍"
    )
    plain = render_numbered(OPENID, Reply("Hi", location=Location(29.0, 89.0, "gcj02")), "?")
    assert plain == render(OPENID, Reply("Hi", location=Location(29.0, 89.0, "gcj02")))


def test_a_refused_menu_becomes_a_list_numbered_on_from_the_earlier_menus():
    buttons = tuple((Button(f"County {i}", f"r:pk:{i}"),) for i in range(12))
    first, second = render(OPENID, Reply("Which county?", buttons=buttons))
    [text] = menu_as_numbered(second, "Reply with the number.", start=11)
    assert text["text"]["content"] == "11. County 10\n12. County 11\nReply with the number."
    [text] = menu_as_numbered(first, "?", start=1)
    assert text["text"]["content"].startswith("Which county?\n\n1. County 0\n")


def test_the_shipped_menu_is_within_wechats_limits():
    assert menu_problems(json.loads(SHIPPED_MENU.read_text(encoding="utf-8"))) == []


def test_a_menu_wechat_would_refuse_is_refused_with_each_problem_named():
    menu = {
        "button": [
            {"name": "举报", "sub_button": [{"type": "click", "name": "子", "key": "k"}] * 6},
            {"type": "view", "name": "网站", "url": "ftp://x"},
            {"type": "click", "name": "订阅"},
            {"type": "dance", "name": "舞"},
        ]
    }
    assert menu_problems(menu) == [
        "4 buttons: a menu has 1 to 3",
        "button 1: sub_button must list 1 to 5 buttons",
        "button 2: a view button needs an http(s) url",
        "button 3: a click button needs a key of 1 to 128 bytes",
        "button 4: type 'dance' is not a WeChat menu button type",
    ]
    assert menu_problems([]) == ['the menu must be a JSON object with a "button" list']


def test_the_window_counts_five_messages_per_person_message_for_48_hours():
    clock = FakeClock()
    windows = ServiceWindows(clock)
    assert windows.room(OPENID) is None  # unknown: WeChat will say
    windows.opened(OPENID)
    for left in (5, 4, 3):
        assert windows.room(OPENID) == left
        windows.spent(OPENID)
    clock.advance(hours=48, seconds=1)
    assert windows.room(OPENID) == 0
    windows.opened(OPENID)
    assert windows.room(OPENID) == 5
    windows.closed(OPENID)
    assert windows.room(OPENID) == 0
    windows.closed("oJingtu_other")  # WeChat's refusal is remembered for strangers too
    assert windows.room("oJingtu_other") == 0


def voice(**extra: str) -> dict[str, str]:
    return {
        "FromUserName": OPENID,
        "CreateTime": "1764468000",
        "MsgType": "voice",
        "MsgId": "42",
        "MediaId": "voice-media-1",
        **extra,
    }


def test_a_voice_message_is_its_recognised_words_and_keeps_its_media_id():
    inbound = message_to_inbound(voice(Recognition="河边有人倒垃圾"))
    assert inbound is not None
    assert (inbound.text, inbound.voice, inbound.photo) == ("河边有人倒垃圾", "voice-media-1", None)
    unheard = message_to_inbound(voice())
    assert unheard is not None and (unheard.text, unheard.voice) == (None, "voice-media-1")
    assert message_to_inbound(voice(MediaId="bad id\u0000")) is None


@pytest.mark.parametrize(
    ("key", "text", "callback"),
    [
        ("report", "/report", None),
        ("mycases", "/mycases", None),
        ("subscribe", "/subscribe", None),
        ("old-key", None, "old-key"),
    ],
)
def test_the_menus_click_keys_are_the_commands_they_stand_for(key, text, callback):
    fields = {
        "FromUserName": OPENID,
        "CreateTime": "1764468000",
        "MsgType": "event",
        "Event": "CLICK",
        "EventKey": key,
    }
    inbound = message_to_inbound(fields)
    assert inbound is not None and (inbound.text, inbound.callback) == (text, callback)


def test_an_escalation_digest_is_tagged_with_its_cases_and_cell():
    notices = [
        EscalationNotice(1, "2026-00001", "assigned", "540202006005", "540202006", "ack"),
        EscalationNotice(2, "2026-00002", "assigned", "540202006005", "540202006", "ack"),
    ]
    chats = [SupervisorChat("540202006", "wechat", OPENID, "en")]
    [envelope] = escalation_digests(notices, chats, GridIndex.build([]), default_locale="zh-Hans")
    tag = Reply.from_payload(envelope.payload).notice
    assert tag is not None and tag.kind == "case-escalated"
    assert (tag.values["number"], tag.values["cell"]) == ("2026-00001, 2026-00002", "540202006")
    assert tag.values["title"] and "\n" not in tag.values["title"]


def test_the_window_is_48_hours():
    from bot.channels.wechat import WINDOW, WINDOW_QUOTA

    assert (timedelta(hours=48), 5) == (WINDOW, WINDOW_QUOTA)

"""The button-data grammar: what it encodes it parses back, and nothing else gets through."""

from __future__ import annotations

import pytest

from bot.domain.access import Verb
from bot.services import callbacks
from bot.services.callbacks import (
    AnswerQuestion,
    CaseAction,
    FollowUpAnswer,
    RejectAs,
    SkipPhoto,
    TransferTo,
)


@pytest.mark.parametrize(
    ("data", "press"),
    [
        (callbacks.case_action(Verb.ACKNOWLEDGE, 7), CaseAction(Verb.ACKNOWLEDGE, 7)),
        (callbacks.case_action(Verb.REJECT, 2**31 - 1), CaseAction(Verb.REJECT, 2**31 - 1)),
        (callbacks.transfer_to(12, "540202006"), TransferTo(12, "540202006")),
        (callbacks.reject_as(3, duplicate=True), RejectAs(True, 3)),
        (callbacks.reject_as(3, duplicate=False), RejectAs(False, 3)),
        (callbacks.answer_question(99), AnswerQuestion(99)),
        (callbacks.follow_up_answer(5, fixed=False), FollowUpAnswer(False, 5)),
        (callbacks.SKIP_PHOTO, SkipPhoto()),
    ],
)
def test_what_is_encoded_parses_back_to_the_same_press(data: str, press: object):
    assert callbacks.parse(data) == press
    assert len(data.encode()) <= 64


@pytest.mark.parametrize(
    "data",
    [
        "sv:ack:²",
        "sv:ack:٣",
        "sv:ack:2147483648",
        "sv:ack:0",
        "sv:ack:007",
        "sv:ack:-1",
        "sv:ack:+1",
        "sv:ack: 1",
        "sv:ack:1.0",
        "sv:ack",
        "sv:zz:1",
        "sv:to:1:" + "9" * 33,
        "sv:to:1:../../etc",
        "sv:rj:x:1",
        "rq:",
        "fu:maybe:1",
        "fu:y:1:2",
        "",
        None,
        "x" * 65,
    ],
)
def test_malformed_or_out_of_range_data_parses_as_nothing(data: str | None):
    assert callbacks.parse(data) is None


def test_data_over_telegrams_64_bytes_is_never_encoded():
    with pytest.raises(ValueError):
        callbacks.transfer_to(1, "街" * 30)

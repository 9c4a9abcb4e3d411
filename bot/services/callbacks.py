"""The grammar of the case buttons' callback data, encoded and parsed in this one module.

    sv:<ack|ask|tr|res|rej>:<case id>   a supervisor starts an action on a case
    sv:to:<case id>:<cell code>         … chooses where to transfer it
    sv:rj:<n|d>:<case id>               … rejects it as not pollution (n) or as a duplicate (d)
    sv:skip                             … sends no photo with a resolution
    rq:<question event id>              a reporter answers a supervisor's question
    fu:<y|n>:<case id>                  a reporter answers the follow-up: fixed, or not

Ids are ASCII decimal digits (no sign, no other Unicode digits) within the 32-bit integer
columns that hold them; anything else parses as None, so a forged or garbled press is refused
before it reaches the database. Every piece of data fits Telegram's 64 bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.access import Verb

ID_MAX = 2**31 - 1  # the id columns are 32-bit INTEGER (PostgreSQL's `integer`)
_ID = re.compile(r"[1-9][0-9]{0,9}")
_CELL = re.compile(r"[A-Za-z0-9._-]{1,32}")
MAX_BYTES = 64

CASE_VERBS: dict[str, Verb] = {
    "ack": Verb.ACKNOWLEDGE,
    "ask": Verb.ASK,
    "tr": Verb.TRANSFER,
    "res": Verb.RESOLVE,
    "rej": Verb.REJECT,
}
_CODE_OF = {verb: code for code, verb in CASE_VERBS.items()}
SKIP_PHOTO = "sv:skip"


def parse_id(raw: str) -> int | None:
    """A strict ASCII decimal id in range, or None."""
    if not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= ID_MAX else None


@dataclass(frozen=True, slots=True)
class CaseAction:
    verb: Verb
    case_id: int


@dataclass(frozen=True, slots=True)
class TransferTo:
    case_id: int
    cell_code: str


@dataclass(frozen=True, slots=True)
class RejectAs:
    duplicate: bool
    case_id: int


@dataclass(frozen=True, slots=True)
class SkipPhoto:
    pass


@dataclass(frozen=True, slots=True)
class AnswerQuestion:
    question_id: int


@dataclass(frozen=True, slots=True)
class FollowUpAnswer:
    fixed: bool
    case_id: int


Press = CaseAction | TransferTo | RejectAs | SkipPhoto | AnswerQuestion | FollowUpAnswer


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data[:80]!r}")
    return data


def case_action(verb: Verb, case_id: int) -> str:
    return _checked(f"sv:{_CODE_OF[verb]}:{case_id}")


def transfer_to(case_id: int, cell_code: str) -> str:
    return _checked(f"sv:to:{case_id}:{cell_code}")


def reject_as(case_id: int, *, duplicate: bool) -> str:
    return _checked(f"sv:rj:{'d' if duplicate else 'n'}:{case_id}")


def answer_question(question_id: int) -> str:
    return _checked(f"rq:{question_id}")


def follow_up_answer(case_id: int, *, fixed: bool) -> str:
    return _checked(f"fu:{'y' if fixed else 'n'}:{case_id}")


def parse(data: str | None) -> Press | None:
    """The press this data encodes, or None when it is not one of ours or is malformed."""
    if not data or len(data) > MAX_BYTES:
        return None
    parts = data.split(":")
    head = parts[0]
    if head == "sv":
        if parts[1:] == ["skip"]:
            return SkipPhoto()
        if len(parts) == 3 and parts[1] in CASE_VERBS:
            case_id = parse_id(parts[2])
            return None if case_id is None else CaseAction(CASE_VERBS[parts[1]], case_id)
        if len(parts) == 4 and parts[1] == "to" and _CELL.fullmatch(parts[3]):
            case_id = parse_id(parts[2])
            return None if case_id is None else TransferTo(case_id, parts[3])
        if len(parts) == 4 and parts[1] == "rj" and parts[2] in {"n", "d"}:
            case_id = parse_id(parts[3])
            return None if case_id is None else RejectAs(parts[2] == "d", case_id)
        return None
    if head == "rq" and len(parts) == 2:
        question_id = parse_id(parts[1])
        return None if question_id is None else AnswerQuestion(question_id)
    if head == "fu" and len(parts) == 3 and parts[1] in {"y", "n"}:
        case_id = parse_id(parts[2])
        return None if case_id is None else FollowUpAnswer(parts[1] == "y", case_id)
    return None

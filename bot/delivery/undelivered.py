"""Messages that could reach nobody: what staff must hear about, because the person did not.

A sender that gives up on a message because the platform will not carry it to that person
(outside WeChat's 48-hour window with no template for the notice, the person unfollowed, a
template refused …) raises `PermanentFailure(undelivered(reason))`. The outbox keeps such rows
(status ``dead``; housekeeping never deletes rows given up on) with that mark at the head of
``last_error``, and this module's query lists them: the command line
(``python -m bot wechat unreachable``) and the staff desk read them here and nowhere else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Case, OutboxMessage, Person

MARK = "undelivered: "


def undelivered(reason: str) -> str:
    """The error text of a message that reached nobody (for `PermanentFailure`)."""
    return MARK + reason


@dataclass(frozen=True, slots=True)
class UndeliveredNotice:
    outbox_id: int
    channel: str
    chat_id: str
    person_id: int | None
    kind: str  # the notice's kind (case-new, follow-up …), or "message" for an untagged one
    case_number: str | None
    written_at: datetime
    reason: str

    def as_json(self) -> dict[str, object]:
        return {
            "outbox_id": self.outbox_id,
            "channel": self.channel,
            "chat_id": self.chat_id,
            "person_id": self.person_id,
            "kind": self.kind,
            "case_number": self.case_number,
            "written_at": self.written_at.isoformat(),
            "reason": self.reason,
        }


async def undelivered_notices(
    session: AsyncSession, *, channel: str | None = None, limit: int = 1000
) -> list[UndeliveredNotice]:
    """The messages given up on because nobody could be reached, newest first."""
    query = (
        select(OutboxMessage, Person.id, Case.number)
        .outerjoin(
            Person,
            and_(Person.channel == OutboxMessage.channel, Person.chat_id == OutboxMessage.chat_id),
        )
        .outerjoin(Case, Case.id == OutboxMessage.case_id)
        .where(OutboxMessage.status == "dead", OutboxMessage.last_error.startswith(MARK))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if channel is not None:
        query = query.where(OutboxMessage.channel == channel)
    found = []
    for row, person_id, number in (await session.execute(query)).all():
        notice = row.payload.get("notice") if isinstance(row.payload, dict) else None
        kind = str(notice.get("kind")) if isinstance(notice, dict) else "message"
        found.append(
            UndeliveredNotice(
                outbox_id=row.id,
                channel=row.channel,
                chat_id=row.chat_id,
                person_id=person_id,
                kind=kind,
                case_number=number,
                written_at=row.created_at,
                reason=row.last_error.removeprefix(MARK),
            )
        )
    return found


def count_by_kind(notices: list[UndeliveredNotice]) -> dict[str, int]:
    """How many undelivered messages of each kind: the figure staff watch."""
    return dict(sorted(Counter(n.kind for n in notices).items()))

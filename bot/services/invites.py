"""Supervisor onboarding by single-use invitation codes.

A code is 10 characters drawn by `secrets` from an alphabet without look-alikes (no 0/O, 1/I/L),
about 49 bits; only its SHA-256 is stored. Wrong, used or expired codes count as failures: five
failures within an hour make the account wait until the oldest of them is an hour old (each
failure and each refused attempt is a SecurityEvent, which is also what the throttle counts).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.services.case_access import actor_label
from bot.services.conversation import Turn
from bot.storage.db import Database, insert_ignore
from bot.storage.models import GridCell, Invite, SecurityEvent, Supervisor, SupervisorCell

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)
FAILED = "invite-failed"
THROTTLED = "invite-throttled"


class InviteRefused(Exception):
    """An invite cannot be created (unknown cell)."""


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str:
    """What people type: lower case, spaces and dashes are forgiven."""
    return "".join(ch for ch in raw.upper() if ch not in " -_\t")


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


@dataclass(frozen=True)
class CreatedInvite:
    code: str
    cell_code: str
    cell_name: str
    expires_at: datetime


async def create_invite(
    database: Database, *, cell_code: str, name: str, now: datetime, ttl_days: float
) -> CreatedInvite:
    async with database.transaction() as session:
        cell = await session.get(GridCell, cell_code)
        if cell is None:
            raise InviteRefused(
                f"there is no grid cell {cell_code!r} (see `python -m bot grid stats`)"
            )
        code = new_code()
        expires = now + timedelta(days=ttl_days)
        session.add(
            Invite(
                code_hash=hash_code(code),
                cell_code=cell_code,
                name=name[:200],
                created_at=now,
                expires_at=expires,
            )
        )
    return CreatedInvite(code, cell_code, cell.name_zh, expires)


@dataclass(frozen=True)
class Redeemed:
    """The message to answer with: `key` and its arguments (cell codes to be named)."""

    key: str
    args: dict[str, Any]
    cell_code: str | None = None


async def _failures(turn: Turn) -> list[datetime]:
    rows = await turn.session.scalars(
        select(SecurityEvent.at)
        .where(
            SecurityEvent.actor == actor_label(turn.person),
            SecurityEvent.action == FAILED,
            SecurityEvent.at > turn.now - FAILURE_WINDOW,
        )
        .order_by(SecurityEvent.at)
    )
    return list(rows.all())


def _record(turn: Turn, action: str, reason: str) -> None:
    turn.session.add(
        SecurityEvent(at=turn.now, actor=actor_label(turn.person), action=action, reason=reason)
    )


async def redeem(turn: Turn, raw_code: str) -> Redeemed:
    """Bind the person writing to the invite's cell, or say why not."""
    failures = await _failures(turn)
    if len(failures) >= MAX_FAILURES:
        _record(turn, THROTTLED, f"{len(failures)} failures within the hour")
        return Redeemed("sv-invite-throttled", {"until": failures[0] + FAILURE_WINDOW})
    code = normalise_code(raw_code)
    invite = None
    if len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code):
        invite = (
            await turn.session.scalars(select(Invite).where(Invite.code_hash == hash_code(code)))
        ).first()
    if invite is None:
        _record(turn, FAILED, "unknown code")
        return Redeemed("sv-invite-invalid", {})
    if invite.revoked_at is not None:
        _record(turn, FAILED, f"invite {invite.id} revoked")
        return Redeemed("sv-invite-revoked", {})
    if invite.used_at is not None:
        _record(turn, FAILED, f"invite {invite.id} already used")
        return Redeemed("sv-invite-used", {})
    if invite.expires_at <= turn.now:
        _record(turn, FAILED, f"invite {invite.id} expired")
        return Redeemed("sv-invite-expired", {"expired": invite.expires_at})
    # Claimed by a conditional UPDATE: of two people racing with one code, exactly one wins.
    claimed = await turn.session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(used_at=turn.now, used_by_person_id=turn.person.id)
    )
    if not getattr(claimed, "rowcount", 0):
        _record(turn, FAILED, f"invite {invite.id} already used")
        return Redeemed("sv-invite-used", {})
    supervisor = (
        await turn.session.scalars(
            select(Supervisor).where(Supervisor.person_id == turn.person.id).order_by(Supervisor.id)
        )
    ).first()
    if supervisor is None:
        supervisor = Supervisor(
            name=(invite.name or turn.person.display_name or "")[:200],
            person_id=turn.person.id,
            created_at=turn.now,
        )
        turn.session.add(supervisor)
        await turn.session.flush()
    fresh = await insert_ignore(
        turn.session,
        SupervisorCell,
        {
            "supervisor_id": supervisor.id,
            "cell_code": invite.cell_code,
            "source": "invite",
            "created_at": turn.now,
        },
    )
    key = "sv-invite-bound" if fresh else "sv-invite-already"
    return Redeemed(key, {}, cell_code=invite.cell_code)

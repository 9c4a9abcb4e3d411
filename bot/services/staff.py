"""The bureau's staff: accounts, signing in to the desk, sessions, and the record of what they did.

Passwords are hashed with Argon2 (argon2-cffi's defaults, RFC 9106's low-memory profile). A session
is a random token in an HttpOnly cookie; only its SHA-256 is stored, beside the session's CSRF
token. Failed sign-ins are SecurityEvents, counted per name and per client address: too many
within the window refuse every attempt until the oldest leaves it, as wrong invite codes do.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.access import Actor, StaffRole
from bot.storage.db import Database
from bot.storage.models import GridCell, SecurityEvent, Staff, StaffAudit, StaffSession

LOGIN_FAILED = "desk-login-failed"
MAX_LOGIN_FAILURES = 5
LOGIN_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 10
MAX_PASSWORD = 200
_NAME_RE = re.compile(r"[^\s]{2,64}")
# last_seen_at is written at most this often: a page load needs no write otherwise.
TOUCH_EVERY = timedelta(minutes=1)

_hasher = PasswordHasher()
# Verified against when the name is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone's")


class StaffRefused(Exception):
    """Refused, nothing changed; `key` names the desk message, str() says it in English."""

    def __init__(self, key: str, english: str, **args: Any) -> None:
        super().__init__(english)
        self.key = key
        self.args_for_message = args


def actor_of(staff: Staff) -> Actor:
    """The staff member as the one authorization rule sees them."""
    role = StaffRole(staff.role)
    cells = frozenset({staff.cell_code}) if role == StaffRole.COUNTY and staff.cell_code else None
    return Actor(cells or frozenset(), staff=role)


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise StaffRefused(
            "desk-password-length",
            f"a password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            min=MIN_PASSWORD,
            max=MAX_PASSWORD,
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


async def add_staff(
    database: Database, *, name: str, role: str, cell_code: str | None, password: str, now: datetime
) -> Staff:
    if not _NAME_RE.fullmatch(name):
        raise StaffRefused("desk-name-invalid", "a name has 2 to 64 characters and no spaces")
    try:
        staff_role = StaffRole(role)
    except ValueError:
        raise StaffRefused(
            "desk-role-invalid", f"role {role!r}: choose admin, county or viewer"
        ) from None
    if staff_role == StaffRole.COUNTY and not cell_code:
        raise StaffRefused("desk-cell-required", "a county officer needs --cell CODE")
    if staff_role != StaffRole.COUNTY and cell_code:
        raise StaffRefused("desk-cell-unwanted", f"an {role} sees the whole grid: leave out --cell")
    hashed = await asyncio.to_thread(hash_password, password)
    async with database.transaction() as session:
        if cell_code and await session.get(GridCell, cell_code) is None:
            raise StaffRefused("desk-cell-unknown", f"no grid cell {cell_code!r}", cell=cell_code)
        if await _by_name(session, name) is not None:
            raise StaffRefused("desk-name-taken", f"a staff account {name!r} exists already")
        staff = Staff(
            name=name,
            role=staff_role.value,
            cell_code=cell_code or None,
            password_hash=hashed,
            disabled=False,
            created_at=now,
        )
        session.add(staff)
        await session.flush()
        record(session, staff, "staff-added", now=now, detail=f"{role} {cell_code or ''}".strip())
    return staff


async def _by_name(session: AsyncSession, name: str) -> Staff | None:
    return (await session.scalars(select(Staff).where(Staff.name == name[:64]))).first()


async def list_staff(database: Database) -> list[Staff]:
    async with database.reader() as session:
        return list((await session.scalars(select(Staff).order_by(Staff.name))).all())


async def disable_staff(database: Database, name: str, *, now: datetime) -> None:
    async with database.transaction() as session:
        staff = await _by_name(session, name)
        if staff is None:
            raise StaffRefused("desk-staff-unknown", f"no staff account {name!r}")
        staff.disabled = True
        await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        record(session, staff, "staff-disabled", now=now)


async def set_password(database: Database, name: str, password: str, *, now: datetime) -> None:
    """A new password; every session of the account ends."""
    hashed = await asyncio.to_thread(hash_password, password)
    async with database.transaction() as session:
        staff = await _by_name(session, name)
        if staff is None:
            raise StaffRefused("desk-staff-unknown", f"no staff account {name!r}")
        staff.password_hash = hashed
        await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        record(session, staff, "password-changed", now=now)


# --- the record of staff actions -----------------------------------------------------------------


def record(
    session: AsyncSession,
    staff: Staff,
    action: str,
    *,
    now: datetime,
    case_id: int | None = None,
    detail: str = "",
) -> None:
    """Record one staff action in the caller's transaction."""
    session.add(
        StaffAudit(
            at=now,
            staff_id=staff.id,
            staff_name=staff.name,
            action=action[:40],
            case_id=case_id,
            detail=detail[:400],
        )
    )


async def audit_trail(database: Database, *, limit: int = 100) -> list[StaffAudit]:
    async with database.reader() as session:
        return list(
            (
                await session.scalars(
                    select(StaffAudit)
                    .order_by(StaffAudit.at.desc(), StaffAudit.id.desc())
                    .limit(limit)
                )
            ).all()
        )


# --- signing in and sessions ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    staff: Staff
    token: str  # for the cookie; never stored
    csrf_token: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def login(
    database: Database, *, name: str, password: str, client: str, now: datetime
) -> SignedIn:
    """A new session for the right name and password, or StaffRefused (recorded, throttled)."""
    labels = [f"desk-name:{name[:64]}", f"desk-ip:{client[:64]}"]
    async with database.transaction() as session:
        oldest = await session.execute(
            select(SecurityEvent.actor, func.count(), func.min(SecurityEvent.at))
            .where(
                SecurityEvent.action == LOGIN_FAILED,
                SecurityEvent.actor.in_(labels),
                SecurityEvent.at > now - LOGIN_WINDOW,
            )
            .group_by(SecurityEvent.actor)
        )
        for _label, count, first in oldest:
            if count >= MAX_LOGIN_FAILURES:
                minutes = max(1, int((first + LOGIN_WINDOW - now).total_seconds() // 60) + 1)
                raise StaffRefused(
                    "desk-login-throttled",
                    f"too many failed sign-ins; try again in {minutes} minutes",
                    minutes=minutes,
                )
        staff = await _by_name(session, name)
    ok = await asyncio.to_thread(
        _verify, staff.password_hash if staff is not None else _DUMMY_HASH, password[:MAX_PASSWORD]
    )
    if staff is None or not ok or staff.disabled:
        reason = "unknown name" if staff is None else ("disabled" if ok else "wrong password")
        async with database.transaction() as session:
            session.add_all(
                SecurityEvent(at=now, actor=label, action=LOGIN_FAILED, reason=reason)
                for label in labels
            )
        raise StaffRefused("desk-login-failed", "wrong name or password")
    async with database.transaction() as session:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        session.add(
            StaffSession(
                token_hash=_token_hash(token),
                staff_id=staff.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
            )
        )
        record(session, staff, "login", now=now, detail=client[:64])
    return SignedIn(staff, token, csrf)


@dataclass(frozen=True)
class Current:
    staff: Staff
    csrf_token: str


async def current(
    database: Database, token: str, *, now: datetime, idle: timedelta
) -> Current | None:
    """The staff member a session cookie belongs to, if the session is alive; it is touched."""
    if not token or len(token) > 100:
        return None
    key = _token_hash(token)
    async with database.reader() as session:
        row = await session.execute(
            select(StaffSession, Staff)
            .join(Staff, Staff.id == StaffSession.staff_id)
            .where(StaffSession.token_hash == key)
        )
        found = row.first()
    if found is None:
        return None
    live, staff = found
    if staff.disabled or live.last_seen_at + idle <= now:
        async with database.transaction() as session:
            await session.execute(delete(StaffSession).where(StaffSession.token_hash == key))
        return None
    if now - live.last_seen_at >= TOUCH_EVERY:
        async with database.transaction() as session:
            fresh = await session.get(StaffSession, key)
            if fresh is not None:
                fresh.last_seen_at = now
    return Current(staff, live.csrf_token)


async def logout(database: Database, token: str, *, now: datetime) -> None:
    key = _token_hash(token)
    async with database.transaction() as session:
        live = await session.get(StaffSession, key)
        if live is None:
            return
        staff = await session.get(Staff, live.staff_id)
        await session.execute(delete(StaffSession).where(StaffSession.token_hash == key))
        if staff is not None:
            record(session, staff, "logout", now=now)


async def set_locale(database: Database, staff_id: int, locale: str) -> None:
    async with database.transaction() as session:
        staff = await session.get(Staff, staff_id)
        if staff is not None:
            staff.locale = locale


async def sweep_sessions(database: Database, *, now: datetime, idle: timedelta) -> int:
    """Delete sessions idle longer than `idle`; returns how many."""
    async with database.transaction() as session:
        result = await session.execute(
            delete(StaffSession).where(
                or_(StaffSession.last_seen_at <= now - idle, StaffSession.last_seen_at.is_(None))
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

"""SQLAlchemy 2 models: the whole schema, portable between SQLite and PostgreSQL.

Times are stored as UTC (naive on SQLite, where there is no time-zone type) and always come back
as aware UTC datetimes. Geometries are WKB blobs with a bounding box beside them; the in-memory
GridIndex does the spatial work, so no spatial extension is needed on either database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Jingtu stores aware UTC datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _not_null(column: str) -> dict[str, Any]:
    """A partial index's condition, on both databases: only rows where `column` is set."""
    where = text(f"{column} IS NOT NULL")
    return {"sqlite_where": where, "postgresql_where": where}


def utcnow() -> datetime:
    return datetime.now(UTC)


# A fetch time before any clock's "now": a new media row is due at once.
FETCH_AT_ONCE = datetime(2000, 1, 1, tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


# --- the grid -----------------------------------------------------------------------------------


class GridCell(Base):
    __tablename__ = "grid_cells"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("grid_cells.code", ondelete="RESTRICT"), index=True
    )
    name_zh: Mapped[str] = mapped_column(String(200))
    name_bo: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    datum: Mapped[str] = mapped_column(String(8), default="wgs84")
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Supervisor(Base):
    __tablename__ = "supervisors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="", index=True)
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64), index=True)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupervisorCell(Base):
    """Which supervisor answers for which cell; `source` says whether a roster or an invite bound it."""

    __tablename__ = "supervisor_cells"

    supervisor_id: Mapped[int] = mapped_column(
        ForeignKey("supervisors.id", ondelete="CASCADE"), primary_key=True
    )
    cell_code: Mapped[str] = mapped_column(
        ForeignKey("grid_cells.code", ondelete="CASCADE"), primary_key=True, index=True
    )
    source: Mapped[str] = mapped_column(String(16), default="roster")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(128), unique=True)
    cell_code: Mapped[str] = mapped_column(ForeignKey("grid_cells.code", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    used_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    revoked_at: Mapped[datetime | None] = mapped_column()


# --- people and conversations -------------------------------------------------------------------


class Person(Base):
    """Anyone who talks to the bot on a channel: resident, supervisor, subscriber."""

    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("channel", "channel_user_id"),
        # Messages are addressed to chats: the outbox finds a chat's people by it (migration 0003).
        Index("ix_people_channel_chat_id", "channel", "chat_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str | None] = mapped_column(String(16))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The buttons ([label, callback data]) of the last message queued for this person's chat, in
    # the order a numbered list shows them (row by row, from 1), so a typed number can pick one;
    # NULL when that message had none. Written only by `bot.delivery.outbox.add_to_outbox`.
    offered_choices: Mapped[list[list[str]] | None] = mapped_column(JSON(none_as_null=True))


class Dialog(Base):
    """A person's conversation state (drafts live here, so a restart resumes mid-dialog)."""

    __tablename__ = "dialogs"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProcessedUpdate(Base):
    """Inbound updates already handled: a redelivered update changes nothing twice."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --- cases --------------------------------------------------------------------------------------


class CaseCounter(Base):
    """Per-year sequence for readable case numbers (2026-00042)."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_ack_due", "status", "ack_due_at"),
        Index("ix_cases_status_resolve_due", "status", "resolve_due_at"),
        # Every column the statistics of a period read (`statistics.statistics`), received time
        # first: a period is one range of this index and no table rows are read. The case list
        # filters by category in its second column (migration 0010).
        Index(
            "ix_cases_period",
            "created_at",
            "category",
            "cell_code",
            "status",
            "acknowledged_at",
            "resolved_at",
        ),
        # Every column the map's open and overdue count per cell reads (`desk.load_by_cell`),
        # cell first: the count walks this index alone, in its GROUP BY order (migration 0008).
        # Its first column serves every lookup by cell, so `cell_code` has no index of its own.
        Index(
            "ix_cases_cell_load",
            "cell_code",
            "status",
            "escalation_level",
            "ack_due_at",
            "resolve_due_at",
        ),
        # Only resolved cases have these; no index entries for the NULLs of all the others.
        Index("ix_cases_follow_up_at", "follow_up_at", **_not_null("follow_up_at")),
        Index(
            "ix_cases_follow_up_answer_due_at",
            "follow_up_answer_due_at",
            **_not_null("follow_up_answer_due_at"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="new")
    lat: Mapped[float] = mapped_column(Float)  # in the grid's datum
    lon: Mapped[float] = mapped_column(Float)
    location_source: Mapped[str] = mapped_column(String(16), default="gps")
    origin_cell_code: Mapped[str] = mapped_column(ForeignKey("grid_cells.code"), index=True)
    cell_code: Mapped[str] = mapped_column(ForeignKey("grid_cells.code"))  # ix_cases_cell_load
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # Not indexed: a reporter's cases are read through case_reporters (migration 0002).
    reporter_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    reporter_count: Mapped[int] = mapped_column(Integer, default=1)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ack_due_at: Mapped[datetime | None] = mapped_column()
    resolve_due_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    follow_up_at: Mapped[datetime | None] = mapped_column()
    follow_up_answer_due_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)


class CaseReporter(Base):
    """Everyone who reported this case (the original reporter and those who joined it)."""

    __tablename__ = "case_reporters"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    original: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class Media(Base):
    """A file kept in the media store, named by the SHA-256 of its bytes (migration 0003)."""

    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    mime_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CasePhoto(Base):
    """A photo (or voice message) of a case: the platform's reference, then the stored file.

    `fetch_status` is pending until the media fetcher has the bytes (stored, with `sha256`),
    or gives up: refused (too large, not a type Jingtu keeps) or failed (the platform no longer
    has the file, or every attempt failed); `fetch_error` says why. `next_fetch_at` is set only
    while pending, so the index behind it holds only the work still to do.
    """

    __tablename__ = "case_photos"
    __table_args__ = (
        Index("ix_case_photos_next_fetch_at", "next_fetch_at", **_not_null("next_fetch_at")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="report")  # report | resolution | voice
    channel: Mapped[str] = mapped_column(String(16))
    file_ref: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("media.sha256"))
    fetch_status: Mapped[str] = mapped_column(
        String(12), default="pending", server_default="pending"
    )
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Due at once: the row is written in the report's transaction, whatever its clock says.
    next_fetch_at: Mapped[datetime | None] = mapped_column(default=lambda: FETCH_AT_ONCE)
    fetch_error: Mapped[str] = mapped_column(String(400), default="", server_default="")


class CaseEvent(Base):
    """Every transition of a case, so its history can be replayed."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    actor_kind: Mapped[str] = mapped_column(String(16))  # resident | supervisor | staff | system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    from_cell: Mapped[str | None] = mapped_column(String(32))
    to_cell: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SecurityEvent(Base):
    """Refused attempts (foreign cases, forged buttons, bad invite codes), for audit and throttling."""

    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_actor_action_at", "actor", "action", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))  # channel:user id
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(400), default="")


# --- the staff desk -----------------------------------------------------------------------------


class Staff(Base):
    """A bureau employee who signs in to the dashboard; `cell_code` bounds a county officer."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | county | viewer
    cell_code: Mapped[str | None] = mapped_column(ForeignKey("grid_cells.code"))
    password_hash: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A signed-in browser; only the SHA-256 of its cookie is stored."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffAudit(Base):
    """Every staff action: who, what, on which case, when."""

    __tablename__ = "staff_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    staff_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(400), default="")


# --- outreach -----------------------------------------------------------------------------------


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("person_id", "topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(32), index=True)
    area_cell_code: Mapped[str | None] = mapped_column(ForeignKey("grid_cells.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignSchedule(Base):
    __tablename__ = "campaign_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    cron: Mapped[str | None] = mapped_column(String(100))
    run_at: Mapped[datetime | None] = mapped_column()
    target: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_fire_at: Mapped[datetime | None] = mapped_column(index=True)
    last_fired_at: Mapped[datetime | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignRun(Base):
    __tablename__ = "campaign_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_schedules.id"))
    fire_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    target: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class Delivery(Base):
    """One row per run and recipient: the unit the broadcast sender drains."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "person_id"),
        Index("ix_deliveries_run_status_id", "run_id", "status", "id"),
        # Only rows being sent name a claimer (the column is cleared when a row leaves
        # `sending`), so taking back a dead process's rows reads a handful of index entries.
        Index("ix_deliveries_claimed_by", "claimed_by", **_not_null("claimed_by")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("campaign_runs.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(String(400), default="")
    sent_at: Mapped[datetime | None] = mapped_column()
    # The process sending the row (`sending`): when its heartbeat goes stale, or it restarts
    # under the same name, the row is taken back at once rather than after the lease.
    claimed_by: Mapped[str | None] = mapped_column(String(128))


# --- delivery of individual messages and coordination -------------------------------------------


class OutboxMessage(Base):
    """A message that must reach someone, written in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        # Unique where set; most rows have no key and so no entry (migration 0002).
        Index("ux_outbox_dedupe_key", "dedupe_key", unique=True, **_not_null("dedupe_key")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column()
    dedupe_key: Mapped[str | None] = mapped_column(String(160))
    case_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    # The process that claimed the row (`sending`): when its heartbeat goes stale, or it
    # restarts under the same name, the row is taken back at once rather than after the lease.
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    # How many of the message's requests (text, then a map pin, then photos) went out: a retry
    # starts after them, so a part already sent is not sent again.
    parts_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LeaderLock(Base):
    """A lease: exactly one process holds `name` until `expires_at` (scheduler leadership)."""

    __tablename__ = "leader_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()
    # A fencing token: it changes whenever a different process takes the lease, so work done
    # "as the leader" can check, in its own transaction, that the lease is still its own.
    token: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


# --- Open311 (GeoReport v2) ---------------------------------------------------------------------


class Open311Key(Base):
    """An API key a partner system posts requests with; only its SHA-256 is kept."""

    __tablename__ = "open311_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Open311Request(Base):
    """A request posted through Open311: the token its client may poll, and the case it became."""

    __tablename__ = "open311_requests"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("open311_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessHeartbeat(Base):
    """One running process: `seen_at` is renewed every few seconds while it lives."""

    __tablename__ = "process_heartbeats"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Stable across restarts (JINGTU_PROCESS_NAME): a process starting under a name takes back
    # at once what its dead predecessor of that name had claimed.
    name: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column()
    seen_at: Mapped[datetime] = mapped_column()


class SendBudget(Base):
    """One bot token's send budget, shared by every process: the next free sending slot."""

    __tablename__ = "send_budgets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_slot_at: Mapped[datetime] = mapped_column()


class SharedToken(Base):
    """A platform credential one process fetches and every process reads (WeChat's token)."""

    __tablename__ = "shared_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(1024), default="", server_default="")
    expires_at: Mapped[datetime | None] = mapped_column()
    fetched_at: Mapped[datetime | None] = mapped_column()
    fetched_by: Mapped[str] = mapped_column(String(128), default="", server_default="")

"""media store: files kept by content, and each case photo's fetch state

Photos and voice messages of a case are downloaded from the platform into a content-addressed
store (bot/storage/media_store.py); `media` lists the stored files, and each `case_photos` row
gains the state of its fetch. Rows that exist already are pending: the fetcher tries them (an
expired platform id fails, recorded with the reason).

Revision ID: 0003_media_store
Revises: 0002
Create Date: 2026-11-30 15:40:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003_media_store"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DUE = sa.text("next_fetch_at IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_media")),
    )
    with op.batch_alter_table("case_photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "fetch_status", sa.String(length=12), server_default="pending", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("fetch_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("next_fetch_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("fetch_error", sa.String(length=400), server_default="", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_case_photos_sha256_media"), "media", ["sha256"], ["sha256"]
        )
        batch_op.create_index(
            "ix_case_photos_next_fetch_at",
            ["next_fetch_at"],
            unique=False,
            sqlite_where=_DUE,
            postgresql_where=_DUE,
        )
    # What was there before is fetched now (UTC, naive, as UTCDateTime stores it).
    op.execute(
        sa.text("UPDATE case_photos SET next_fetch_at = :due").bindparams(due=datetime(2000, 1, 1))
    )


def downgrade() -> None:
    with op.batch_alter_table("case_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_case_photos_next_fetch_at")
        batch_op.drop_constraint(batch_op.f("fk_case_photos_sha256_media"), type_="foreignkey")
        batch_op.drop_column("fetch_error")
        batch_op.drop_column("next_fetch_at")
        batch_op.drop_column("fetch_attempts")
        batch_op.drop_column("fetch_status")
        batch_op.drop_column("sha256")
    op.drop_table("media")

"""delivery claims: which process is sending a broadcast delivery

A broadcast delivery claimed for sending records the process that claimed it, as outbox rows
do (0007), so a killed leader's deliveries are taken back as soon as it restarts under its name
or its heartbeat goes stale, instead of after their 120 s lease. Only rows being sent name a
claimer, so the partial index stays as small as what is in flight.

Revision ID: 0009_delivery_claims
Revises: 0008_desk_indexes
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_delivery_claims"
down_revision: str | None = "0008_desk_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
        batch_op.create_index(
            "ix_deliveries_claimed_by",
            ["claimed_by"],
            unique=False,
            sqlite_where=sa.text("claimed_by IS NOT NULL"),
            postgresql_where=sa.text("claimed_by IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_claimed_by")
        batch_op.drop_column("claimed_by")

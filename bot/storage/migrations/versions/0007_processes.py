"""processes: heartbeats, who claimed an outbox row, parts sent, lease tokens, shared budgets

Several processes share one database (issue 12). Each holds a heartbeat row; an outbox row
claimed for sending records which process claimed it and how many of its parts (requests) went
out; a leader lease carries a fencing token that changes with every new holder; the send budget
of each bot token and the WeChat access token are rows every process shares.

Revision ID: 0007_processes
Revises: 0006_staff_desk
Create Date: 2026-11-30 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_processes"
down_revision: str | None = "0006_staff_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_heartbeats",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_heartbeats")),
    )
    op.create_index(
        op.f("ix_process_heartbeats_name"), "process_heartbeats", ["name"], unique=False
    )
    op.create_table(
        "send_budgets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_slot_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_send_budgets")),
    )
    op.create_table(
        "shared_tokens",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_by", sa.String(length=128), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_shared_tokens")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("parts_done", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("leader_locks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("leader_locks", schema=None) as batch_op:
        batch_op.drop_column("token")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("parts_done")
        batch_op.drop_column("claimed_by")
    op.drop_table("shared_tokens")
    op.drop_table("send_budgets")
    op.drop_index(op.f("ix_process_heartbeats_name"), table_name="process_heartbeats")
    op.drop_table("process_heartbeats")

"""lean write indexes: only what a query reads, and no entries for NULLs

Every index is written on every insert, and on PostgreSQL on every update that cannot be HOT
(the deadline sweep's, which moves indexed deadlines). Measured by bench/escalation.py, each
index on `cases` costs the sweep about 4 % on PostgreSQL. So:

- cases.follow_up_at / follow_up_answer_due_at: partial (NOT NULL). Only resolved cases have
  them; the sweep's `<= now` queries imply NOT NULL, so both databases still use them.
- cases.reporter_id: dropped. Nothing queries it (a reporter's cases are read through
  case_reporters), and people are never deleted, so no foreign-key check needs it.
- outbox.case_id: dropped; nothing queries it.
- outbox.dedupe_key: a partial unique index (NOT NULL) instead of a unique constraint. Same
  guarantee (NULLs never conflicted), but the rows without a key (most) add no entry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:10:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _not_null(column: str) -> dict[str, Any]:
    where = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": where, "postgresql_where": where}


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_reporter_id")
        batch_op.drop_index("ix_cases_follow_up_at")
        batch_op.drop_index("ix_cases_follow_up_answer_due_at")
    op.create_index("ix_cases_follow_up_at", "cases", ["follow_up_at"], **_not_null("follow_up_at"))
    op.create_index(
        "ix_cases_follow_up_answer_due_at",
        "cases",
        ["follow_up_answer_due_at"],
        **_not_null("follow_up_answer_due_at"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_case_id")
        batch_op.drop_constraint("uq_outbox_dedupe_key", type_="unique")
    op.create_index(
        "ux_outbox_dedupe_key", "outbox", ["dedupe_key"], unique=True, **_not_null("dedupe_key")
    )


def downgrade() -> None:
    op.drop_index("ux_outbox_dedupe_key", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_outbox_dedupe_key", ["dedupe_key"])
        batch_op.create_index("ix_outbox_case_id", ["case_id"], unique=False)
    op.drop_index("ix_cases_follow_up_answer_due_at", table_name="cases")
    op.drop_index("ix_cases_follow_up_at", table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_follow_up_at", ["follow_up_at"], unique=False)
        batch_op.create_index(
            "ix_cases_follow_up_answer_due_at", ["follow_up_answer_due_at"], unique=False
        )
        batch_op.create_index("ix_cases_reporter_id", ["reporter_id"], unique=False)

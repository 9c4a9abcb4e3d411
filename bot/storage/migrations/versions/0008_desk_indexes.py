"""desk indexes: the map's open and overdue count per cell, read from one index

The desk's map colours every cell by its open and overdue cases (`desk.load_by_cell`): one count
of the open cases grouped by cell, with the overdue test (`case_queries.overdue_expression`) on
status, escalation_level, ack_due_at and resolve_due_at. Through `ix_cases_cell_code`, SQLite
walked the cells in order and read every case's row from the table: 220–290 ms at 100,000 open
cases. `ix_cases_cell_load` holds every column the count reads, cell first, so the count walks
the index alone, already in the order it groups by, with or without ANALYZE's statistics.

It replaces `ix_cases_cell_code`, which is its first column: whatever looked cases up by cell
(the foreign key to grid_cells, a supervisor's inbox) uses it the same way, and `cases` keeps
the number of indexes every insert writes. What it adds is width, and entries to rewrite when
an update moves a status, a level or a deadline (bench/escalation.py and bench/ingest.py,
before and after, in bench/README.md).

Revision ID: 0008_desk_indexes
Revises: 0007_processes
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_desk_indexes"
down_revision: str | None = "0007_processes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELL_LOAD = ["cell_code", "status", "escalation_level", "ack_due_at", "resolve_due_at"]


def upgrade() -> None:
    op.create_index("ix_cases_cell_load", "cases", CELL_LOAD)
    op.drop_index("ix_cases_cell_code", table_name="cases")


def downgrade() -> None:
    op.create_index("ix_cases_cell_code", "cases", ["cell_code"])
    op.drop_index("ix_cases_cell_load", table_name="cases")

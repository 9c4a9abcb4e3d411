"""supervision: invites, follow-ups, escalation

Revision ID: 0002_supervision
Revises: 0001

No schema change: the initial schema already holds what supervision needs (invites, supervisor
cells with their source, case deadlines and escalation level, case events, security events).
The revision stays so that the migration line is stable for the features after it.
"""

from collections.abc import Sequence

revision: str = "0002_supervision"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""outreach: subscriptions, campaigns, deliveries

Revision ID: 0003_outreach
Revises: 0002_supervision
"""

from collections.abc import Sequence

revision: str = "0003_outreach"
down_revision: str | None = "0002_supervision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

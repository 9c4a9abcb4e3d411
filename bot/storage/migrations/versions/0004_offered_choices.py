"""offered choices: the buttons a person was last offered, so a typed number can pick one

Subscription WeChat accounts cannot show buttons, so choices go out as a numbered list and the
answer comes back as a number; Telegram and the console accept typed numbers too. The outbox
writes each chat's choices when it queues a message for it, finding the chat's people by
(channel, chat_id), hence the index.

Revision ID: 0004_offered_choices
Revises: 0003_media_store
Create Date: 2026-11-30 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_offered_choices"
down_revision: str | None = "0003_media_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offered_choices", sa.JSON(none_as_null=True), nullable=True))
    op.create_index("ix_people_channel_chat_id", "people", ["channel", "chat_id"])


def downgrade() -> None:
    op.drop_index("ix_people_channel_chat_id", table_name="people")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("offered_choices")

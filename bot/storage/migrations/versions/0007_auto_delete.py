"""Auto-delete: when a reader asked their conversation to be deleted by itself, and where (sealed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the chat's auto-delete time and sealed chat id."""
    with op.batch_alter_table("chat") as batch:
        batch.add_column(sa.Column("auto_delete_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("auto_delete_chat", sa.String(length=64), nullable=True))
    op.create_index("ix_chat_auto_delete_at", "chat", ["auto_delete_at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_chat_auto_delete_at", table_name="chat")
    with op.batch_alter_table("chat") as batch:
        batch.drop_column("auto_delete_chat")
        batch.drop_column("auto_delete_at")

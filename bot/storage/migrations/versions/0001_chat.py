"""The chat table: keyed pseudonym, dialogue position, language, recent message numbers.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the chat table."""
    op.create_table(
        "chat",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("last_bot_message_id", sa.BigInteger(), nullable=True),
        sa.Column("newest_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chat_updated_at", "chat", ["updated_at"])
    op.create_index("ix_chat_newest_message_at", "chat", ["newest_message_at"])


def downgrade() -> None:
    """Drop the chat table."""
    op.drop_index("ix_chat_newest_message_at", table_name="chat")
    op.drop_index("ix_chat_updated_at", table_name="chat")
    op.drop_table("chat")

"""The lead outbox's channel: leads go to staff by e-mail, to a staff Telegram chat, or both.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add lead_outbox.channel ('email' for the leads already stored) and its claim index."""
    # Batch mode, because SQLite cannot alter a table in place; PostgreSQL runs plain ALTERs.
    with op.batch_alter_table("lead_outbox") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=16), nullable=False, server_default="email"))
        batch.create_index("ix_lead_outbox_channel_next_attempt_at", ["channel", "next_attempt_at"])


def downgrade() -> None:
    """Drop lead_outbox.channel (undelivered staff-chat copies of leads would then be e-mailed)."""
    with op.batch_alter_table("lead_outbox") as batch:
        batch.drop_index("ix_lead_outbox_channel_next_attempt_at")
        batch.drop_column("channel")

"""Anonymous daily statistics: how often each node was shown per Europe/Oslo day, counts only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the daily_stats table (its primary key also serves expiry, which deletes by day)."""
    op.create_table(
        "daily_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "node"),
    )


def downgrade() -> None:
    """Drop the daily_stats table."""
    op.drop_table("daily_stats")

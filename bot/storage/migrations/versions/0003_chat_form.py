"""The chat's interest form while it is filled in (organisations only; emptied when sent or cancelled).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add chat.form."""
    with op.batch_alter_table("chat") as batch:
        batch.add_column(sa.Column("form", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop chat.form."""
    with op.batch_alter_table("chat") as batch:
        batch.drop_column("form")

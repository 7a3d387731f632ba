"""How many interest forms a chat sent today (a day and a count), so one chat cannot flood staff.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add chat.forms_sent."""
    with op.batch_alter_table("chat") as batch:
        batch.add_column(sa.Column("forms_sent", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop chat.forms_sent."""
    with op.batch_alter_table("chat") as batch:
        batch.drop_column("forms_sent")

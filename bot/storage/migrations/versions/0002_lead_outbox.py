"""The lead outbox: organisations' interest forms waiting to be e-mailed to staff.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the lead_outbox table."""
    op.create_table(
        "lead_outbox",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("organisation", sa.Text(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Text(), nullable=False),
        sa.Column("contact_person", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=120), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_lead_outbox_next_attempt_at", "lead_outbox", ["next_attempt_at"])
    op.create_index("ix_lead_outbox_delivered_at", "lead_outbox", ["delivered_at"])


def downgrade() -> None:
    """Drop the lead_outbox table."""
    op.drop_index("ix_lead_outbox_delivered_at", table_name="lead_outbox")
    op.drop_index("ix_lead_outbox_next_attempt_at", table_name="lead_outbox")
    op.drop_table("lead_outbox")

"""webhook receivers' health per origin: webhook_destinations (circuit breaking)

Revision ID: 0015_webhook_destinations
Revises: 0014_ledger_upstream
Create Date: 2026-11-29 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_webhook_destinations"
down_revision = "0014_ledger_upstream"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_destinations",
        sa.Column("origin", sa.Text(), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_destinations")

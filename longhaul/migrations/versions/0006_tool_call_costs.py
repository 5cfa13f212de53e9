"""tool call costs: each tool call's share of the ledger, and its timing where known

Revision ID: 0006_tool_call_costs
Revises: 0005_cheap_reads
Create Date: 2026-11-29 10:10:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_tool_call_costs"
down_revision = "0005_cheap_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tool_calls", sa.Column("cost", sa.Numeric(precision=20, scale=9)))
    op.add_column("tool_calls", sa.Column("cost_details", postgresql.JSONB(astext_type=sa.Text())))
    op.add_column("tool_calls", sa.Column("started_at", sa.DateTime(timezone=True)))
    op.add_column("tool_calls", sa.Column("ended_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for column in ("ended_at", "started_at", "cost_details", "cost"):
        op.drop_column("tool_calls", column)

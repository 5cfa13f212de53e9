"""budget alerts: one row per tenant, month and threshold reached (the event's unique key)

Revision ID: 0007_budget_alerts
Revises: 0006_tool_call_costs
Create Date: 2026-11-29 10:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_budget_alerts"
down_revision = "0006_tool_call_costs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budget_alerts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("threshold", sa.Numeric(precision=8, scale=4), nullable=False),
        sa.Column("budget_usd", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("spent_usd", sa.Numeric(precision=20, scale=9), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["webhook_events.id"],
            name=op.f("fk_budget_alerts_event_id_webhook_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_budget_alerts_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_budget_alerts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alerts")),
        sa.UniqueConstraint(
            "tenant_id",
            "month",
            "threshold",
            name=op.f("uq_budget_alerts_tenant_id_month_threshold"),
        ),
    )


def downgrade() -> None:
    op.drop_table("budget_alerts")

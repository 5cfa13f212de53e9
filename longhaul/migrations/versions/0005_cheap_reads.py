"""cheap reads: month-spend rollup (backfilled from the ledger), GIN index for metadata filters

Revision ID: 0005_cheap_reads
Revises: 0004_webhooks
Create Date: 2026-11-29 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_cheap_reads"
down_revision = "0004_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_month_spend",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=9), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_month_spend_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "month", name=op.f("pk_tenant_month_spend")),
    )
    # Months are UTC calendar months of the line's created_at, as budgets.month_spend counted.
    op.execute(
        """
        INSERT INTO tenant_month_spend (tenant_id, month, amount)
        SELECT tenant_id, date_trunc('month', created_at AT TIME ZONE 'UTC')::date, sum(amount)
        FROM ledger_lines
        WHERE amount IS NOT NULL
        GROUP BY 1, 2
        """
    )
    op.create_index(
        "ix_jobs_metadata",
        "jobs",
        ["metadata"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"metadata": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_metadata", table_name="jobs", postgresql_using="gin")
    op.drop_table("tenant_month_spend")

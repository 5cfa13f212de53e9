"""tenant_hold_totals: running totals of admitted and released budget holds per tenant, so an
admission reads and moves one row instead of summing the tenant's open holds

Revision ID: 0017_hold_totals
Revises: 0016_tenant_stream_all
Create Date: 2026-11-29 16:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_hold_totals"
down_revision = "0016_tenant_stream_all"
branch_labels = None
depends_on = None

ACTIVE = "('queued', 'submitting', 'in_progress', 'cancelling', 'finalizing')"


def upgrade() -> None:
    op.create_table(
        "tenant_hold_totals",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=9), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_hold_totals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "side", name=op.f("pk_tenant_hold_totals")),
    )
    # Holds of jobs that already ended count no more; the open ones start the totals.
    op.execute(
        "UPDATE budget_holds h SET released_at = now() FROM jobs j "
        f"WHERE j.id = h.job_id AND h.released_at IS NULL AND j.status NOT IN {ACTIVE}"
    )
    op.execute(
        "INSERT INTO tenant_hold_totals (tenant_id, side, amount) "
        "SELECT tenant_id, 'admitted', sum(amount) FROM budget_holds "
        "WHERE released_at IS NULL GROUP BY tenant_id"
    )


def downgrade() -> None:
    op.drop_table("tenant_hold_totals")

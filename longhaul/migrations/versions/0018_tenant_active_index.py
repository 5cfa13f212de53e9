"""jobs: a partial index of each tenant's active jobs, for the limit on active jobs per tenant

Revision ID: 0018_tenant_active_index
Revises: 0017_hold_totals
Create Date: 2026-11-29 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_tenant_active_index"
down_revision = "0017_hold_totals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_jobs_tenant_active",
        "jobs",
        ["tenant_id"],
        unique=False,
        postgresql_where=sa.text(
            "status NOT IN ('completed', 'failed', 'cancelled', 'incomplete')"
            " AND deleted_at IS NULL"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_tenant_active", table_name="jobs")

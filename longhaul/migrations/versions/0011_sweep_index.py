"""sweep: the due index leads with status, so each step's sweep reads only its claimable rows

Revision ID: 0011_sweep_index
Revises: 0010_api_key_expiry
Create Date: 2026-11-29 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_sweep_index"
down_revision = "0010_api_key_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.create_index(
        "ix_jobs_status_due",
        "jobs",
        ["status", "next_poll_at"],
        postgresql_where=sa.text("next_poll_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_status_due", table_name="jobs")
    op.create_index(
        "ix_jobs_due",
        "jobs",
        ["next_poll_at"],
        postgresql_where=sa.text("next_poll_at IS NOT NULL"),
    )

"""ledger lines record the upstream the job ran on: ledger_lines.upstream_id (NULL = environment's)

Revision ID: 0014_ledger_upstream
Revises: 0013_upstream_objects
Create Date: 2026-11-29 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_ledger_upstream"
down_revision = "0013_upstream_objects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger_lines", sa.Column("upstream_id", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("ledger_lines", "upstream_id")

"""tenants.stream_all: a tenant's own "stream every job" (NULL = LONGHAUL_STREAM_ALL)

Revision ID: 0016_tenant_stream_all
Revises: 0015_webhook_destinations
Create Date: 2026-11-29 16:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_tenant_stream_all"
down_revision = "0015_webhook_destinations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("stream_all", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("tenants", "stream_all")

"""api keys may expire: api_keys.expires_at (NULL = never)

Revision ID: 0010_api_key_expiry
Revises: 0009_streams
Create Date: 2026-11-29 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_api_key_expiry"
down_revision = "0009_streams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "expires_at")

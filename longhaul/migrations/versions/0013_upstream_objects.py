"""upstream objects made through Longhaul's proxies, with their owner: upstream_objects

Revision ID: 0013_upstream_objects
Revises: 0012_upstreams
Create Date: 2026-11-29 13:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_upstream_objects"
down_revision = "0012_upstreams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_objects",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("object_id", sa.String(128), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("upstream_id", sa.String(40), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_upstream_objects_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "object_id", name=op.f("pk_upstream_objects")),
    )
    op.create_index(
        "ix_upstream_objects_tenant_kind",
        "upstream_objects",
        ["tenant_id", "kind", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_upstream_objects_tenant_kind", table_name="upstream_objects")
    op.drop_table("upstream_objects")

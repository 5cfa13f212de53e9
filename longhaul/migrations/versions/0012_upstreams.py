"""upstreams as data: upstreams table, tenants.default_upstream_id, jobs.upstream_id

Revision ID: 0012_upstreams
Revises: 0011_sweep_index
Create Date: 2026-11-29 13:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012_upstreams"
down_revision = "0011_sweep_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstreams",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("auth_style", sa.String(20), nullable=False),
        sa.Column("api_key_secret", sa.Text(), nullable=True),
        sa.Column("headers_secret", sa.Text(), nullable=True),
        sa.Column("query", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("organization", sa.String(200), nullable=True),
        sa.Column("project", sa.String(200), nullable=True),
        sa.Column("timeout_seconds", sa.Float(), nullable=True),
        sa.Column("model_patterns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_upstreams_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstreams")),
        sa.UniqueConstraint("name", name=op.f("uq_upstreams_name")),
    )
    op.create_index(op.f("ix_upstreams_tenant_id"), "upstreams", ["tenant_id"])
    op.add_column("tenants", sa.Column("default_upstream_id", sa.String(40), nullable=True))
    op.add_column("jobs", sa.Column("upstream_id", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "upstream_id")
    op.drop_column("tenants", "default_upstream_id")
    op.drop_index(op.f("ix_upstreams_tenant_id"), table_name="upstreams")
    op.drop_table("upstreams")

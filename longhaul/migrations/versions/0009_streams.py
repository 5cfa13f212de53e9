"""streams: job events and relay cursors

Revision ID: 0009_streams
Revises: 0008_budget_holds
Create Date: 2026-11-29 09:56:59.744882
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_streams"
down_revision = "0008_budget_holds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_events",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("sequence_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("upstream_sequence_number", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "sequence_number", name=op.f("pk_job_events")),
    )
    op.create_index(
        "ix_job_events_created_at",
        "job_events",
        ["created_at"],
        unique=False,
        postgresql_using="brin",
    )
    op.create_table(
        "job_streams",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("next_sequence_number", sa.Integer(), nullable=False),
        sa.Column("upstream_sequence_number", sa.Integer(), nullable=True),
        sa.Column("upstream_connects", sa.Integer(), nullable=False),
        sa.Column("upstream_request_id", sa.String(length=128), nullable=True),
        sa.Column("lease_owner", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_streams_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_streams")),
    )
    op.create_index(op.f("ix_job_streams_status"), "job_streams", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_job_streams_status"), table_name="job_streams")
    op.drop_table("job_streams")
    op.drop_index("ix_job_events_created_at", table_name="job_events", postgresql_using="brin")
    op.drop_table("job_events")

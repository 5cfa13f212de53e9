"""Jobs (one per queued Responses request) and the tool calls found in their output."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from longhaul.core.jobs.lifecycle import ACTIVE, TERMINAL
from longhaul.core.models.base import Base, Timestamped, utcnow

__all__ = ["ACTIVE", "TERMINAL", "Job", "ToolCall"]


class Job(Timestamped, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        # The sweep's range scan per step (core/jobs/sweep.py).
        Index(
            "ix_jobs_status_due",
            "status",
            "next_poll_at",
            postgresql_where=text("next_poll_at IS NOT NULL"),
        ),
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
        # A tenant's active jobs, counted against LONGHAUL_MAX_ACTIVE_JOBS (core/jobs/intake.py).
        Index(
            "ix_jobs_tenant_active",
            "tenant_id",
            postgresql_where=text(
                "status NOT IN ('completed', 'failed', 'cancelled', 'incomplete')"
                " AND deleted_at IS NULL"
            ),
        ),
        # metadata filters are containment queries (``metadata @> '{"k": "v"}'``)
        Index(
            "ix_jobs_metadata",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    upstream_status: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(200))
    request_body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    job_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    previous_job_id: Mapped[str | None] = mapped_column(String(64))
    completion_window: Mapped[str | None] = mapped_column(String(20))
    service_tier: Mapped[str | None] = mapped_column(String(20))
    # NULL: the environment's upstream. Chosen at intake; an upstream in use is not removable.
    upstream_id: Mapped[str | None] = mapped_column(String(40))

    upstream_response_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    possibly_duplicated: Mapped[bool] = mapped_column(Boolean, default=False)
    submit_attempts: Mapped[int] = mapped_column(Integer, default=0)
    poll_count: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    deadline_at: Mapped[datetime]
    cancel_requested_at: Mapped[datetime | None]

    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    output_text: Mapped[str | None] = mapped_column(Text)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    state_history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)

    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    upstream_finished_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class ToolCall(Timestamped, Base):
    __tablename__ = "tool_calls"
    __table_args__ = (UniqueConstraint("job_id", "output_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    output_index: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str | None] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Its share of the job's ledger (core/pricing/attribution.py): USD, and per ledger item.
    cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 9))
    cost_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime | None]  # only where the response tells it
    ended_at: Mapped[datetime | None]

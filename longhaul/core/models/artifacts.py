"""Artifacts: one row per file a job produced, unique per (job, source)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from longhaul.core.models.base import Base, Timestamped, utcnow

# pending: row written, bytes not (yet) stored; failed: a retryable error, retried by a re-run.
# stored, missing, too_large and expired are final.
STATUSES = ("pending", "stored", "missing", "too_large", "failed", "expired")
FINAL_STATUSES = frozenset({"stored", "missing", "too_large", "expired"})
KINDS = ("image", "container_file", "code_interpreter_image", "file")


class Artifact(Timestamped, Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("job_id", "source_key"),
        Index("ix_artifacts_expiry", "expires_at", postgresql_where=text("status = 'stored'")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(512))
    source: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    output_index: Mapped[int | None] = mapped_column(Integer)
    item_id: Mapped[str | None] = mapped_column(String(128))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    stored_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

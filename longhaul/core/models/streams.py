"""A job's event stream: the events (one row each) and the relay's cursor and lease."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from longhaul.core.models.base import Base, Timestamped, utcnow


class JobEvent(Timestamped, Base):
    """One event of a job's stream, numbered by Longhaul (0-based, contiguous per job).

    ``data`` is the JSON served to clients as is (its ``sequence_number`` already Longhaul's).
    ``kind``: ``upstream`` (relayed), ``longhaul`` (Longhaul's own, e.g. ``response.created``)
    or ``final`` (the terminal event, whose ``response`` is rendered when served, so it always
    equals ``GET /v1/responses/{id}``).
    """

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_created_at", "created_at", postgresql_using="brin"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    sequence_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    data: Mapped[str] = mapped_column(Text)
    upstream_sequence_number: Mapped[int | None] = mapped_column(Integer)


class JobStream(Timestamped, Base):
    """Which jobs stream, and where their relay is: ``live`` (the relay reads the upstream
    stream), ``polling`` (the upstream stream ended or was refused; the job's own polling
    decides the end) or ``done`` (the final event is stored)."""

    __tablename__ = "job_streams"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="live", index=True)
    next_sequence_number: Mapped[int] = mapped_column(Integer, default=0)
    upstream_sequence_number: Mapped[int | None] = mapped_column(Integer)
    upstream_connects: Mapped[int] = mapped_column(Integer, default=0)
    upstream_request_id: Mapped[str | None] = mapped_column(String(128))
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None]
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""Upstream objects made through Longhaul's proxies (files, …): who owns each, on which upstream,
and the object as the upstream last described it (lists are served from here, tenant-scoped)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from longhaul.core.models.base import Base, Timestamped


class UpstreamObject(Timestamped, Base):
    __tablename__ = "upstream_objects"
    __table_args__ = (Index("ix_upstream_objects_tenant_kind", "tenant_id", "kind", "created_at"),)

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # file | vector_store | …
    object_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    upstream_id: Mapped[str | None] = mapped_column(String(40))  # NULL: the environment's
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)

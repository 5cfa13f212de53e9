"""Upstreams as data: named Responses API endpoints with their auth, secrets encrypted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from longhaul.core.models.base import Base, Timestamped

KINDS = ("openai", "azure", "compatible")
AUTH_STYLES = ("bearer", "api-key", "headers")


class Upstream(Timestamped, Base):
    """``tenant_id`` set: that tenant's own upstream (bring-your-own-key), usable by it alone."""

    __tablename__ = "upstreams"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(Text)
    auth_style: Mapped[str] = mapped_column(String(20))
    api_key_secret: Mapped[str | None] = mapped_column(Text)  # Fernet token
    headers_secret: Mapped[str | None] = mapped_column(Text)  # Fernet token of a JSON object
    query: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    organization: Mapped[str | None] = mapped_column(String(200))
    project: Mapped[str | None] = mapped_column(String(200))
    timeout_seconds: Mapped[float | None] = mapped_column(Float)
    model_patterns: Mapped[list[str]] = mapped_column(JSONB, default=list)
    tenant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    # Bumped on every change: workers key their cached SDK clients by (id, revision).
    revision: Mapped[int] = mapped_column(Integer, default=1)

"""Tenants and their API keys (stored as SHA-256 hashes, never in clear)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from longhaul.core.models.base import Base, Timestamped


class Tenant(Timestamped, Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    monthly_budget_usd: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    # NULL: the environment's upstream. Not a foreign key (upstreams reference tenants);
    # removing an upstream clears the defaults that name it.
    default_upstream_id: Mapped[str | None] = mapped_column(String(40))
    # Stream every job of this tenant (True), only `stream: true` ones (False), or as
    # LONGHAUL_STREAM_ALL says (NULL).
    stream_all: Mapped[bool | None]


class ApiKey(Timestamped, Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

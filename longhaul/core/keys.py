"""API key administration: list a tenant's keys (never the secrets) and revoke one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.models import ApiKey, Tenant, utcnow


@dataclass(frozen=True)
class KeyInfo:
    id: str
    tenant: str
    prefix: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


def list_keys(
    session: Session, *, tenant_name: str | None = None, include_revoked: bool = False
) -> list[KeyInfo]:
    stmt = (
        select(ApiKey, Tenant.name)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .order_by(Tenant.name, ApiKey.created_at)
    )
    if tenant_name is not None:
        stmt = stmt.where(Tenant.name == tenant_name)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return [
        KeyInfo(key.id, tenant, key.prefix, key.name, key.created_at, key.revoked_at)
        for key, tenant in session.execute(stmt).all()
    ]


def revoke_key(session: Session, key_ref: str) -> KeyInfo | None:
    """Revoke by key id (``key_…``) or by the printed prefix (first 12 characters of the key).
    Returns the key, or None when no key matches; revoking twice keeps the first time."""
    column = ApiKey.id if key_ref.startswith("key_") else ApiKey.prefix
    rows = session.execute(
        select(ApiKey, Tenant.name)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(column == key_ref[:12] if column is ApiKey.prefix else column == key_ref)
    ).all()
    if len(rows) != 1:
        return None
    key, tenant = rows[0]
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return KeyInfo(key.id, tenant, key.prefix, key.name, key.created_at, key.revoked_at)

"""API key administration: create keys that expire, list a tenant's keys (never the secrets),
revoke one. Expired and revoked keys are refused by ``auth.tenant_for_key``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from longhaul.core.auth import create_api_key, hash_key
from longhaul.core.models import ApiKey, Tenant, utcnow


@dataclass(frozen=True)
class KeyInfo:
    id: str
    tenant: str
    prefix: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None


def create_key(
    session: Session, *, tenant_name: str, name: str | None, expires_at: datetime | None
) -> str:
    """A new key (printed once by the caller), valid until ``expires_at`` when given."""
    key = create_api_key(session, tenant_name=tenant_name, name=name)
    if expires_at is not None:
        session.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_key(key)).values(expires_at=expires_at)
        )
    return key


def key_info(session: Session, key: str) -> KeyInfo:
    """The record of ``key`` (just created: the caller holds the secret)."""
    row, tenant = session.execute(
        select(ApiKey, Tenant.name)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_hash == hash_key(key))
    ).one()
    return KeyInfo(
        row.id, tenant, row.prefix, row.name, row.created_at, row.revoked_at, row.expires_at
    )


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
    if not include_revoked:  # the keys that work: neither revoked nor expired
        stmt = stmt.where(
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()),
        )
    return [
        KeyInfo(
            key.id, tenant, key.prefix, key.name, key.created_at, key.revoked_at, key.expires_at
        )
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
    return KeyInfo(
        key.id, tenant, key.prefix, key.name, key.created_at, key.revoked_at, key.expires_at
    )

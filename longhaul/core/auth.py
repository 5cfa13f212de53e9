"""API keys: generated once, stored as SHA-256, resolved to a tenant on every request."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cachetools import TTLCache
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from longhaul.core.errors import Unauthorized
from longhaul.core.ids import new_id
from longhaul.core.models import ApiKey, Tenant
from longhaul.core.webhooks.signing import ensure_secrets

KEY_PREFIX = "lh_sk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def get_or_create_tenant(session: Session, name: str) -> Tenant:
    session.execute(
        insert(Tenant)
        .values(id=new_id("ten_"), name=name)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.execute(select(Tenant).where(Tenant.name == name)).scalar_one()


def create_api_key(session: Session, *, tenant_name: str, name: str | None = None) -> str:
    """Create (or reuse) the tenant and return a new key; only its hash is stored."""
    tenant = get_or_create_tenant(session, tenant_name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            id=new_id("key_"),
            tenant_id=tenant.id,
            prefix=key[:12],
            key_hash=hash_key(key),
            name=name,
        )
    )
    session.flush()
    # Its webhook signing secret exists from the start, so reading it never has to create it.
    ensure_secrets(session, tenant.id, datetime.now(UTC))
    return key


def tenant_for_key(session: Session, key: str | None) -> Tenant:
    return tenant_for_hash(session, hash_key(require_key(key)))


def require_key(key: str | None) -> str:
    if not key:
        raise Unauthorized(
            "You didn't provide an API key. Pass it as 'Authorization: Bearer <key>'.",
            code="missing_api_key",
        )
    return key


def tenant_for_hash(session: Session, key_hash: str) -> Tenant:
    row = session.execute(
        select(Tenant)
        .join(ApiKey, ApiKey.tenant_id == Tenant.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()))
    ).scalar_one_or_none()
    if row is None:
        raise Unauthorized("Incorrect API key provided.", code="invalid_api_key")
    return row


class TenantCache:
    """Key hash → tenant for ``ttl`` seconds, so a request authenticates without a database round
    trip. A revoked key, a deleted tenant or a changed budget takes effect within ``ttl``. Only
    successes are kept: a key made a moment ago works at once. The tenants it returns are detached
    snapshots: read them, never attach them to a session. Not thread-safe: use it from one thread
    (the API's event loop)."""

    def __init__(
        self, ttl: float, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: TTLCache[str, Tenant] | None = (
            TTLCache(maxsize=max_keys, ttl=ttl, timer=clock) if ttl > 0 else None
        )

    def get(self, key_hash: str) -> Tenant | None:
        return self._entries.get(key_hash) if self._entries is not None else None

    def put(self, key_hash: str, tenant: Tenant) -> None:
        if self._entries is not None:
            self._entries[key_hash] = tenant

    def clear(self) -> None:
        """After an admin change to a tenant: this process sees it at once (others within
        ``ttl``)."""
        if self._entries is not None:
            self._entries.clear()

"""Viewer sign-in: an API key is exchanged for a random session token kept in Redis.

The browser only ever holds the token (an HttpOnly cookie); Redis maps its SHA-256 to who signed
in and the session's CSRF token. Every request re-checks that the key behind the session is still
valid (not revoked, not expired, or still the configured admin key), so revoking a key ends its
sessions.
Sign-out deletes the record. Losing Redis signs everybody out, nothing worse.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from longhaul.core.auth import hash_key
from longhaul.core.config import get_settings
from longhaul.core.errors import Unauthorized
from longhaul.core.models import ApiKey, Tenant

PREFIX = "longhaul:ui:session:"
_clients: dict[tuple[int, str], redis.Redis] = {}


@dataclass(frozen=True)
class Viewer:
    """Who is looking: one tenant, or the admin (``tenant_id is None``) who sees every tenant."""

    tenant_id: str | None
    label: str
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.tenant_id is None


def _redis() -> redis.Redis:
    url = get_settings().redis_url
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        _clients[key] = client
    return client


def _usable() -> tuple[Any, ...]:
    """A key that still works: not revoked, not expired (as ``auth.tenant_for_key`` checks)."""
    return (
        ApiKey.revoked_at.is_(None),
        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()),
    )


def _slot(token: str) -> str:
    return PREFIX + hashlib.sha256(token.encode()).hexdigest()


def _admin_fingerprint(key: str) -> str:
    return hashlib.sha256(b"longhaul-ui-admin:" + key.encode()).hexdigest()


def is_admin_key(key: str | None) -> bool:
    admin = get_settings().admin_api_key
    return bool(admin and key and hmac.compare_digest(admin.encode(), key.encode()))


def sign_in(session: Session, key: str) -> str:
    """Check ``key`` and open a session; returns the token for the cookie."""
    key = key.strip()
    record: dict[str, Any]
    if is_admin_key(key):
        record = {"admin": _admin_fingerprint(key)}
    else:
        row = session.execute(
            select(ApiKey).where(ApiKey.key_hash == hash_key(key), *_usable())
        ).scalar_one_or_none()
        if row is None:
            raise Unauthorized("Incorrect API key provided.", code="invalid_api_key")
        record = {"key_id": row.id}
    record["csrf"] = secrets.token_urlsafe(32)
    token = secrets.token_urlsafe(32)
    ttl = get_settings().ui_session_seconds
    _redis().set(_slot(token), json.dumps(record), ex=ttl)
    return token


def load(session: Session, token: str | None) -> Viewer | None:
    """The viewer behind a session token, or ``None`` (unknown, expired or key no longer valid)."""
    if not token:
        return None
    raw = _redis().get(_slot(token))
    if raw is None:
        return None
    record = json.loads(raw)
    if "admin" in record:
        admin = get_settings().admin_api_key
        if not admin or not hmac.compare_digest(_admin_fingerprint(admin), record["admin"]):
            return None
        return Viewer(tenant_id=None, label="admin (all tenants)", csrf=record["csrf"])
    row = session.execute(
        select(Tenant.id, Tenant.name)
        .join(ApiKey, ApiKey.tenant_id == Tenant.id)
        .where(ApiKey.id == record.get("key_id"), *_usable())
    ).one_or_none()
    if row is None:
        return None
    return Viewer(tenant_id=row.id, label=row.name, csrf=record["csrf"])


def sign_out(token: str | None) -> None:
    if token:
        _redis().delete(_slot(token))

"""Standard Webhooks signing with per-tenant ``whsec_`` secrets and rotation.

A tenant has one current secret (``expires_at`` NULL). Rotating it keeps the old one valid for
``webhook_rotation_grace_seconds`` (and ends any older one at once); while both are valid every
delivery carries both signatures (space-separated in ``webhook-signature``) so receivers can
switch keys at their own pace.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from longhaul.core.errors import Conflict
from longhaul.core.ids import new_id
from longhaul.core.models.webhooks import WebhookSecret

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """32 random bytes, base64, with the ``whsec_`` prefix (the spec asks for 24 to 64 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign_headers(
    event_id: str, body: bytes, keys: Sequence[str], now: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, one ``v1,`` signature per key.

    ``now`` must be UTC: ``Webhook.sign`` relabels the zone instead of converting it, so the header
    and the signed timestamp are both derived from this one aware UTC value.
    """
    if not keys:
        raise ValueError("no signing key")
    ts = (now or datetime.now(UTC)).astimezone(UTC)
    text = body.decode()
    signatures = [Webhook(key).sign(event_id, ts, text) for key in keys]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(ts.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def active_secrets(session: Session, tenant_id: str, now: datetime) -> list[str]:
    """Secrets to sign with, newest first: the current one and any still in their grace period."""
    rows = session.execute(
        select(WebhookSecret.secret)
        .where(
            WebhookSecret.tenant_id == tenant_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now),
        )
        .order_by(WebhookSecret.expires_at.desc().nulls_first(), WebhookSecret.created_at.desc())
    ).scalars()
    return list(rows)


def _insert_current(session: Session, tenant_id: str, now: datetime) -> str | None:
    """Insert a new current secret unless one exists (the partial unique index decides)."""
    secret = generate_secret()
    stmt = (
        insert(WebhookSecret)
        .values(id=new_id("wsk_"), tenant_id=tenant_id, secret=secret, created_at=now)
        .on_conflict_do_nothing(
            index_elements=["tenant_id"], index_where=WebhookSecret.expires_at.is_(None)
        )
        .returning(WebhookSecret.secret)
    )
    return session.execute(stmt).scalar_one_or_none()


def create_secret(session: Session, tenant_id: str, *, now: datetime | None = None) -> str:
    """Create the tenant's first secret; refuse if it already has one (rotate instead)."""
    created = _insert_current(session, tenant_id, now or datetime.now(UTC))
    if created is None:
        raise Conflict("This tenant already has a webhook secret; rotate it instead.")
    return created


def ensure_secrets(session: Session, tenant_id: str, now: datetime) -> list[str]:
    """The signing keys, creating the tenant's first secret if it has none yet."""
    keys = active_secrets(session, tenant_id, now)
    if not keys:
        _insert_current(session, tenant_id, now)
        keys = active_secrets(session, tenant_id, now)
    return keys


def rotate_secret(
    session: Session, tenant_id: str, *, grace_seconds: float, now: datetime | None = None
) -> str:
    """Start a new current secret; the previous one stays valid for ``grace_seconds``. Older
    secrets still in a grace period end now: at most two secrets are ever valid, so repeated
    rotations cannot pile up signatures on every event."""
    now = now or datetime.now(UTC)
    session.execute(
        update(WebhookSecret)
        .where(WebhookSecret.tenant_id == tenant_id, WebhookSecret.expires_at > now)
        .values(expires_at=now)
    )
    session.execute(
        update(WebhookSecret)
        .where(WebhookSecret.tenant_id == tenant_id, WebhookSecret.expires_at.is_(None))
        .values(expires_at=now + timedelta(seconds=grace_seconds))
    )
    created = _insert_current(session, tenant_id, now)
    if created is None:  # a concurrent rotation won; report its secret
        created = active_secrets(session, tenant_id, now)[0]
    session.flush()
    return created

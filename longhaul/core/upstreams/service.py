"""Managing upstreams: add, change, list, remove, a tenant's default, key rotation. Callers own
the transaction (these functions flush). Secrets are encrypted before they reach a row and
never leave this module in clear except inside an ``UpstreamSpec`` for a client."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from longhaul.core.config import Settings
from longhaul.core.errors import Conflict, InvalidInput, NotFound
from longhaul.core.ids import new_id
from longhaul.core.jobs.lifecycle import ACTIVE
from longhaul.core.models import Job, Tenant, Upstream
from longhaul.core.models.upstreams import AUTH_STYLES, KINDS
from longhaul.core.upstreams.secrets import SecretBox
from longhaul.core.upstreams.spec import UpstreamSpec, split_base_url


@dataclass
class UpstreamInput:
    """What an admin may set; ``None`` leaves a field as it is (on update)."""

    name: str | None = None
    kind: str | None = None
    base_url: str | None = None
    auth_style: str | None = None
    api_key: str | None = None
    headers: dict[str, str] | None = None
    query: dict[str, str] | None = None
    organization: str | None = None
    project: str | None = None
    timeout_seconds: float | None = None
    model_patterns: list[str] | None = None
    tenant: str | None = None  # a tenant's own upstream (bring-your-own-key)


def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_keys)


def add_upstream(session: Session, data: UpstreamInput, *, settings: Settings) -> Upstream:
    if not data.name or not data.base_url:
        raise InvalidInput("An upstream needs a name and a base_url.", param="name")
    _check_name(data.name)
    kind = data.kind or "openai"
    row = Upstream(
        id=new_id("ups_"),
        name=data.name,
        kind=kind,
        base_url="",
        auth_style=data.auth_style or ("api-key" if kind == "azure" else "bearer"),
        query={},
        model_patterns=[],
        revision=1,
    )
    if data.tenant is not None:
        row.tenant_id = _tenant(session, data.tenant).id
    _apply(row, data, settings, new=True)
    if session.execute(select(exists().where(Upstream.name == data.name))).scalar():
        raise Conflict(f"An upstream named {data.name!r} exists already.", param="name")
    session.add(row)
    session.flush()
    return row


def update_upstream(
    session: Session, name: str, data: UpstreamInput, *, settings: Settings
) -> Upstream:
    row = get_upstream(session, name)
    _apply(row, data, settings, new=False)
    row.revision += 1
    session.flush()
    return row


def _apply(row: Upstream, data: UpstreamInput, settings: Settings, *, new: bool) -> None:
    if data.kind is not None:
        row.kind = data.kind
    if row.kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}.", param="kind")
    if data.auth_style is not None:
        row.auth_style = data.auth_style
    if row.auth_style not in AUTH_STYLES:
        raise InvalidInput(f"auth_style must be one of {', '.join(AUTH_STYLES)}.", param="auth")
    query = dict(row.query or {})
    if data.base_url is not None:
        try:
            row.base_url, from_url = split_base_url(data.base_url)
        except ValueError as exc:
            raise InvalidInput(str(exc), param="base_url") from exc
        query.update(from_url)
    if data.query is not None:
        query.update({str(k): str(v) for k, v in data.query.items()})
    row.query = {k: v for k, v in query.items() if v != ""}
    secrets = box(settings)
    if data.api_key is not None:
        row.api_key_secret = secrets.encrypt(data.api_key) if data.api_key else None
    if data.headers is not None:
        clean = {str(k): str(v) for k, v in data.headers.items()}
        row.headers_secret = secrets.encrypt(json.dumps(clean)) if clean else None
    for attr in ("organization", "project", "timeout_seconds"):
        value = getattr(data, attr)
        if value is not None:
            setattr(row, attr, value or None)
    if row.timeout_seconds is not None and row.timeout_seconds <= 0:
        raise InvalidInput("timeout_seconds must be positive.", param="timeout_seconds")
    if data.model_patterns is not None:
        row.model_patterns = [p for p in data.model_patterns if p]
    if row.auth_style in ("bearer", "api-key") and not row.api_key_secret:
        raise InvalidInput(f"auth_style {row.auth_style!r} needs an api_key.", param="api_key")
    if row.auth_style == "headers" and not row.headers_secret:
        raise InvalidInput("auth_style 'headers' needs headers.", param="headers")


def _check_name(name: str) -> None:
    if not (1 <= len(name) <= 100) or not all(c.isalnum() or c in "-_." for c in name):
        raise InvalidInput(
            "An upstream name is 1 to 100 letters, digits, '-', '_' or '.'.", param="name"
        )


def _tenant(session: Session, name: str) -> Tenant:
    row = session.execute(select(Tenant).where(Tenant.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No tenant named {name!r}.", param="tenant")
    return row


def get_upstream(session: Session, name: str) -> Upstream:
    row = session.execute(select(Upstream).where(Upstream.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No upstream named {name!r}.", param="upstream")
    return row


def list_upstreams(session: Session, *, tenant: str | None = None) -> list[Upstream]:
    stmt = select(Upstream).order_by(Upstream.name)
    if tenant is not None:
        stmt = stmt.where(Upstream.tenant_id == _tenant(session, tenant).id)
    return list(session.execute(stmt).scalars())


def remove_upstream(session: Session, name: str) -> Upstream:
    """Refused while a job that is not finished runs on it; tenants defaulting to it fall back
    to the environment's upstream."""
    row = get_upstream(session, name)
    busy = session.execute(
        select(exists().where(Job.upstream_id == row.id, Job.status.in_(ACTIVE)))
    ).scalar()
    if busy:
        raise Conflict(
            f"Upstream {name!r} has jobs that are not finished; remove it when they are.",
            param="upstream",
        )
    session.execute(
        update(Tenant).where(Tenant.default_upstream_id == row.id).values(default_upstream_id=None)
    )
    session.delete(row)
    session.flush()
    return row


def set_tenant_default(session: Session, tenant: str, upstream: str | None) -> Tenant:
    """``upstream=None``: back to the environment's upstream."""
    row = _tenant(session, tenant)
    if upstream is None:
        row.default_upstream_id = None
    else:
        up = get_upstream(session, upstream)
        if up.tenant_id not in (None, row.id):
            raise NotFound(f"No upstream named {upstream!r}.", param="upstream")
        row.default_upstream_id = up.id
    session.flush()
    return row


def rotate_secrets(session: Session, *, settings: Settings) -> int:
    """Re-encrypt every stored secret under the first key of ``LONGHAUL_SECRET_KEYS``; returns
    how many upstreams were rewritten. Clients are not rebuilt (the secrets are unchanged)."""
    secrets = box(settings)
    count = 0
    for row in session.execute(select(Upstream).with_for_update()).scalars():
        if row.api_key_secret:
            row.api_key_secret = secrets.rotate(row.api_key_secret)
        if row.headers_secret:
            row.headers_secret = secrets.rotate(row.headers_secret)
        count += bool(row.api_key_secret or row.headers_secret)
    session.flush()
    return count


def spec_of(row: Upstream, *, settings: Settings) -> UpstreamSpec:
    secrets = box(settings)
    return UpstreamSpec(
        key=f"{row.id}:{row.revision}",
        name=row.name,
        kind=row.kind,
        base_url=row.base_url,
        auth_style=row.auth_style,
        api_key=secrets.decrypt(row.api_key_secret) if row.api_key_secret else None,
        headers=json.loads(secrets.decrypt(row.headers_secret)) if row.headers_secret else {},
        query=dict(row.query or {}),
        organization=row.organization,
        project=row.project,
        timeout=row.timeout_seconds or settings.upstream_timeout_seconds,
    )


def describe(row: Upstream, tenant_name: str | None = None) -> dict[str, Any]:
    """The public view: never a secret, only whether one is set and the header names."""
    return {
        "object": "upstream",
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "base_url": row.base_url,
        "auth_style": row.auth_style,
        "has_api_key": bool(row.api_key_secret),
        "query": dict(row.query or {}),
        "organization": row.organization,
        "project": row.project,
        "timeout_seconds": row.timeout_seconds,
        "model_patterns": list(row.model_patterns or []),
        "tenant": tenant_name,
        "revision": row.revision,
        "created_at": int(row.created_at.timestamp()) if row.created_at else None,
    }


def matches(patterns: list[str], model: str) -> bool:
    return any(fnmatch.fnmatchcase(model, p) for p in patterns)

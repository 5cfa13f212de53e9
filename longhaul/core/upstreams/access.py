"""Which upstream a proxied object call goes to, after the ownership checks: a new object goes
to the tenant's default upstream, an existing one to where it lives (``ownership.locate``); every
id the body names must be the tenant's there. Anything else is a ``NotFound`` raised before any
upstream is asked."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from longhaul.core.config import get_settings
from longhaul.core.jobs import queries
from longhaul.core.models import Tenant
from longhaul.core.upstreams import objects, ownership
from longhaul.core.upstreams.clients import spec_for
from longhaul.core.upstreams.spec import UpstreamSpec

Target = tuple[str | None, UpstreamSpec]


def for_create(session: Session, tenant: Tenant, body: Any = None) -> Target:
    upstream_id = tenant.default_upstream_id
    refs = ownership.body_refs(body)
    ownership.check_refs(session, tenant, refs, upstream_id=upstream_id)
    return upstream_id, spec_for(session, upstream_id, settings=get_settings())


def for_object(
    session: Session, tenant: Tenant, kind: str, object_id: str, *, param: str, body: Any = None
) -> Target:
    upstream_id = ownership.locate(session, tenant, kind, object_id, param=param)
    refs = ownership.body_refs(body)
    ownership.check_refs(session, tenant, refs, upstream_id=upstream_id)
    return upstream_id, spec_for(session, upstream_id, settings=get_settings())


def remember(
    session: Session, tenant: Tenant, kind: str, upstream_id: str | None, data: dict[str, Any]
) -> None:
    """Record (or refresh) the tenant's object as the upstream just described it."""
    if isinstance(data.get("id"), str):
        objects.record(session, tenant, kind=kind, upstream_id=upstream_id, data=data)


def page(
    session: Session, tenant: Tenant, kind: str, *, after: str | None, limit: int, order: str
) -> dict[str, Any]:
    """A cursor page of the tenant's objects of ``kind``, from Longhaul's records."""
    data, more = objects.listed(session, tenant, kind, after=after, limit=limit, order=order)
    return queries.page(data, more)

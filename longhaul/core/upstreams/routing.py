"""Which upstream a new job runs on, decided once at intake and stored on the job:

1. the one the body names (``longhaul: {upstream: NAME}``): shared, or the tenant's own;
2. a follow-up's predecessor's (a response id lives on one upstream);
3. where the objects it names live, if it names any made through Longhaul's proxies (a
   conversation, container, vector store or file lives on one upstream too);
4. the first whose ``model_patterns`` match the model (the tenant's own upstreams before shared
   ones, each by name);
5. the tenant's default;
6. the environment's (``None``).

Upstreams with patterns are read at most every few seconds per process (``forget`` drops the
copy at once after a change made in this process)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core.errors import InvalidInput, NotFound
from longhaul.core.models import Job, Tenant, Upstream
from longhaul.core.upstreams.service import matches

ROUTES_TTL = 5.0


@dataclass(frozen=True)
class Route:
    id: str
    name: str
    tenant_id: str | None
    patterns: list[str]


_cache: tuple[float, list[Route]] | None = None
_lock = threading.Lock()


def forget() -> None:
    global _cache
    with _lock:
        _cache = None


def _routes(session: Session) -> list[Route]:
    global _cache
    with _lock:
        cached = _cache
    if cached is not None and time.monotonic() - cached[0] < ROUTES_TTL:
        return cached[1]
    rows = session.execute(
        select(Upstream.id, Upstream.name, Upstream.tenant_id, Upstream.model_patterns)
        .where(Upstream.model_patterns != [])
        .order_by(Upstream.name)
    ).all()
    routes = [Route(r[0], r[1], r[2], list(r[3])) for r in rows]
    with _lock:
        _cache = (time.monotonic(), routes)
    return routes


def named_upstream(session: Session, tenant: Tenant, name: str, param: str) -> Upstream:
    row = session.execute(select(Upstream).where(Upstream.name == name)).scalar_one_or_none()
    if row is None or row.tenant_id not in (None, tenant.id):
        raise NotFound(f"No upstream named {name!r}.", param=param, code="upstream_not_found")
    return row


def route_job(
    session: Session,
    tenant: Tenant,
    *,
    model: str,
    named: str | None,
    previous_job_id: str | None,
    pinned: tuple[str | None] | None = None,
) -> str | None:
    """``pinned``: ``(upstream id,)`` where the objects the body names live, if any do."""
    previous: tuple[str | None] | None = None
    if previous_job_id is not None:
        previous = session.execute(
            select(Job.upstream_id).where(Job.id == previous_job_id)
        ).one_or_none()  # type: ignore[assignment]
    if named is not None:
        chosen = named_upstream(session, tenant, named, "longhaul.upstream").id
        if previous is not None and previous[0] != chosen:
            raise InvalidInput(
                "The previous response ran on another upstream; a follow-up runs on the same one.",
                param="longhaul.upstream",
                code="upstream_mismatch",
            )
        return chosen
    if previous is not None:
        return previous[0]
    if pinned is not None:
        return pinned[0]
    routes = _routes(session)
    for owned in (True, False):
        for route in routes:
            mine = route.tenant_id == tenant.id
            if (mine if owned else route.tenant_id is None) and matches(route.patterns, model):
                return route.id
    return tenant.default_upstream_id

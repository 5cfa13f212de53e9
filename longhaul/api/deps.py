"""Request dependencies: the tenant (from an in-process cache, no database round trip when warm)
and, for routes off the hot path, a session. See ``api/db.py`` for the connection rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from longhaul.api.db import run_db, sessions
from longhaul.api.limits import Limits
from longhaul.core.auth import TenantCache, hash_key, require_key, tenant_for_hash
from longhaul.core.config import get_settings
from longhaul.core.errors import Unauthorized
from longhaul.core.models import Tenant


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_tenant(request: Request) -> Tenant:
    limits: Limits = request.app.state.limits
    try:
        key_hash = hash_key(require_key(bearer_token(request)))
    except Unauthorized:
        await limits.hit(limits.auth_failures, client_address(request))
        raise
    cache: TenantCache = request.app.state.tenants
    tenant = cache.get(key_hash)
    if tenant is None:  # an address that failed too often may not try unknown keys for a while
        await limits.check(limits.auth_failures, client_address(request))
        try:
            tenant = await _look_up_once(request.app.state.tenant_lookups, cache, key_hash)
        except Unauthorized:
            await limits.hit(limits.auth_failures, client_address(request))
            raise
    await limits.hit(limits.per_key, key_hash[:32])
    return tenant


async def _look_up_once(
    inflight: dict[str, asyncio.Future[Tenant]], cache: TenantCache, key_hash: str
) -> Tenant:
    """One lookup per key at a time: when the entry expires under load, the hundreds of requests
    that find it missing wait for one SELECT instead of queueing hundreds before the creates."""
    pending = inflight.get(key_hash)
    if pending is not None:
        return await asyncio.shield(pending)
    pending = inflight[key_hash] = asyncio.get_running_loop().create_future()
    try:
        tenant = await run_db(lambda session: tenant_for_hash(session, key_hash))
    except BaseException as exc:
        pending.set_exception(exc)
        pending.exception()  # retrieved: a lookup nobody else awaited is not an error to log
        raise
    finally:
        del inflight[key_hash]
    cache.put(key_hash, tenant)
    pending.set_result(tenant)
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]


@lru_cache
def _closers() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(get_settings().api_threads)


async def get_session() -> AsyncIterator[Session]:
    """A session for a sync route off the hot path (hot routes use ``run_db``). The route should
    commit before it returns, so its connection goes back inside its own thread. What it leaves
    open is committed here, in a thread of a separate small pool: a request holding a connection
    then never waits behind requests that wait for a connection."""
    session = sessions()()
    try:
        yield session
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.commit, limiter=_closers())
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close, limiter=_closers())
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]

"""Request-scoped dependencies: the DB session (committed by the request) and the tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from longhaul.core.auth import tenant_for_key
from longhaul.core.db import session_scope
from longhaul.core.models import Tenant


def get_session() -> Iterator[Session]:
    """The request's transaction: committed when the route returns, rolled back on error."""
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_tenant(request: Request, session: SessionDep) -> Tenant:
    tenant = tenant_for_key(session, bearer_token(request))
    session.info["tenant_id"] = tenant.id
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]

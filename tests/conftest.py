"""Shared fixtures: a real PostgreSQL database (migrated) and a real Redis per test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from tests.support import infra

# Request limits are off unless a test turns one on (tests/integration/api/test_limits.py):
# load tests send hundreds of requests per second with one key from one address.
for _name in ("RATE_LIMIT_PER_SECOND", "AUTH_FAILURES_PER_MINUTE", "REDELIVER_PER_HOUR"):
    os.environ.setdefault(f"LONGHAUL_{_name}", "0")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    with infra.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> Iterator[str]:
    """A fresh database with every migration applied; settings point at it."""
    from longhaul.core import migrate

    with infra.fresh_database(pg_server_url) as url:
        migrate.upgrade(url)
        os.environ["LONGHAUL_DATABASE_URL"] = url
        _reset_settings()
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with infra.redis_server() as url:
        os.environ["LONGHAUL_REDIS_URL"] = url
        _reset_settings()
        yield url


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    """A session whose work is committed (other processes may need to see it)."""
    from longhaul.core.db import session_factory

    s = session_factory(database_url)()
    try:
        yield s
        s.commit()
    finally:
        s.close()


@pytest.fixture
def tenant(session: Session) -> object:
    """A fresh tenant, so tests never see each other's jobs."""
    from longhaul.core.models import Tenant

    t = Tenant(id=f"ten_{uuid.uuid4().hex[:12]}", name=f"test-{uuid.uuid4().hex[:8]}")
    session.add(t)
    session.commit()
    return t


def _reset_settings() -> None:
    from longhaul.core.config import get_settings

    get_settings.cache_clear()

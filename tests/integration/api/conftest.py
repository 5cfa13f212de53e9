"""Fixtures for the API's integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from longhaul.core.config import get_settings

AppFactory = Callable[..., TestClient]


@pytest.fixture
def app_factory(database_url: str, redis_url: str) -> Iterator[AppFactory]:
    """``make(**env)``: a started API app whose settings read ``env`` (``LONGHAUL_…`` names) over
    the test's own; every app made is shut down and the environment restored at the end."""
    from longhaul.api.app import create_app

    clients: list[TestClient] = []
    with pytest.MonkeyPatch.context() as mp:

        def make(**env: str) -> TestClient:
            for name, value in env.items():
                mp.setenv(name, value)
            get_settings.cache_clear()
            client = TestClient(create_app(), raise_server_exceptions=False)
            client.__enter__()
            clients.append(client)
            return client

        try:
            yield make
        finally:
            for client in clients:
                client.__exit__(None, None, None)
    get_settings.cache_clear()

"""Fixtures: the simulator as upstream, both storage backends, jobs, an API client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from longhaul.api.app import create_app
from longhaul.core.config import get_settings
from longhaul.core.models import Job, Tenant
from longhaul.core.storage import Storage
from longhaul.core.storage.local import LocalStorage
from longhaul.core.storage.s3 import S3Storage
from longhaul.simulator import start_simulator
from tests.integration.storage.moto_server import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    S3Endpoint,
    moto_s3,
)
from tests.support.factories import add_job


@pytest.fixture(scope="session")
def simulator() -> Iterator[Any]:
    with start_simulator(queued_seconds=0.02, run_seconds=0.05) as sim:
        yield sim


@pytest.fixture
def upstream(simulator: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=simulator.url, api_key="sk-test", max_retries=0)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Storage:
    """A backend, also installed as the configured one (so the API route serves from it)."""
    if request.param == "local":
        root = tmp_path / "artifacts"
        monkeypatch.setenv("LONGHAUL_STORAGE_URL", f"file://{root}")
        storage: Storage = LocalStorage(root)
    else:
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        bucket = endpoint.new_bucket()
        monkeypatch.setenv("LONGHAUL_STORAGE_URL", f"s3://{bucket}/archive")
        monkeypatch.setenv("LONGHAUL_S3_ENDPOINT_URL", endpoint.url)
        monkeypatch.setenv("LONGHAUL_S3_REGION", REGION)
        monkeypatch.setenv("LONGHAUL_S3_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("LONGHAUL_S3_SECRET_ACCESS_KEY", SECRET_KEY)
        storage = S3Storage(endpoint.client(), bucket, prefix="archive")
    get_settings.cache_clear()
    yield storage  # type: ignore[misc]
    get_settings.cache_clear()


@pytest.fixture
def make_job(session: Session, tenant: Tenant) -> Any:
    def make(tenant_id: str | None = None) -> Job:
        return add_job(session, tenant_id or tenant.id, status="finalizing", request_body={})

    return make


@pytest.fixture
def api(database_url: str) -> TestClient:
    """The real application (all routers, error mapping, middleware)."""
    return TestClient(create_app(), follow_redirects=False)


def run_response(client: openai.OpenAI, **body: Any) -> dict[str, Any]:
    """Create a background response on the simulator and return its final JSON (as stored)."""
    created = client.responses.create(background=True, store=True, **body)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        raw = client.responses.with_raw_response.retrieve(created.id).http_response.json()
        if raw["status"] not in ("queued", "in_progress"):
            return raw  # type: ignore[no-any-return]
        time.sleep(0.03)
    raise TimeoutError(f"{created.id} did not finish")

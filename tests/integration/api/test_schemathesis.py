"""A bounded schemathesis run over every ``/v1`` operation of the served document: valid and
invalid requests generated from the schema (fixed seed, a few per operation), each answered
without a 5xx, with a status the document declares and a body that matches its schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase

from longhaul.core.auth import create_api_key
from longhaul.core.config import get_settings
from longhaul.core.db import session_scope
from longhaul.simulator import start_simulator
from tests.support.infra import own_database

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode, checks  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402

EXAMPLES = 15  # per operation and mode: about 600 requests, well under a minute
CHECKS = {
    GenerationMode.POSITIVE: [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.response_schema_conformance,
    ],
    GenerationMode.NEGATIVE: [checks.not_a_server_error, checks.status_code_conformance],
}


@pytest.fixture
def app(pg_server_url: str, redis_url: str) -> Iterator[tuple[Any, str]]:
    """The API on a database of its own: the jobs it creates are due, and no other module's
    sweep should meet them. The simulator is the upstream the object proxies reach."""
    from longhaul.api.app import create_app

    with (
        own_database(pg_server_url) as url,
        pytest.MonkeyPatch.context() as mp,
        start_simulator() as sim,
    ):
        mp.setenv("LONGHAUL_SYNC_WAIT_SECONDS", "0.05")  # plain creates: no worker answers here
        mp.setenv("LONGHAUL_OPENAI_BASE_URL", sim.url)
        get_settings.cache_clear()
        with session_scope(url) as session:
            key = create_api_key(session, tenant_name=f"fuzz-{uuid.uuid4().hex[:8]}")
        app = create_app()
        with TestClient(app):
            yield app, key
    get_settings.cache_clear()


def test_generated_requests_get_no_5xx_and_conform(app: tuple[Any, str]) -> None:
    app, key = app
    headers = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith("/v1/")]
    failures: list[str] = []
    sent = 0

    def runner(operation: Any, mode: GenerationMode) -> Any:
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: Any) -> None:
            nonlocal sent
            sent += 1
            response = case.call(headers=headers)
            try:
                case.validate_response(response, checks=CHECKS[mode])
            except (Exception, FailureGroup) as exc:  # collected, reported below
                where = f"{case.method} {case.path} ({mode.value}) -> {response.status_code}"
                failures.append(f"{where}: {str(exc)[:300]}")

        return run

    for operation in operations:
        inputs = (operation.query, operation.body)  # (invalid path strings: hard to generate)
        for mode in CHECKS:
            if mode is GenerationMode.NEGATIVE and not any(len(part) for part in inputs):
                continue  # nothing to make invalid
            try:
                runner(operation, mode)()
            except hypothesis.errors.Unsatisfiable:  # nothing in it can be made invalid
                assert mode is GenerationMode.NEGATIVE
    print(f"\nschemathesis: {len(operations)} operations, {sent} cases, {len(failures)} failures")
    assert len(operations) >= 30 and sent >= 400
    assert not failures, "\n".join(failures[:40])

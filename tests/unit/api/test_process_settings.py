"""What the API sets up for its process: FastAPI's native OpenTelemetry off unless
``LONGHAUL_API_OPENTELEMETRY`` turns it on (off, no request looks the global providers up), and
the garbage collector's thresholds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace

from longhaul.core.config import get_settings


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("LONGHAUL_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_off_by_default_and_never_looks_up_the_providers(
    fresh_settings: pytest.MonkeyPatch,
) -> None:
    from longhaul.api.app import create_app

    looked: list[int] = []
    real = trace.get_tracer_provider

    def counting() -> trace.TracerProvider:
        looked.append(1)
        return real()

    fresh_settings.setattr(trace, "get_tracer_provider", counting)
    app = create_app()
    assert app._native_telemetry.enabled() is False
    assert looked == []


def test_on_when_asked(fresh_settings: pytest.MonkeyPatch) -> None:
    from longhaul.api.app import create_app

    fresh_settings.setenv("LONGHAUL_API_OPENTELEMETRY", "true")
    get_settings.cache_clear()
    config = create_app()._native_telemetry.config
    assert (config["tracing"], config["metrics"], config["logs"]) == (True, True, True)


def test_the_api_raises_the_collectors_first_threshold(
    fresh_settings: pytest.MonkeyPatch,
) -> None:
    """With the defaults (700, 10, 10) a full collection of the API's heap came every few
    hundred requests and held them all up (p99 of a create about 3x its value without)."""
    import gc

    from fastapi.testclient import TestClient

    from longhaul.api.app import GC_THRESHOLDS, create_app

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with TestClient(create_app()):
            assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > 700
    finally:
        gc.set_threshold(*before)

"""HTTP metrics by route template (prometheus-fastapi-instrumentator), served by ``/metrics``.

The library resolves each request's template by matching its path against every route (with
FastAPI's included routers flattened again each time): about a tenth of a create's CPU with
Longhaul's hundred-odd routes. A path that is its own template (no parameters, such as
``POST /v1/responses``) always resolves the same, so its answer is kept; a path with ids in it
is resolved as before, and an unknown path is never kept (a client could send endless ones).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp

EXCLUDED = ["/metrics", "/healthz", "/readyz"]
_KEPT_PATHS = 1024  # more than the API has routes without parameters


class _TemplatesKept(PrometheusInstrumentatorMiddleware):
    def __init__(self, app: ASGIApp, /, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._static: dict[str, tuple[str, bool]] = {}

    def _get_handler(self, request: Request) -> tuple[str, bool]:
        path = request.scope["path"]
        kept = self._static.get(path)
        if kept is not None:
            return kept
        handler, templated = super()._get_handler(request)
        if templated and handler == path and len(self._static) < _KEPT_PATHS:
            self._static[path] = (handler, templated)
        return handler, templated


def instrument(app: FastAPI) -> None:
    """Requests, latency and sizes by route template (docs/operations.md lists the metrics), in
    a registry of the app's own (``app.state.http_metrics``, served by ``/metrics``): in the
    process-wide one, a second app in the same process (tests) would find the names taken and
    record nothing."""
    registry = app.state.http_metrics = CollectorRegistry()
    Instrumentator(
        excluded_handlers=EXCLUDED, should_group_status_codes=False, registry=registry
    ).instrument(app)
    app.user_middleware = [
        Middleware(_TemplatesKept, **m.kwargs) if m.cls is PrometheusInstrumentatorMiddleware else m
        for m in app.user_middleware
    ]

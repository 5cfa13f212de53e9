"""FastAPI intake. Routes are thin: parse, authorize, call ``core``, render ``schemas``."""

from __future__ import annotations

import gc
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.telemetry import TelemetryConfig
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from longhaul.api import errors, http_metrics, publisher
from longhaul.api.db import size_thread_pool
from longhaul.api.limits import Limits
from longhaul.api.middleware import EdgeGuard
from longhaul.core.auth import TenantCache
from longhaul.core.config import get_settings
from longhaul.schemas.errors import ErrorResponse
from longhaul.schemas.requests import CreateResponseBody
from longhaul.schemas.webhooks import WebhookEvent

ROUTERS = (
    "health",
    "responses",
    "jobs",
    "artifacts",
    "usage",
    "webhooks",
    "admin",
    "admin_keys",
    "files",
    "input_tokens",
    "vector_stores",
    "containers",
    "conversations",
)


# The collector's first generation at 5,000 allocations instead of 700: with the defaults a
# full collection of the API's large heap came every ~70,000 allocations (a few hundred
# requests) and held every request up for ~100 ms (p99 of a create 160 ms → 48 ms at 16
# concurrent, 12 % less CPU per create; docs/intake.md).
GC_THRESHOLDS = (5_000, 10, 10)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    size_thread_pool()  # threads and database connections sized together (api/db.py)
    gc.set_threshold(*GC_THRESHOLDS)
    yield


_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="Longhaul",
        version="0.1.0",
        description="OpenAI-compatible intake for durable Responses API background jobs.",
        lifespan=lifespan,
        # Off, FastAPI's native telemetry costs nothing; on, it checks the global providers on
        # every request (about 4% of a create's CPU) and traces if one is configured.
        telemetry=None if settings.api_opentelemetry else _NO_TELEMETRY,
    )
    app.state.tenants = TenantCache(settings.auth_cache_seconds)
    app.state.limits = Limits(settings)  # per key, per failing address, per redelivered job
    app.state.tenant_lookups = {}  # key hash → the lookup in flight (deps.current_tenant)
    publisher.install(settings)  # work queued in a request leaves after its commit
    errors.install(app)
    http_metrics.instrument(app)  # requests, latency, sizes by route template, on /metrics
    app.add_middleware(  # bodies bounded in size and time, and checked, before anything else
        EdgeGuard,
        max_bytes=settings.max_body_bytes,
        upload_max_bytes=settings.upload_max_bytes,
        read_timeout=settings.body_read_timeout,
        router=lambda: app.router,
    )
    for name in ROUTERS:
        module = importlib.import_module(f"longhaul.api.routes.{name}")
        if getattr(module, "router", None) is not None:
            app.include_router(module.router)
    app.include_router(importlib.import_module("longhaul.api.ui").router)  # the viewer, /ui
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, told the truth: validation errors are 400 in OpenAI's error shape
    (never 422), and ``POST /v1/responses`` (read raw) has its body schema."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    # Models no route returns: the create body (read raw) and the webhook body Longhaul POSTs.
    documented: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
        (CreateResponseBody, "validation"),
        (ErrorResponse, "serialization"),
        (WebhookEvent, "serialization"),
    )
    for model, mode in documented:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, schema)
    error = {
        "description": errors.WHEN[400],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", error)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    app.openapi_schema = doc
    return doc

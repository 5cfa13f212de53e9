"""Operations: liveness, readiness (PostgreSQL, Redis, artifact storage), Prometheus metrics."""

from __future__ import annotations

from functools import lru_cache

import redis
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import text

from longhaul.api.db import sessions
from longhaul.core.config import get_settings
from longhaul.core.metrics import LonghaulCollector

router = APIRouter(tags=["operations"])


def _redis() -> redis.Redis:
    return _redis_at(get_settings().redis_url)


@lru_cache
def _redis_at(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _registry() -> CollectorRegistry:
    """The state collector for the configured database and Redis (one per pair, so an app made
    later in the same process, as in tests, reads its own)."""
    settings = get_settings()
    return _registry_at(settings.database_url, settings.redis_url)


@lru_cache
def _registry_at(database_url: str, redis_url: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(LonghaulCollector(sessions(), _redis_at(redis_url)))
    return registry


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz() -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with sessions()() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        _redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    checks["storage"] = _storage_check()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


_storage_seen: dict[str, float | str] = {}
STORAGE_CHECK_TTL = 30.0


def _storage_check() -> str:
    """Bucket (or folder) reachable with our credentials; remembered for 30 s so frequent
    probes do not become a stream of S3 requests."""
    import time

    from longhaul.core.checks import SettingError, check_storage

    now = time.monotonic()
    if now - float(_storage_seen.get("at", -STORAGE_CHECK_TTL)) < STORAGE_CHECK_TTL:
        return str(_storage_seen["result"])
    try:
        check_storage(write=False)
        result = "ok"
    except SettingError as exc:
        result = f"error: {exc}"
    _storage_seen.update(at=now, result=result)
    return result


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """This app's HTTP metrics, this process's event metrics, then the state read from
    PostgreSQL and Redis."""
    body = (
        generate_latest(request.app.state.http_metrics)
        + generate_latest(REGISTRY)
        + generate_latest(_registry())
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)

"""Startup and readiness checks of what Longhaul depends on: PostgreSQL, Redis, artifact storage.

Every service runs them before it reports ready (``longhaul up`` before it says the stack is
up), so a wrong setting ends in seconds with one line naming the setting to fix, not in a
traceback or a job that fails an hour later. Each check is bounded by short timeouts.
"""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from longhaul.core.config import Settings, get_settings

CONNECT_TIMEOUT = 5


class SettingError(RuntimeError):
    """A dependency is unreachable or refuses us; ``setting`` names what to fix."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{message} (check {setting})")
        self.setting = setting


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


def redact(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def check_database(url: str | None = None) -> None:
    """Connect and read the schema version; raise :class:`SettingError` when that fails."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = url or get_settings().database_url
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    where = redact(url)
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        raise SettingError(
            "LONGHAUL_DATABASE_URL", f"cannot use PostgreSQL at {where}: {_reason(exc)}"
        ) from exc


def check_redis(url: str | None = None) -> None:
    import redis

    url = url or get_settings().redis_url
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=CONNECT_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT
        )
    except ValueError as exc:
        raise SettingError("LONGHAUL_REDIS_URL", f"not a Redis URL: {redact(url)}") from exc
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SettingError(
            "LONGHAUL_REDIS_URL", f"cannot use Redis at {redact(url)}: {_reason(exc)}"
        ) from exc
    finally:
        client.close()


def check_storage(settings: Settings | None = None, *, write: bool = True) -> None:
    """The artifact store is reachable with the credentials given and (``write``) writable:
    a small probe object is written and deleted. Without ``write`` (readiness probes) only the
    bucket or folder is looked at."""
    settings = settings or get_settings()
    url = settings.storage_url
    setting = "LONGHAUL_STORAGE_URL"
    if url.startswith("s3://"):
        _check_s3(settings, write=write)
        return
    from longhaul.core.storage.factory import storage_from_url

    try:
        storage = storage_from_url(url, settings)
        if write:
            _probe(storage)
        else:
            import os

            root = getattr(storage, "root", None)
            if root is not None and not os.access(root, os.W_OK):
                raise PermissionError(f"{root} is not writable")
    except (OSError, ValueError) as exc:
        raise SettingError(setting, f"cannot write artifacts to {url}: {_reason(exc)}") from exc


def _probe(storage: Any) -> None:
    key = f"_longhaul/probe-{secrets.token_hex(6)}"
    storage.put(key, io.BytesIO(b"ok"), content_type="text/plain")
    storage.delete(key)


def _check_s3(settings: Settings, *, write: bool) -> None:
    from urllib.parse import urlsplit

    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    parts = urlsplit(settings.storage_url)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    endpoint = settings.s3_endpoint_url
    where = f"s3://{bucket}" + (f" at {endpoint}" if endpoint else "")
    if not bucket:
        raise SettingError("LONGHAUL_STORAGE_URL", f"{settings.storage_url} names no bucket")
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        config=Config(
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=10,
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        ),
    )
    try:
        client.head_bucket(Bucket=bucket)
        if write:
            key = "/".join(p for p in (prefix, f"_longhaul/probe-{secrets.token_hex(6)}") if p)
            client.put_object(Bucket=bucket, Key=key, Body=b"ok")
            client.delete_object(Bucket=bucket, Key=key)
    except NoCredentialsError as exc:
        raise SettingError(
            "LONGHAUL_S3_ACCESS_KEY_ID and LONGHAUL_S3_SECRET_ACCESS_KEY",
            f"no S3 credentials for {where}: set them or provide the usual AWS ones",
        ) from exc
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            setting = "LONGHAUL_S3_ACCESS_KEY_ID and LONGHAUL_S3_SECRET_ACCESS_KEY"
        else:
            setting = "LONGHAUL_STORAGE_URL"  # 404 / NoSuchBucket and the rest
        raise SettingError(setting, f"cannot use {where}: {_reason(exc)}") from exc
    except BotoCoreError as exc:
        setting = "LONGHAUL_S3_ENDPOINT_URL" if settings.s3_endpoint_url else "LONGHAUL_S3_REGION"
        raise SettingError(setting, f"cannot reach {where}: {_reason(exc)}") from exc


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


def run_checks(names: tuple[str, ...] = ("database", "redis", "storage")) -> list[CheckResult]:
    """Run the named checks in order; the first failure raises :class:`SettingError`."""
    results = []
    for name in names:
        started = time.monotonic()
        CHECKS[name]()
        results.append(CheckResult(name, True, "ok", time.monotonic() - started))
    return results

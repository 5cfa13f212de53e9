"""Build the configured backend from ``LONGHAUL_STORAGE_URL`` and the ``s3_*`` settings.

``file:///abs/path`` or ``file://relative/path`` → :class:`LocalStorage`;
``s3://bucket/optional/prefix`` → :class:`S3Storage` (endpoint, region and credentials from
settings, else boto3's usual environment/instance lookup).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from longhaul.core.config import Settings, get_settings
from longhaul.core.storage.base import Storage


def s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        # Custom endpoints (MinIO, moto, R2) rarely have wildcard DNS for virtual hosts.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"max_attempts": 5, "mode": "standard"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


def storage_from_url(url: str, settings: Settings | None = None) -> Storage:
    settings = settings or get_settings()
    if url.startswith("s3://"):
        from longhaul.core.storage.s3 import S3Storage

        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"storage URL {url!r} has no bucket (expected s3://bucket/prefix)")

        def client(endpoint_url: str | None) -> Any:
            return s3_client(
                endpoint_url=endpoint_url,
                region=settings.s3_region,
                access_key_id=settings.s3_access_key_id,
                secret_access_key=settings.s3_secret_access_key,
            )

        public = settings.s3_public_endpoint_url
        return S3Storage(
            client(settings.s3_endpoint_url),
            parts.netloc,
            prefix=parts.path.strip("/"),
            presign_client=client(public) if public else None,
        )
    if url.startswith("file://") or "://" not in url:
        from longhaul.core.storage.local import LocalStorage

        path = url.removeprefix("file://")
        if path.startswith("localhost/"):
            path = path.removeprefix("localhost")
        if not path:
            raise ValueError(f"storage URL {url!r} has no path")
        return LocalStorage(path)
    raise ValueError(f"unsupported storage URL {url!r}: use file:///path or s3://bucket/prefix")


@lru_cache(maxsize=4)
def _cached(url: str, settings_key: tuple[object, ...]) -> Storage:
    return storage_from_url(url)


def get_storage() -> Storage:
    """The process-wide backend for the current settings (rebuilt when they change)."""
    s = get_settings()
    key = (
        s.s3_endpoint_url,
        s.s3_public_endpoint_url,
        s.s3_region,
        s.s3_access_key_id,
        s.s3_secret_access_key,
    )
    return _cached(s.storage_url, key)

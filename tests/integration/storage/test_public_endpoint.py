"""Presigned download URLs use the public S3 endpoint when one is set (compose: workers reach
MinIO as ``minio:9000``, users as ``localhost:9000``)."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import httpx2
import pytest

from longhaul.core.config import Settings
from longhaul.core.storage.factory import storage_from_url
from tests.integration.storage.moto_server import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint


@pytest.mark.parametrize("public", [None, "localhost"])
def test_presigned_url_uses_the_public_endpoint(
    s3_endpoint: S3Endpoint, public: str | None
) -> None:
    bucket = s3_endpoint.new_bucket()
    port = urlsplit(s3_endpoint.url).port
    settings = Settings(
        storage_url=f"s3://{bucket}/p",
        s3_endpoint_url=s3_endpoint.url,
        s3_public_endpoint_url=f"http://{public}:{port}" if public else None,
        s3_region=REGION,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
    )
    storage = storage_from_url(settings.storage_url, settings)
    storage.put("t/j/a.txt", io.BytesIO(b"public bytes"))
    url = storage.url("t/j/a.txt", 60)
    assert url is not None
    assert urlsplit(url).hostname == (public or "127.0.0.1")
    assert httpx2.get(url).content == b"public bytes"  # the signature is valid for that host

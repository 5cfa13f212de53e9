from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from longhaul.core.storage import Storage
from longhaul.core.storage.local import LocalStorage
from longhaul.core.storage.s3 import S3Storage
from tests.integration.storage.moto_server import S3Endpoint, moto_s3


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "artifacts")
    endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
    return S3Storage(endpoint.client(), endpoint.new_bucket(), prefix="lh/test")

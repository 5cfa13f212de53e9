"""``LONGHAUL_STORAGE_URL`` → backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from longhaul.core.config import Settings
from longhaul.core.storage import storage_from_url
from longhaul.core.storage.local import LocalStorage
from longhaul.core.storage.s3 import S3Storage


def test_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = storage_from_url(f"file://{tmp_path}/a")
    assert isinstance(absolute, LocalStorage) and absolute.root == tmp_path / "a"
    monkeypatch.chdir(tmp_path)
    relative = storage_from_url("file://.longhaul/artifacts")
    assert isinstance(relative, LocalStorage)
    assert relative.root == tmp_path / ".longhaul" / "artifacts"
    assert storage_from_url(f"file://localhost{tmp_path}/b").root == tmp_path / "b"  # type: ignore[attr-defined]


def test_s3_url_with_endpoint_settings() -> None:
    settings = Settings(
        s3_endpoint_url="http://127.0.0.1:9",
        s3_region="eu-west-1",
        s3_access_key_id="k",
        s3_secret_access_key="s",
    )
    storage = storage_from_url("s3://my-bucket/some/prefix/", settings)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == ("my-bucket", "some/prefix")
    assert storage.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert storage.client.meta.region_name == "eu-west-1"
    assert storage.object_key("a/b") == "some/prefix/a/b"


@pytest.mark.parametrize("url", ["s3://", "gs://bucket", "file://"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        storage_from_url(url)

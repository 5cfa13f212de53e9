"""One contract, every backend: local folder and S3 (moto's real HTTP server)."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from collections.abc import Iterator

import httpx2
import pytest

from longhaul.core.storage import InvalidKey, ObjectTooLarge, Storage

PNG_1X1 = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
KEY = "tenant/ten_1/job/resp_lh_1/art_1-report.csv"


def chunks(total: int, size: int = 64 * 1024, seed: bytes = b"x") -> Iterator[bytes]:
    block = hashlib.shake_256(seed).digest(size)
    sent = 0
    while sent < total:
        part = block[: min(size, total - sent)]
        sent += len(part)
        yield part


def sha_of(total: int, seed: bytes = b"x") -> str:
    h = hashlib.sha256()
    for c in chunks(total, seed=seed):
        h.update(c)
    return h.hexdigest()


def test_put_bytes_then_read_back(storage: Storage) -> None:
    data = b"index,value\n1,2\n"
    stored = storage.put(KEY, data)
    assert stored.key == KEY
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.content_type == "text/csv"
    assert storage.exists(KEY)
    assert storage.open(KEY).read_all() == data


def test_streams_a_multipart_sized_object_from_an_iterator(storage: Storage) -> None:
    total = 21 * 1024 * 1024 + 123  # > 2 S3 parts of 8 MiB, odd tail
    stored = storage.put("t/big.bin", chunks(total))
    assert stored.size == total
    assert stored.sha256 == sha_of(total)
    h = hashlib.sha256()
    n = 0
    with storage.open("t/big.bin") as stream:
        for chunk in stream:
            assert len(chunk) <= 1024 * 1024
            h.update(chunk)
            n += len(chunk)
    assert (n, h.hexdigest()) == (total, stored.sha256)


def test_accepts_a_file_like_source(storage: Storage) -> None:
    stored = storage.put("t/f.bin", io.BytesIO(b"\x00\x01binary"))
    assert stored.size == 8
    assert stored.content_type == "application/octet-stream"


def test_content_type_from_magic_bytes_and_explicit_override(storage: Storage) -> None:
    assert storage.put("t/image", PNG_1X1).content_type == "image/png"
    assert storage.put("t/image.txt", PNG_1X1).content_type == "image/png"
    explicit = storage.put("t/x.bin", b"hello", content_type="text/markdown")
    assert explicit.content_type == "text/markdown"


def test_put_replaces_an_existing_object(storage: Storage) -> None:
    storage.put(KEY, b"first version")
    stored = storage.put(KEY, b"second")
    assert stored.size == 6
    assert storage.open(KEY).read_all() == b"second"


def test_missing_key_raises_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.open("tenant/none/job/none/absent.bin")
    assert not storage.exists("tenant/none/job/none/absent.bin")


def test_delete_removes_and_is_idempotent(storage: Storage) -> None:
    storage.put(KEY, b"bye")
    storage.delete(KEY)
    assert not storage.exists(KEY)
    with pytest.raises(FileNotFoundError):
        storage.open(KEY)
    storage.delete(KEY)  # a second delete is not an error


def test_over_the_cap_stores_nothing_and_stops_reading(storage: Storage) -> None:
    storage.put(KEY, b"old content")
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        for _ in itertools.count():
            pulled += 64 * 1024
            yield b"z" * (64 * 1024)

    with pytest.raises(ObjectTooLarge) as info:
        storage.put(KEY, endless(), max_bytes=1_000_000)
    assert info.value.max_bytes == 1_000_000
    assert pulled < 1_000_000 + 9 * 1024 * 1024  # at most one S3 part beyond the cap
    assert storage.open(KEY).read_all() == b"old content"


def test_exactly_at_the_cap_is_accepted(storage: Storage) -> None:
    stored = storage.put("t/cap.bin", b"a" * 1000, max_bytes=1000)
    assert stored.size == 1000


@pytest.mark.parametrize(
    "key", ["../escape", "/abs/path", "a//b", "a/./b", "a/../../b", "", "a/b\\c", "a/b\x00", "é"]
)
def test_malformed_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(InvalidKey):
        storage.put(key, b"x")
    with pytest.raises(InvalidKey):
        storage.open(key)
    with pytest.raises(InvalidKey):
        storage.delete(key)


def test_url_is_presigned_for_s3_and_none_for_local(storage: Storage) -> None:
    storage.put(KEY, b"a,b\n1,2\n")
    url = storage.url(KEY, 60, filename="résumé report.csv")
    if type(storage).__name__ == "LocalStorage":
        assert url is None
        return
    assert url is not None
    assert "X-Amz-Expires=60" in url
    response = httpx2.get(url)
    assert response.status_code == 200
    assert response.content == b"a,b\n1,2\n"
    assert (
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20report.csv" in response.headers["content-disposition"]
    )


def test_local_refuses_symlinks_that_escape_the_root(tmp_path: os.PathLike[str]) -> None:
    from longhaul.core.storage.local import LocalStorage

    outside = os.path.join(tmp_path, "outside")
    os.mkdir(outside)
    local = LocalStorage(os.path.join(tmp_path, "root"))
    os.symlink(outside, os.path.join(local.root, "link"))
    with pytest.raises(InvalidKey):
        local.put("link/file.txt", b"x")
    assert os.listdir(outside) == []


def test_s3_uses_the_prefix_and_records_the_content_type(s3_endpoint) -> None:  # type: ignore[no-untyped-def]
    from longhaul.core.storage.s3 import S3Storage

    client = s3_endpoint.client()
    bucket = s3_endpoint.new_bucket()
    storage = S3Storage(client, bucket, prefix="/archive/v1/")
    storage.put("t/j/a.png", PNG_1X1)
    head = client.head_object(Bucket=bucket, Key="archive/v1/t/j/a.png")
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == len(PNG_1X1)


def test_s3_aborts_the_multipart_upload_when_over_the_cap(s3_endpoint) -> None:  # type: ignore[no-untyped-def]
    from longhaul.core.storage.s3 import S3Storage

    client = s3_endpoint.client()
    bucket = s3_endpoint.new_bucket()
    storage = S3Storage(client, bucket)
    with pytest.raises(ObjectTooLarge):
        storage.put("t/huge.bin", chunks(40 * 1024 * 1024), max_bytes=20 * 1024 * 1024)
    assert not storage.exists("t/huge.bin")
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

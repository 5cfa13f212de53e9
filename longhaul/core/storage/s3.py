"""``S3Storage``: objects in a bucket of any S3-compatible service (AWS, MinIO, R2, moto).

Uploads go through boto3's managed transfer with a non-seekable :class:`HashingReader`, so the
object is sent in multipart parts while its sha256 is computed; memory stays bounded by a few
parts (see :func:`default_transfer_config`).
"""

from __future__ import annotations

from typing import Any

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from longhaul.core.storage import content_types
from longhaul.core.storage.base import (
    CHUNK_SIZE,
    HashingReader,
    ObjectStream,
    Source,
    Storage,
    StorageError,
    StoredObject,
    validate_key,
)
from longhaul.core.storage.names import content_disposition

MIB = 1024 * 1024


MIN_PART = 5 * MIB  # S3's smallest multipart part
MAX_PARTS = 10_000  # S3's largest part count


def default_transfer_config(max_bytes: int | None = None) -> TransferConfig:
    """5 MiB parts, two in flight, two buffered: about 25 MiB of buffers whatever the size.

    The size of a stream is unknown up front, so parts must be big enough for ``max_bytes`` to
    fit in S3's 10,000 parts; with the default 5 GiB cap the 5 MiB minimum is enough.
    """
    part = MIN_PART
    if max_bytes is not None:
        part = max(part, -(-max_bytes // (MAX_PARTS - 100)))
    config = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=2)
    # Not a boto3 keyword, but an s3transfer setting it honours (default 10 parts in memory).
    config.max_in_memory_upload_chunks = 2
    return config


_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


class S3Storage(Storage):
    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        prefix: str = "",
        transfer_config: TransferConfig | None = None,
        presign_client: Any | None = None,
    ) -> None:
        self.client = client
        # Presigned URLs are for users: signed for the endpoint *they* reach, which may differ
        # from the one workers use (MinIO as `minio:9000` inside compose, `localhost:9000` outside).
        self.presign_client = presign_client or client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.transfer_config = transfer_config

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(
        self,
        key: str,
        stream: Source,
        *,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> StoredObject:
        object_key = self.object_key(key)
        reader = HashingReader(stream, max_bytes=max_bytes)
        if content_type is None:
            content_type = content_types.detect(reader.head(), key)
        # On any error (including ObjectTooLarge raised by the reader) the transfer manager
        # aborts the multipart upload, so no partial object is left behind.
        try:
            self.client.upload_fileobj(
                reader,
                self.bucket,
                object_key,
                ExtraArgs={"ContentType": content_type},
                Config=self.transfer_config or default_transfer_config(max_bytes),
            )
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise StorageError(f"upload of {key!r} failed: {exc}") from exc
        return StoredObject(key, reader.size, reader.sha256, content_type)

    def open(self, key: str) -> ObjectStream:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, key) from exc
        body = response["Body"]
        return ObjectStream(body.iter_chunks(CHUNK_SIZE), body.close)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            translated = _translate(exc, key)
            if not isinstance(translated, FileNotFoundError):
                raise translated from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            translated = _translate(exc, key)
            if isinstance(translated, FileNotFoundError):
                return False
            raise translated from exc
        return True

    def url(self, key: str, ttl: int, *, filename: str | None = None) -> str | None:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self.object_key(key)}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        url: str = self.presign_client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=ttl
        )
        return url


def _translate(exc: BotoCoreError | ClientError, key: str) -> Exception:
    """Missing keys become ``FileNotFoundError`` (as for local files), the rest StorageError."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            return FileNotFoundError(f"no stored object {key!r}")
    return StorageError(f"S3 request for {key!r} failed: {exc}")

"""Artifact storage: one small interface, a local-folder and an S3 backend."""

from longhaul.core.storage.base import (
    InvalidKey,
    ObjectStream,
    ObjectTooLarge,
    Storage,
    StorageError,
    StoredObject,
)
from longhaul.core.storage.factory import get_storage, storage_from_url

__all__ = [
    "InvalidKey",
    "ObjectStream",
    "ObjectTooLarge",
    "Storage",
    "StorageError",
    "StoredObject",
    "get_storage",
    "storage_from_url",
]

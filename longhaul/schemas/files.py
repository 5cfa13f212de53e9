"""OpenAI's file object as ``/v1/files`` returns it (the upstream's, passed through)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from longhaul.schemas.common import UnixTime


class FileObject(BaseModel):
    model_config = ConfigDict(extra="allow")  # whatever else the upstream says passes through

    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: UnixTime
    filename: str
    purpose: str
    status: str | None = None
    expires_at: UnixTime | None = None


class DeletedFile(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool

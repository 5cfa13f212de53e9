"""An archived file as job views and webhooks list it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from longhaul.schemas.common import UnixTime


class ArtifactSummary(BaseModel):
    id: str
    object: Literal["longhaul.artifact"] = "longhaul.artifact"
    kind: str
    filename: str | None
    content_type: str | None
    size: int | None
    sha256: str | None
    status: str = Field(description="``stored`` once the bytes are archived.")
    error: str | None
    source: dict[str, Any]
    """Where it came from (``file_id``, ``container_id``, ...) and its unique ``key``."""
    output_index: int | None
    item_id: str | None
    created_at: UnixTime
    expires_at: UnixTime | None
    download_url: str | None
    """Set once stored: ``GET`` it with the same key (S3 answers 302 to a presigned URL)."""

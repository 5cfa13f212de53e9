"""API keys as the admin API shows them: never the secret, except once when created."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from longhaul.schemas.common import Timestamp


class ApiKeyView(BaseModel):
    object: Literal["api_key"] = "api_key"
    id: str
    tenant: str
    prefix: str
    name: str | None
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None


class CreatedApiKey(ApiKeyView):
    key: str  # shown this once; only its hash is stored

"""Upstreams as the admin API shows them: never a secret, only whether one is set."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from longhaul.schemas.common import UnixTime


class UpstreamView(BaseModel):
    object: Literal["upstream"] = "upstream"
    id: str
    name: str
    kind: str
    base_url: str
    auth_style: str
    has_api_key: bool
    query: dict[str, str]
    organization: str | None
    project: str | None
    timeout_seconds: float | None
    model_patterns: list[str]
    tenant: str | None
    revision: int
    created_at: UnixTime | None


class DeletedUpstream(BaseModel):
    object: Literal["upstream.deleted"] = "upstream.deleted"
    id: str
    name: str
    deleted: Literal[True] = True


class SecretsRotation(BaseModel):
    object: Literal["upstream.rotation"] = "upstream.rotation"
    rewritten: int


class TenantUpstream(BaseModel):
    object: Literal["tenant"] = "tenant"
    name: str
    default_upstream: str | None

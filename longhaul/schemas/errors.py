"""OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``, every 4xx and 5xx."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", title="ErrorResponse")

    error: ErrorDetail

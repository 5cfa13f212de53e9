"""The create body Longhaul checks: only the fields it relies on are typed, the rest pass."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool, StrictInt, StrictStr


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: HttpUrl


class LonghaulOptions(BaseModel):
    """Longhaul's own per-job options, in the body as ``longhaul: {...}``."""

    model_config = ConfigDict(extra="forbid")
    deadline_seconds: StrictInt | None = Field(None, ge=1, le=30 * 86400)
    upstream: StrictStr | None = Field(None, min_length=1, max_length=100)


class BackgroundOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    completion_window: Literal["soonest", "2h", "8h"] | None = None


class CreateResponseBody(BaseModel):
    """Validation of ``POST /v1/responses``; unknown fields are kept and sent upstream verbatim."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1, max_length=200)
    input: StrictStr | list[Any] | None = None
    background: StrictBool | None = None
    stream: StrictBool | None = None
    store: StrictBool | None = None
    instructions: StrictStr | None = None
    metadata: dict[StrictStr, StrictStr] | None = None
    tools: list[dict[str, Any]] | None = None
    previous_response_id: StrictStr | None = None
    conversation: StrictStr | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    max_output_tokens: StrictInt | None = Field(None, ge=1)
    background_options: BackgroundOptions | None = None
    webhook: WebhookTarget | None = None
    longhaul: LonghaulOptions | None = None


EXTENSION_FIELDS = ("webhook", "longhaul")

"""The OpenAI Response object as Longhaul serves it (``/v1/responses``).

Before the upstream has a final object (queued, in progress, cancelled or failed before submit)
Longhaul builds one itself, conformant to OpenAI's ``Response`` schema. Once the upstream has
finished, its object is served as it came (every field it sent passes through), with Longhaul's
id and the ``longhaul`` extension.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from longhaul.schemas.artifacts import ArtifactSummary
from longhaul.schemas.common import Number, UnixTime
from longhaul.schemas.costs import CostSummary
from longhaul.schemas.jobs import JobStatus

ResponseStatus = Literal["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"]

ERROR_CODES = frozenset(
    {
        "server_error",
        "rate_limit_exceeded",
        "invalid_prompt",
        "data_residency_mismatch",
        "bio_policy",
        "vector_store_timeout",
        "invalid_image",
        "invalid_image_format",
        "invalid_base64_image",
        "invalid_image_url",
        "image_too_large",
        "image_too_small",
        "image_parse_error",
        "image_content_policy_violation",
        "invalid_image_mode",
        "image_file_too_large",
        "unsupported_image_media_type",
        "empty_image_file",
        "failed_to_download_image",
        "image_file_not_found",
    }
)
"""The codes OpenAI's schema allows in ``Response.error.code`` (``ResponseErrorCode``)."""

DEFAULT_TEXT: dict[str, Any] = {"format": {"type": "text"}}


def _is_none(value: Any) -> bool:
    return value is None


class ResponseError(BaseModel):
    code: str = Field(description="One of OpenAI's ``ResponseErrorCode`` values.")
    message: str

    @classmethod
    def of(cls, error: dict[str, Any]) -> ResponseError:
        """OpenAI's enum has no code for Longhaul's own failures (``deadline_exceeded``) nor for
        an upstream that refused the create: the nearest allowed code, the message kept."""
        code = error.get("code")
        if code not in ERROR_CODES:
            status = error.get("status")
            if code == "rate_limit" or status == 429:
                code = "rate_limit_exceeded"
            elif error.get("type") == "invalid_request_error" or (
                isinstance(status, int) and 400 <= status < 500
            ):
                code = "invalid_prompt"
            else:
                code = "server_error"
        return cls(code=code, message=str(error.get("message") or "The response failed."))


class LonghaulInfo(BaseModel):
    """The ``longhaul`` extension: the job behind the Response."""

    job_status: JobStatus
    mode: Literal["background", "sync", "stream"] = Field(
        "background",
        description="How the request was made: ``background`` (``background: true``, with or "
        "without ``stream``), ``stream`` (``stream: true`` alone) or ``sync`` (neither: the "
        "call waited for the result). Every mode runs as a background job upstream.",
    )
    upstream_response_id: str | None
    upstream_status: str | None
    possibly_duplicated: bool
    error: dict[str, Any] | None = Field(
        None,
        description="Longhaul's full record of a failure (its own code, type and param), "
        "where ``error.code`` holds the nearest code OpenAI's schema allows.",
    )
    cost: CostSummary | None
    artifacts: list[ArtifactSummary]


REQUIRED: list[JsonValue] = [
    "id",
    "object",
    "created_at",
    "status",
    "error",
    "incomplete_details",
    "instructions",
    "model",
    "tools",
    "output",
    "parallel_tool_calls",
    "metadata",
    "tool_choice",
    "temperature",
    "top_p",
    "longhaul",
]


class ResponseObject(BaseModel):
    """A Response with Longhaul's job id and the ``longhaul`` extension.

    Longhaul-built objects set every field; an upstream's final object is kept as it came
    (unknown fields included, nothing added), so the fields it owns have defaults here and are
    serialized with ``exclude_unset``.
    """

    model_config = ConfigDict(
        extra="allow", title="Response", json_schema_extra={"required": REQUIRED}
    )

    id: str
    object: Literal["response"] = "response"
    created_at: UnixTime | None = None
    status: ResponseStatus
    background: bool = True
    error: ResponseError | None = None
    incomplete_details: dict[str, Any] | None = None
    instructions: str | list[Any] | None = None
    max_output_tokens: int | None = None
    model: str | None = None
    output: list[Any] = Field(default_factory=list)
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    reasoning: dict[str, Any] | None = None
    service_tier: str | None = None
    temperature: Number | None = None
    text: dict[str, Any] | None = Field(None, description="``{format: {type: text}}`` by default.")
    tool_choice: str | dict[str, Any] | None = None
    tools: list[Any] = Field(default_factory=list)
    top_p: Number | None = None
    truncation: str | None = None
    # OpenAI's schema has no null usage: absent until the upstream reports it
    usage: dict[str, Any] | None = Field(None, exclude_if=_is_none)
    metadata: dict[str, str]
    longhaul: LonghaulInfo


class DeletedResponse(BaseModel):
    id: str
    object: Literal["response"] = "response"
    deleted: Literal[True] = True


class InputItemList(BaseModel):
    """``GET /v1/responses/{id}/input_items``: the upstream's page as it came, or Longhaul's."""

    model_config = ConfigDict(extra="allow")

    object: Literal["list"] = "list"
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool

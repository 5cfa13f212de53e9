"""Wire models: what they keep, what they add, and how they spell times and error codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from longhaul.core.jobs.lifecycle import RESPONSE_STATUS, TERMINAL, Status
from longhaul.core.webhooks.outbox import BUDGET_THRESHOLD_REACHED, EVENT_TYPES
from longhaul.schemas.jobs import JobStatus
from longhaul.schemas.responses import ERROR_CODES, ResponseError, ResponseObject, ResponseStatus
from longhaul.schemas.webhooks import EventType, WebhookAttempt
from tests.support.openapi import openai_schemas

INFO = {
    "job_status": "completed",
    "upstream_response_id": "resp_up",
    "upstream_status": "completed",
    "possibly_duplicated": False,
    "cost": None,
    "artifacts": [],
}


def test_statuses_are_the_lifecycles() -> None:
    """``schemas`` cannot import ``core``: the wire's words are held equal to the lifecycle's."""
    assert set(get_args(JobStatus)) == {str(s) for s in Status}
    shown = set(RESPONSE_STATUS.values()) | {str(s) for s in TERMINAL}
    assert set(get_args(ResponseStatus)) == shown
    spec = openai_schemas()["components"]["schemas"]["Response"]["allOf"][2]["properties"]
    assert shown == set(spec["status"]["enum"])
    assert set(get_args(EventType)) == {*EVENT_TYPES.values(), BUDGET_THRESHOLD_REACHED}


def test_error_codes_are_openais_enum() -> None:
    spec = openai_schemas()["components"]["schemas"]["ResponseErrorCode"]["enum"]
    assert set(spec) == ERROR_CODES


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ({"code": "server_error", "message": "m"}, "server_error"),
        ({"code": "rate_limit_exceeded", "message": "m"}, "rate_limit_exceeded"),
        ({"code": "deadline_exceeded", "message": "m", "type": "timeout"}, "server_error"),
        ({"code": "connection_error", "message": "m", "type": "upstream_error"}, "server_error"),
        (
            {"code": "invalid_value", "type": "invalid_request_error", "status": 400},
            "invalid_prompt",
        ),
        ({"code": None, "type": "not_found_error", "status": 404}, "invalid_prompt"),
        ({"code": "too_many", "type": "requests", "status": 429}, "rate_limit_exceeded"),
        ({"code": "upstream_error", "message": "m"}, "server_error"),
    ],
)
def test_response_error_takes_the_nearest_allowed_code(error: dict[str, Any], code: str) -> None:
    made = ResponseError.of(error)
    assert made.code == code and made.code in ERROR_CODES
    assert made.message == error.get("message", "The response failed.")


def test_upstream_object_is_kept_as_it_came() -> None:
    upstream = {
        "id": "resp_lh_1",
        "object": "response",
        "status": "completed",
        "created_at": 1764400000,
        "temperature": 1,  # an int stays an int
        "top_p": 0.5,
        "usage": {"input_tokens": 3},
        "tool_usage": {"web_search": {"num_requests": 1}},  # unknown to the model: kept
        "output": [{"type": "message", "id": "msg_1", "content": []}],
        "metadata": {},
        "longhaul": INFO,
    }
    out = ResponseObject.model_validate(upstream).model_dump(mode="json", exclude_unset=True)
    assert out == upstream  # nothing added (no defaults), nothing dropped
    assert type(out["temperature"]) is int


def test_absent_usage_is_absent_not_null() -> None:
    body = {"id": "r", "status": "queued", "metadata": {}, "longhaul": INFO}
    assert "usage" not in ResponseObject.model_validate(body).model_dump(mode="json")


def test_timestamps_keep_their_offset() -> None:
    at = datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC)
    attempt = WebhookAttempt(
        number=1, started_at=at, status_code=204, latency_ms=3, response_body=None, error=None
    )
    assert attempt.model_dump(mode="json")["started_at"] == "2026-11-29T12:00:00.123456+00:00"

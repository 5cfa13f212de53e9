import pytest

from longhaul.core.errors import InvalidInput
from longhaul.core.jobs import intake

OK = {"model": "gpt-5.5", "input": "hi", "background": True}


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"input": "hi", "background": True}, "model", "missing_required_parameter"),
        ({**OK, "model": ""}, "model", "invalid_value"),
        ({**OK, "model": 5}, "model", "invalid_value"),
        ({"model": "m", "background": True}, "input", "missing_required_parameter"),
        ({**OK, "input": 42}, "input", "invalid_value"),
        ({**OK, "stream": "yes"}, "stream", "invalid_value"),
        ({**OK, "background": "yes"}, "background", "invalid_value"),
        ({**OK, "store": False}, "store", "unsupported_value"),
        ({"model": "m", "input": "x", "store": False}, "store", "unsupported_value"),
        ({**OK, "metadata": {"a": 1}}, "metadata.a", "invalid_value"),
        ({**OK, "metadata": {f"k{i}": "v" for i in range(16)}}, "metadata", "invalid_value"),
        ({**OK, "metadata": {"longhaul_job_id": "x"}}, "metadata", "invalid_value"),
        ({**OK, "max_output_tokens": "10"}, "max_output_tokens", "invalid_value"),
        ({**OK, "tools": {"type": "web_search"}}, "tools", "invalid_value"),
        ({**OK, "webhook": {"url": "not a url"}}, "webhook.url", "invalid_value"),
        ({**OK, "longhaul": {"deadline_seconds": 0}}, "longhaul.deadline_seconds", "invalid_value"),
        (
            {**OK, "background_options": {"completion_window": "3h"}},
            "background_options.completion_window",
            "invalid_value",
        ),
    ],
)
def test_bad_bodies_name_the_parameter(body: dict, param: str, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        intake.validate(body)
    assert info.value.param == param
    assert info.value.code == code


def test_unknown_fields_pass_validation() -> None:
    parsed = intake.validate({**OK, "some_future_field": {"x": 1}, "reasoning": {"effort": "high"}})
    assert parsed.model_extra == {"some_future_field": {"x": 1}, "reasoning": {"effort": "high"}}


@pytest.mark.parametrize("raw", [b"{", b"[1,2]", b"\xff\xfe", b'"text"'])
def test_malformed_json(raw: bytes) -> None:
    with pytest.raises(InvalidInput):
        intake.parse_body(raw)


def test_request_hash_ignores_key_order() -> None:
    assert intake.request_hash({"a": 1, "b": [1, 2]}) == intake.request_hash({"b": [1, 2], "a": 1})
    assert intake.request_hash({"a": 1}) != intake.request_hash({"a": 2})


@pytest.mark.parametrize(
    ("body", "mode"),
    [
        (OK, "background"),
        ({**OK, "stream": True}, "background"),
        ({"model": "m", "input": "x"}, "sync"),
        ({"model": "m", "input": "x", "background": False}, "sync"),
        ({"model": "m", "input": "x", "stream": True}, "stream"),
        ({"model": "m", "input": "x", "stream": False}, "sync"),
    ],
)
def test_every_mode_is_accepted_and_named(body: dict, mode: str) -> None:
    intake.validate(body)
    assert intake.request_mode(body) == mode

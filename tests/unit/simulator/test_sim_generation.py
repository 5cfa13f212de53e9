"""Deterministic outputs, images, blobs and config parsing."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time

import openai
import pytest
from PIL import Image

from longhaul.simulator.blobs import Blob
from longhaul.simulator.config import SimulatorConfig
from longhaul.simulator.images import render_image
from longhaul.simulator.outputs import generate
from longhaul.simulator.render import service_tier
from longhaul.simulator.webhooks import sign

BODY = {
    "model": "o4-mini",
    "input": [{"role": "user", "content": "Draw a lighthouse"}],
    "tools": [{"type": "image_generation", "output_format": "webp", "size": "1024x1536"}],
}


def strip_ids(value: object) -> object:
    if isinstance(value, dict):
        return {k: strip_ids(v) for k, v in value.items() if k not in ("id", "file_id")}
    if isinstance(value, list):
        return [strip_ids(v) for v in value]
    return value


def test_generation_is_deterministic_apart_from_ids() -> None:
    first = generate(BODY, base_url="http://x/v1")
    second = generate({**BODY, "metadata": {"longhaul_job_id": "other"}}, base_url="http://x/v1")
    assert strip_ids(first.output) == strip_ids(second.output)
    assert first.usage == second.usage
    assert first.output[0]["id"] != second.output[0]["id"]
    assert [i["type"] for i in first.output] == ["reasoning", "image_generation_call", "message"]
    assert "Draw a lighthouse" in first.output[-1]["content"][0]["text"]
    assert first.tool_usage["image_gen"]["output_tokens"] > 0


@pytest.mark.parametrize(
    ("fmt", "pil"), [("png", "PNG"), ("webp", "WEBP"), ("jpeg", "JPEG"), ("gif", "GIF")]
)
def test_images_are_real(fmt: str, pil: str) -> None:
    image = Image.open(io.BytesIO(render_image("seed", fmt, "1536x1024")))
    assert image.format == pil
    assert image.size == (256, 171)


def test_svg_is_svg_text() -> None:
    assert render_image("seed", "svg", None).startswith(b"<svg ")


def test_image_item_fields() -> None:
    item = generate(BODY, base_url="http://x/v1").output[1]
    assert item["output_format"] == "webp"
    assert item["size"] == "1024x1536"
    assert item["quality"] and item["revised_prompt"]
    assert Image.open(io.BytesIO(base64.b64decode(item["result"]))).format == "WEBP"


def test_generated_blob_is_stable_and_streams() -> None:
    blob = Blob.generated("s", 3 * 1024 * 1024 + 5, "application/octet-stream")
    chunks = list(blob.chunks())
    assert sum(len(c) for c in chunks) == blob.size
    assert max(len(c) for c in chunks) <= 256 * 1024
    again = hashlib.sha256(b"".join(blob.chunks(100_000))).hexdigest()
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == again


def test_usage_caching_with_previous_response() -> None:
    long_input = {"model": "gpt-4.1", "input": "word " * 2000}
    fresh = generate(long_input, base_url="http://x/v1").usage
    assert fresh["input_tokens_details"]["cached_tokens"] == 0
    assert fresh["input_tokens_details"]["cache_write_tokens"] == fresh["input_tokens"]
    follow = generate(long_input, base_url="http://x/v1", prior_input_tokens=1500).usage
    assert follow["input_tokens_details"]["cached_tokens"] == 1408


@pytest.mark.parametrize(
    ("requested", "reported"),
    [
        (None, "default"),
        ("auto", "default"),
        ("flex", "flex"),
        ("fast", "priority"),
        ("ultrafast", "ultrafast"),  # reported as itself: costs flag it as a fallback
    ],
)
def test_service_tier(requested: str | None, reported: str) -> None:
    assert service_tier(requested) == reported


def test_config_from_env() -> None:
    config = SimulatorConfig.from_env(
        {"LONGHAUL_SIM_RUN_SECONDS": "3", "LONGHAUL_SIM_REQUIRE_AUTH": "false"}, port=5
    )
    assert (config.run_seconds, config.require_auth, config.port) == (3.0, False, 5)
    with pytest.raises(TypeError):
        SimulatorConfig.from_env({}, nonsense=1)


def test_signature_verifies_with_sdk() -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    event_json = {
        "id": "evt_1",
        "object": "event",
        "type": "response.completed",
        "created_at": 1,
        "data": {"id": "resp_1"},
    }
    body = json.dumps(event_json)
    headers = sign(secret, "evt_1", time.time(), body)
    event = openai.OpenAI(api_key="k", webhook_secret=secret).webhooks.unwrap(body, headers)
    assert event.data.id == "resp_1"

"""Signing: what receivers verify with the standardwebhooks library and the OpenAI SDK."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import openai
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from longhaul.core.webhooks.signing import generate_secret, sign_headers

BODY = json.dumps({"type": "response.completed", "data": {"id": "resp_lh_1"}}).encode()


def test_generated_secrets_are_whsec_with_32_random_bytes() -> None:
    a, b = generate_secret(), generate_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 32


def test_headers_verify_with_standardwebhooks_and_openai_sdk() -> None:
    secret = generate_secret()
    headers = sign_headers("evt_abc", BODY, [secret])
    assert headers["webhook-id"] == "evt_abc"
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    client = openai.OpenAI(api_key="unused", webhook_secret=secret)
    client.webhooks.verify_signature(BODY, headers)


def test_any_timezone_for_now_gives_the_same_signature() -> None:
    secret = generate_secret()
    now = datetime.now(UTC).replace(microsecond=0)
    other_zone = now.astimezone(timezone(timedelta(hours=-5)))
    assert sign_headers("evt_1", BODY, [secret], now) == sign_headers(
        "evt_1", BODY, [secret], other_zone
    )
    Webhook(secret).verify(BODY, sign_headers("evt_1", BODY, [secret], other_zone))


def test_two_keys_give_two_signatures_each_verifies() -> None:
    new, old = generate_secret(), generate_secret()
    headers = sign_headers("evt_2", BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_tampered_body_fails() -> None:
    secret = generate_secret()
    headers = sign_headers("evt_3", BODY, [secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)

"""Secrets at rest (MultiFernet with rotation) and how an upstream's URL is split."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from longhaul.core.upstreams.secrets import SecretBox, SecretsUnavailable
from longhaul.core.upstreams.spec import split_base_url


def test_rotation_moves_a_secret_to_the_first_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox([old]).encrypt("sk-secret")
    assert "sk-secret" not in token
    both = SecretBox([new, old])
    assert both.decrypt(token) == "sk-secret"
    rotated = both.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == "sk-secret"
    with pytest.raises(SecretsUnavailable):
        SecretBox([new]).decrypt(token)  # the old key is gone: the old token is unreadable


def test_without_keys_no_secret_is_stored() -> None:
    with pytest.raises(SecretsUnavailable, match="LONGHAUL_SECRET_KEYS"):
        SecretBox([]).encrypt("sk-secret")
    with pytest.raises(SecretsUnavailable, match="not a Fernet key"):
        SecretBox(["not-a-key"])


@pytest.mark.parametrize(
    ("url", "base", "query"),
    [
        (
            "https://res.openai.azure.com/openai?api-version=2025-04-01-preview",
            "https://res.openai.azure.com/openai",
            {"api-version": "2025-04-01-preview"},
        ),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1", {}),
        ("http://127.0.0.1:9/v1?a=1&b=", "http://127.0.0.1:9/v1", {"a": "1", "b": ""}),
    ],
)
def test_a_query_in_the_base_url_stays_a_query(url: str, base: str, query: dict[str, str]) -> None:
    assert split_base_url(url) == (base, query)


def test_a_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        split_base_url("ftp://example.com/v1")

"""How to reach one upstream: a resolved, decrypted configuration and the SDK client it makes.

Auth styles: ``bearer`` (``Authorization: Bearer <key>``, OpenAI and most compatible servers),
``api-key`` (an ``api-key: <key>`` header, Azure), ``headers`` (only the configured custom
headers). Extra query parameters (Azure's ``api-version``) travel as query on every request
(the SDK's ``default_query``), never glued into the base URL's path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import openai

from longhaul.core.config import Settings

SIMULATOR_KEY = "sk-longhaul-simulator"
DEFAULT_KEY = "env"  # cache key of the environment's upstream


@dataclass(frozen=True)
class UpstreamSpec:
    key: str  # cache key: "env", or "<upstream id>:<revision>"
    name: str
    kind: str = "openai"
    base_url: str | None = None
    auth_style: str = "bearer"
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    organization: str | None = None
    project: str | None = None
    timeout: float = 30.0

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``openai.OpenAI`` / ``AsyncOpenAI`` (SDK retries off: Longhaul
        retries itself, durably, from the database)."""
        headers = dict(self.headers)
        if self.auth_style == "api-key" and self.api_key:
            headers["api-key"] = self.api_key
        return dict(
            # The SDK wants a key; with another auth style it is sent nowhere (see below).
            api_key=self.api_key or SIMULATOR_KEY,
            base_url=self.base_url,
            organization=self.organization,
            project=self.project,
            default_headers=headers or None,
            default_query=self.query or None,
            max_retries=0,
            timeout=self.timeout,
        )


def split_base_url(url: str) -> tuple[str, dict[str, str]]:
    """``https://x/openai?api-version=2025-04-01-preview`` → the URL without its query, and the
    query as parameters (the SDK would otherwise append paths after the ``?``)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base URL must be an http(s) URL, not {url!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")), query


def default_spec(settings: Settings) -> UpstreamSpec:
    """Today's environment settings: the upstream of every job that names no other."""
    return UpstreamSpec(
        key=DEFAULT_KEY,
        name="default",
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key or SIMULATOR_KEY,
        timeout=settings.upstream_timeout_seconds,
    )


class _HeaderAuth:
    """Mixin: no ``Authorization`` header; the key (if any) is in ``default_headers``. (The SDK's
    own ``AzureOpenAI`` does the same for ``api-key``, but also rewrites deployment paths.)"""

    def _auth_headers(self, security: Any) -> dict[str, str]:
        return {}

    def _validate_headers(self, headers: Any, custom_headers: Any) -> None:
        return None


class HeaderAuthOpenAI(_HeaderAuth, openai.OpenAI):
    pass


class HeaderAuthAsyncOpenAI(_HeaderAuth, openai.AsyncOpenAI):
    pass


def make_client(spec: UpstreamSpec) -> openai.OpenAI:
    cls = openai.OpenAI if spec.auth_style == "bearer" else HeaderAuthOpenAI
    return cls(**spec.client_kwargs())


def make_async_client(spec: UpstreamSpec, **overrides: Any) -> openai.AsyncOpenAI:
    cls = openai.AsyncOpenAI if spec.auth_style == "bearer" else HeaderAuthAsyncOpenAI
    return cls(**{**spec.client_kwargs(), **overrides})

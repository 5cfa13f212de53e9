"""Raw HTTP to an upstream, for the pass-through proxies (``/v1/files`` …): the URL, query and
headers an ``UpstreamSpec`` implies, the same ones its SDK client would send."""

from __future__ import annotations

from longhaul.core.upstreams.spec import UpstreamSpec

OPENAI_URL = "https://api.openai.com/v1"


def target(spec: UpstreamSpec, path: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """``(url, headers, query)`` for ``path`` (``/files/…``) on the upstream."""
    headers = dict(spec.headers)
    if spec.api_key and spec.auth_style == "bearer":
        headers["Authorization"] = f"Bearer {spec.api_key}"
    elif spec.api_key and spec.auth_style == "api-key":
        headers["api-key"] = spec.api_key
    if spec.organization:
        headers["OpenAI-Organization"] = spec.organization
    if spec.project:
        headers["OpenAI-Project"] = spec.project
    base = (spec.base_url or OPENAI_URL).rstrip("/")
    return base + path, headers, dict(spec.query)

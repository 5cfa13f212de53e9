"""External base URL for links (download URLs in views and webhooks)."""

from __future__ import annotations

from fastapi import Request

from longhaul.core.config import get_settings


def base_url(request: Request) -> str:
    return (get_settings().public_url or str(request.base_url)).rstrip("/")

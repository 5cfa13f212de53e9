"""Header-safe renderings of file names (shared by the API route and presigned URLs)."""

from __future__ import annotations

from urllib.parse import quote


def ascii_fallback(filename: str) -> str:
    cleaned = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename)
    return cleaned or "download"


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266 header value with an ASCII fallback and the exact UTF-8 name."""
    return (
        f'{disposition}; filename="{ascii_fallback(filename)}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )

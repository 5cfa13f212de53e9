"""Upstream file names are untrusted: sanitise them before they reach a header, a key or a disk."""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 120
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{n}" for p in ("com", "lpt") for n in range(10)
}


def sanitize_filename(
    name: str | None, *, default: str = "file", max_length: int = MAX_LENGTH
) -> str:
    """A display-safe base name: no folders, traversal, control or format characters; capped
    at ``max_length`` characters keeping the extension; never empty or hidden."""
    raw = unicodedata.normalize("NFC", name or "")
    raw = raw.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(
        "_" if unicodedata.category(c).startswith(("C", "Z")) and c != " " else c for c in raw
    )
    cleaned = _UNSAFE.sub("_", cleaned).strip(" .")
    cleaned = re.sub(r"_{2,}", "_", cleaned)
    if not cleaned or set(cleaned) <= {"_", "."}:
        cleaned = default
    stem, dot, ext = cleaned.rpartition(".")
    if stem.lower() in _WINDOWS_RESERVED or (not dot and cleaned.lower() in _WINDOWS_RESERVED):
        cleaned = f"_{cleaned}"
    if len(cleaned) > max_length:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            cleaned = stem[: max_length - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            cleaned = cleaned[:max_length].rstrip(" .")
    return cleaned


def key_segment(name: str, *, max_length: int = 80) -> str:
    """An ASCII-only version of a (sanitised) name for storage keys."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    segment = _KEY_UNSAFE.sub("_", ascii_name).strip("._") or "file"
    return segment[-max_length:].lstrip("._") or "file"

"""Content type detection: magic bytes first, then the file name, then a text/binary guess."""

from __future__ import annotations

import mimetypes

DEFAULT = "application/octet-stream"

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"BM", 0, "image/bmp"),
)
_EXTRA_TYPES = {
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".parquet": "application/vnd.apache.parquet",
    ".ipynb": "application/x-ipynb+json",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def from_magic(head: bytes) -> str | None:
    for signature, offset, content_type in _MAGIC:
        if head[offset : offset + len(signature)] == signature:
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    text = head.lstrip()[:256].lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head.lower()):
        return "image/svg+xml"
    return None


def from_filename(filename: str | None) -> str | None:
    if not filename:
        return None
    dot = filename.rfind(".")
    if dot >= 0 and filename[dot:].lower() in _EXTRA_TYPES:
        return _EXTRA_TYPES[filename[dot:].lower()]
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed


def detect(head: bytes, filename: str | None = None) -> str:
    """Strong signatures win (a PNG named ``.txt`` is a PNG); ZIP-based formats (xlsx, docx)
    are named by their extension; otherwise UTF-8 text is ``text/plain``."""
    magic = from_magic(head)
    if magic:
        return magic
    named = from_filename(filename)
    if named:
        return named
    if head[:4] == b"PK\x03\x04":
        return "application/zip"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start < len(head) - 3:
                return DEFAULT
        return "text/plain"
    return DEFAULT

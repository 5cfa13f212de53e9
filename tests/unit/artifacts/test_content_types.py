from __future__ import annotations

import pytest

from longhaul.core.storage.content_types import detect
from longhaul.simulator.images import render_image


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("png", "image/png"),
        ("webp", "image/webp"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("svg", "image/svg+xml"),
    ],
)
def test_magic_bytes_of_every_image_format(fmt: str, expected: str) -> None:
    head = render_image("seed", fmt, "64x64")[:512]
    assert detect(head, "no-extension") == expected


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"a,b\n1,2\n", "x.csv", "text/csv"),
        (b'{"a": 1}', "x.json", "application/json"),
        (
            b"PK\x03\x04rest",
            "book.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (b"PK\x03\x04rest", "unknown", "application/zip"),
        (b"%PDF-1.7", "x.txt", "application/pdf"),
        (b"plain words", "noext", "text/plain"),
        ("caf\u00e9".encode()[:-1], "noext", "text/plain"),  # cut multi-byte char
        (b"\x00\x01\x02", "noext", "application/octet-stream"),
        (b"", "noext", "application/octet-stream"),
    ],
)
def test_detect(head: bytes, name: str, expected: str) -> None:
    assert detect(head, name) == expected

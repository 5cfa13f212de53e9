from __future__ import annotations

import pytest

from longhaul.core.artifacts.filenames import key_segment, sanitize_filename
from longhaul.core.storage.base import validate_key


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.csv", "report.csv"),
        ("../../etc/passwd", "passwd"),
        ("/mnt/data/chart.png", "chart.png"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("a\x00b\nc\x1b.txt", "a_b_c_.txt"),
        ("x\u202egnp.exe", "x_gnp.exe"),  # right-to-left override
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("   .hidden  ", "hidden"),
        ('what?<is>"this"|.md', "what_is_this_.md"),
        ("résumé.csv", "résumé.csv"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
    ],
)
def test_sanitize(raw: str | None, clean: str) -> None:
    assert sanitize_filename(raw) == clean


def test_length_is_capped_keeping_the_extension() -> None:
    name = sanitize_filename("a" * 500 + ".parquet")
    assert len(name) == 120 and name.endswith(".parquet")
    assert len(sanitize_filename("b" * 500)) == 120


@pytest.mark.parametrize("raw", ["résumé.csv", "数据.json", "a b/c", "...", "x" * 300 + ".png"])
def test_key_segments_are_valid_storage_keys(raw: str) -> None:
    segment = key_segment(sanitize_filename(raw))
    validate_key(f"tenant/t/job/j/art_1-{segment}")
    assert len(segment) <= 80

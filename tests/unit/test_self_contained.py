"""Code, docs and config stand on their own: none cites a document outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The team's research notes and design document live outside the repository.
OUTSIDE = re.compile(
    r"\.\./shared|shared/reference|DESIGN(\.md| §)|"
    r"\b(reliability|pricing|streaming|viewer|style|user-asks|openai-responses)\.md §"
)
SCANNED = ("longhaul", "docs", "deploy", "scripts", "bench", "README.md", "Makefile",
           "docker-compose.yml", "pyproject.toml")  # fmt: skip
TEXT = {".py", ".md", ".toml", ".yaml", ".yml", ".conf", ".json", ".ini", ".html", ".css", ".js"}


def test_nothing_cites_documents_outside_the_repository() -> None:
    hits = []
    for name in SCANNED:
        base = ROOT / name
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix not in TEXT and path.name not in ("Makefile",):
                continue
            for n, line in enumerate(path.read_text(errors="ignore").splitlines(), 1):
                if OUTSIDE.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == []

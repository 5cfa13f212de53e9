"""The README stays true: its settings table matches the Settings class, its links resolve, and
its two commands exist in the Makefile."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from longhaul.core.config import Settings

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()


def test_settings_table_matches_the_settings_class() -> None:
    printed = subprocess.run(
        [sys.executable, str(ROOT / "scripts/settings_table.py")],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    assert printed in README, (
        "README table is stale: run `python scripts/settings_table.py --write`"
    )
    for name in Settings.model_fields:
        assert f"`LONGHAUL_{name.upper()}`" in README


def test_relative_links_resolve() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README)
    local = [link for link in links if "://" not in link]
    assert local, "the README links the feature docs"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert missing == []


def test_the_two_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "make demo" in README and "make test" in README
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci/run").read_text()

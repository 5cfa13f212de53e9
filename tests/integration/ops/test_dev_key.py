"""The dev API key ``longhaul up`` keeps in the data folder is readable by its owner only, from
the moment it is written (never a world-readable file that is then narrowed)."""

from __future__ import annotations

import os
from pathlib import Path


def test_dev_key_file_is_written_0600(database_url: str, tmp_path: Path) -> None:
    from longhaul.cli.launch import _dev_api_key

    old = os.umask(0o022)  # the usual umask: plain writes would give 0644
    try:
        key = _dev_api_key(tmp_path)
        path = tmp_path / "dev_api_key"
        assert path.read_text().strip() == key
        assert path.stat().st_mode & 0o777 == 0o600
        path.chmod(0o644)  # a file left readable by an older version is narrowed when rewritten
        path.write_text("lh_sk_revoked\n")
        assert _dev_api_key(tmp_path) != key
        assert path.stat().st_mode & 0o777 == 0o600
        assert _dev_api_key(tmp_path) == path.read_text().strip()  # kept across restarts
    finally:
        os.umask(old)

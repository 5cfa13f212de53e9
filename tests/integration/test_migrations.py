"""Migrations form one line, match the models exactly, and downgrade cleanly."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from longhaul.core.migrate import alembic_config
from tests.support import infra


def test_single_head_and_models_match(pg_server_url: str) -> None:
    with infra.fresh_database(pg_server_url) as url:
        cfg = alembic_config(url)
        assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1
        command.upgrade(cfg, "head")
        command.check(cfg)  # raises if the models and the migrations disagree
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")


def test_every_migration_file_ships_in_the_package() -> None:
    """A wheel carries what ``[tool.setuptools.package-data]`` names: every script must match."""
    import fnmatch
    import tomllib

    from longhaul.core.migrate import SCRIPTS

    package = SCRIPTS.parent
    root = package.parent
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["longhaul"]
    files = [
        p.relative_to(package).as_posix()
        for p in SCRIPTS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert any(f.startswith("migrations/versions/") for f in files)

    def shipped(name: str, glob: str) -> bool:  # setuptools globs do not cross "/"
        a, b = name.split("/"), glob.split("/")
        return len(a) == len(b) and all(fnmatch.fnmatch(x, y) for x, y in zip(a, b, strict=True))

    missing = [f for f in files if not any(shipped(f, g) for g in globs)]
    assert missing == []

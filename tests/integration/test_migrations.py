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

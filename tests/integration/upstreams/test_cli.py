"""`longhaul upstreams …` on real PostgreSQL: add (the query of a base URL kept as query, the key
encrypted), list/show without secrets, use as a tenant default, rotate-keys, rm."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.cli.main import main
from longhaul.core.config import Settings, get_settings
from longhaul.core.models import Tenant, Upstream
from longhaul.core.upstreams.secrets import SecretBox
from tests.integration.upstreams.conftest import unique


def test_upstreams_cli(
    settings: Settings,
    session: Session,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, tenant = unique("cli"), unique("cli-tenant")
    assert main(["keys", "create", "--tenant", tenant]) == 0
    url = "https://res.openai.azure.com/openai?api-version=2025-04-01-preview"
    args = ["upstreams", "add", name, "--kind", "azure", "--base-url", url]
    assert main([*args, "--api-key", "az-cli-secret", "--models", "gpt-5*,o4-*"]) == 0
    assert "api-key" in capsys.readouterr().out  # azure's default auth style

    assert main(["upstreams", "show", name]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["base_url"] == "https://res.openai.azure.com/openai"
    assert shown["query"] == {"api-version": "2025-04-01-preview"}
    assert shown["model_patterns"] == ["gpt-5*", "o4-*"] and shown["has_api_key"] is True
    assert main(["upstreams", "list"]) == 0
    listing = capsys.readouterr().out
    assert name in listing and "az-cli-secret" not in listing

    assert main(["upstreams", "use", tenant, name]) == 0
    row = session.execute(select(Upstream).where(Upstream.name == name)).scalar_one()
    assert (
        session.execute(
            select(Tenant.default_upstream_id).where(Tenant.name == tenant)
        ).scalar_one()
        == row.id
    )
    assert "az-cli-secret" not in str(row.api_key_secret)

    new = Fernet.generate_key().decode()
    monkeypatch.setenv("LONGHAUL_SECRET_KEYS", f"{new},{settings.secret_keys[0]}")
    get_settings.cache_clear()
    assert main(["upstreams", "rotate-keys"]) == 0
    session.refresh(row)
    assert SecretBox([new]).decrypt(str(row.api_key_secret)) == "az-cli-secret"
    # back under the session's key: rotation rewrites every row, other tests' too
    monkeypatch.setenv("LONGHAUL_SECRET_KEYS", f"{settings.secret_keys[0]},{new}")
    get_settings.cache_clear()
    assert main(["upstreams", "rotate-keys"]) == 0

    assert main(["upstreams", "add", name, "--base-url", url, "--api-key", "k"]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["upstreams", "rm", name]) == 0
    session.expire_all()
    assert (
        session.execute(
            select(Tenant.default_upstream_id).where(Tenant.name == tenant)
        ).scalar_one()
        is None
    )
    assert main(["upstreams", "new-key"]) == 0
    Fernet(capsys.readouterr().out.strip().split()[-1].encode())  # a usable key

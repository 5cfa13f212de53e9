"""`longhaul keys create|list|revoke` on real PostgreSQL: expiry and revocation are enforced."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from longhaul.cli.main import main
from longhaul.core.auth import hash_key, tenant_for_key
from longhaul.core.errors import Unauthorized
from longhaul.core.models import ApiKey, utcnow

pytestmark = pytest.mark.integration


def test_keys_expire_list_and_revoke(
    database_url: str, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = f"keys-{uuid.uuid4().hex[:8]}"
    assert main(["keys", "create", "--tenant", tenant, "--name", "ci"]) == 0
    forever = capsys.readouterr().out.strip()
    assert main(["keys", "create", "--tenant", tenant, "--expires-in", "1"]) == 0
    brief = capsys.readouterr().out.strip()
    assert tenant_for_key(session, brief).name == tenant  # valid for a day

    assert main(["keys", "list", "--tenant", tenant, "--json"]) == 0
    rows = {r["prefix"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == {forever[:12], brief[:12]}
    assert rows[forever[:12]]["expires_at"] is None and rows[forever[:12]]["name"] == "ci"
    assert rows[brief[:12]]["expires_at"] > rows[brief[:12]]["created_at"]

    session.execute(
        update(ApiKey)
        .where(ApiKey.key_hash == hash_key(brief))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    with pytest.raises(Unauthorized):
        tenant_for_key(session, brief)

    assert main(["keys", "revoke", forever[:12]]) == 0
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(Unauthorized):
        tenant_for_key(session, forever)
    assert main(["keys", "list", "--tenant", tenant]) == 0
    assert "no keys" in capsys.readouterr().out  # revoked ones only with --all
    assert main(["keys", "list", "--tenant", tenant, "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # header and both keys
    assert main(["keys", "revoke", "lh_sk_nothing"]) == 1
    with pytest.raises(SystemExit) as refused:
        main(["keys", "create", "--tenant", tenant, "--expires-in", "0"])
    assert refused.value.code == 2

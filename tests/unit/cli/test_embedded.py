"""Embedded PostgreSQL and Redis, as `longhaul up` and test runs without servers use them."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
import redis

from longhaul.cli import embedded, procs
from tests.support import infra


def test_postgres_keeps_data_across_restarts(tmp_path: Path) -> None:
    with embedded.start_postgres(tmp_path / "pg") as url:
        db = embedded.ensure_database(url, "keep")
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("create table t (v text)")
            conn.execute("insert into t values ('kept')")
        port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert not procs.port_in_use(port), "the server still listens after the context closed"

    with embedded.start_postgres(tmp_path / "pg") as url:
        db = embedded.ensure_database(url, "keep")  # exists already: no error, same URL
        with psycopg.connect(db) as conn:
            assert conn.execute("select v from t").fetchone() == ("kept",)


def test_test_infra_starts_embedded_postgres_without_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/support/infra.py's fallback: embedded server, fresh database, every migration."""
    from longhaul.core import migrate

    monkeypatch.delenv("LONGHAUL_TEST_DATABASE_URL", raising=False)
    with infra.postgres_server() as server, infra.fresh_database(server) as url:
        assert "127.0.0.1" in server
        migrate.upgrade(url)
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            tables = {r[0] for r in conn.execute("select tablename from pg_tables")}
    assert {"jobs", "tenants", "api_keys", "alembic_version"} <= tables


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server on PATH")
def test_redis_server_keeps_messages_in_its_aof(tmp_path: Path) -> None:
    url, proc = embedded.launch_redis_server(tmp_path / "redis")
    try:
        client = redis.Redis.from_url(url, decode_responses=True)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        client.lpush("queue", "message")
    finally:
        procs.stop_process(proc)
    assert proc.poll() is not None

    url, proc = embedded.launch_redis_server(tmp_path / "redis")
    try:
        assert redis.Redis.from_url(url).lrange("queue", 0, -1) == [b"message"]
    finally:
        procs.stop_process(proc)


def test_fake_redis_runs_lua_for_redbeat() -> None:
    with embedded.fake_redis_server() as url:
        client = redis.Redis.from_url(url)
        assert client.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, "k", "v") == b"OK"
        assert client.get("k") == b"v"


def test_start_redis_falls_back_to_fakeredis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server to be found
    with embedded.start_redis(tmp_path / "redis") as (url, kind):
        assert kind == "fakeredis"
        assert redis.Redis.from_url(url).ping()
    assert "for trying things only" in caplog.text


def test_free_port_prefers_the_default_unless_taken() -> None:
    with embedded.fake_redis_server() as url:
        taken = int(url.rsplit(":", 1)[1].split("/")[0])
        assert procs.port_in_use(taken)
        assert procs.free_port(taken) != taken
    assert procs.free_port(taken) == taken

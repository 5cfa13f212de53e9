"""Real PostgreSQL and Redis for the tests.

From ``LONGHAUL_TEST_DATABASE_URL`` / ``LONGHAUL_TEST_REDIS_URL`` when set (CI here: the services
on loopback); otherwise started by the test run itself (embedded PostgreSQL; ``redis-server``,
else fakeredis' TCP server in a child process).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


@contextmanager
def postgres_server() -> Iterator[str]:
    """A server URL (no database part matters): from env, else an embedded server."""
    url = os.environ.get("LONGHAUL_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from longhaul.cli.embedded import start_postgres  # the same code `longhaul up` runs

    with (
        tempfile.TemporaryDirectory(prefix="longhaul-test-pg-") as tmp,
        start_postgres(os.path.join(tmp, "pg")) as pg_url,
    ):
        yield pg_url


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create a throw-away database on the server, yield its SQLAlchemy URL, drop it after."""
    base = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"longhaul_test_{uuid.uuid4().hex[:10]}"
    admin = base.set(drivername="postgresql", database=base.database or "postgres")
    admin_dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def own_database(server_url: str) -> Iterator[str]:
    """A migrated database for one test module, the settings pointing at it while it lives (and
    back after): for modules whose sweep or stack must not meet jobs other modules left due (the
    sweep takes due jobs oldest first, in bounded batches)."""
    from longhaul.core import migrate
    from longhaul.core.config import get_settings

    previous = os.environ.get("LONGHAUL_DATABASE_URL")
    with fresh_database(server_url) as url:
        migrate.upgrade(url)
        os.environ["LONGHAUL_DATABASE_URL"] = url
        get_settings.cache_clear()
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop("LONGHAUL_DATABASE_URL", None)
            else:
                os.environ["LONGHAUL_DATABASE_URL"] = previous
            get_settings.cache_clear()


@contextmanager
def redis_server(*, require_real: bool = False) -> Iterator[str]:
    """A Redis URL: from env, else a ``redis-server`` on a free port, else (unless a real server
    is required) an in-process fakeredis TCP server."""
    url = os.environ.get("LONGHAUL_TEST_REDIS_URL")
    if url:
        yield url
        return
    exe = shutil.which("redis-server")
    if exe:
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="longhaul-test-redis-") as tmp:
            proc = subprocess.Popen(
                [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
                stdout=subprocess.DEVNULL,
            )
            try:
                wait_for_port("127.0.0.1", port)
                yield f"redis://127.0.0.1:{port}/0"
            finally:
                proc.terminate()
                proc.wait(10)
        return
    if require_real:
        raise RuntimeError(
            "this test needs a real redis-server: set LONGHAUL_TEST_REDIS_URL or put "
            "redis-server on PATH (e.g. apt-get install redis-server)"
        )
    # fakeredis' TCP server in a process of its own: as a thread of the test process it would
    # share the GIL with the test's own HTTP calls and the in-process simulator, and the broker
    # (every worker's every message) would crawl.
    port = free_port()
    code = (
        "import sys; from fakeredis import TcpFakeServer; "
        "TcpFakeServer(('127.0.0.1', int(sys.argv[1])), server_type='redis').serve_forever()"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)

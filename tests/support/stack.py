"""The whole Longhaul stack in real processes for end-to-end tests: API (uvicorn), worker and
beat (Celery) as subprocesses on real PostgreSQL and Redis, with the simulator as upstream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import redis

from tests.support.infra import free_port

FAST = {
    "LONGHAUL_POLL_INITIAL_SECONDS": "0.2",
    "LONGHAUL_POLL_MAX_SECONDS": "1.0",
    "LONGHAUL_POLL_BACKOFF_FACTOR": "1.5",
    "LONGHAUL_SWEEP_INTERVAL_SECONDS": "0.5",
    "LONGHAUL_RECONCILE_INTERVAL_SECONDS": "2",
    "LONGHAUL_LEASE_SECONDS": "5",
    "LONGHAUL_RETRY_BASE_SECONDS": "0.2",
    "LONGHAUL_RETRY_MAX_SECONDS": "2",
}


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a Celery worker has pool children)."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
        self.popen.wait(30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)


@dataclass
class Stack:
    env: dict[str, str]
    workdir: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    api_url: str = ""

    def start(self, name: str, *args: str, extra_env: Mapping[str, str] | None = None) -> Proc:
        log = self.workdir / f"{name}.log"
        popen = subprocess.Popen(
            [sys.executable, "-m", "longhaul.cli.main", *args],
            env={**self.env, **(extra_env or {})},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: kill it and its children together
            cwd=self.workdir,
        )
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def start_api(self) -> None:
        port = free_port()
        self.start("api", "api", "--host", "127.0.0.1", "--port", str(port))
        self.api_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.api_url}/healthz", self.procs["api"])

    def start_worker(
        self,
        name: str = "worker",
        concurrency: int = 2,
        *,
        queues: str | None = None,
        pool: str | None = None,
        metrics_port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> Proc:
        """A worker on every queue (or ``queues``)."""
        args = ["--concurrency", str(concurrency), "--hostname", f"{name}-{os.getpid()}@%h"]
        args += ["--queues", queues] if queues else []
        args += ["--pool", pool] if pool else []
        args += ["--metrics-port", str(metrics_port)] if metrics_port is not None else []
        return self.start(name, "worker", *args, extra_env=extra_env)

    def start_workers(self) -> None:
        """The two workers `longhaul up` runs: jobs (every queue but webhooks) and webhooks."""
        from longhaul.core import messages

        self.start_worker("worker", queues=",".join(messages.JOB_QUEUES))
        self.start_worker(
            "worker-webhooks",
            concurrency=8,
            queues=",".join(messages.LIGHT_QUEUES),
            pool="threads",
            metrics_port=0,  # the jobs worker has the configured port
        )

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def statuses(self, api_key: str, job_ids: list[str]) -> list[str]:
        """Each job's Longhaul status, from `GET /v1/jobs/{id}`."""
        headers = {"Authorization": f"Bearer {api_key}"}
        return [
            httpx.get(f"{self.api_url}/v1/jobs/{i}", headers=headers).json()["status"]
            for i in job_ids
        ]

    def all_completed(self, api_key: str, job_ids: list[str]) -> list[str] | None:
        """The statuses once every job is `completed`, else None (for `wait_for`)."""
        current = self.statuses(api_key, job_ids)
        return current if all(s == "completed" for s in current) else None

    def logs(self) -> str:
        """Each process's warnings and errors (first lines of each, the cause is often early),
        then the tail of its log."""
        out = []
        for p in self.procs.values():
            if not p.log.exists():
                continue
            text = p.log.read_text()
            marks = ("WARNING", "ERROR", "CRITICAL", "Traceback", "lost", "shutdown", "Restarting")
            notable = [line[:300] for line in text.splitlines() if any(m in line for m in marks)]
            out.append(f"--- {p.name}: warnings and errors ---\n" + "\n".join(notable[:60]))
            out.append(f"--- {p.name}: tail ---\n{text[-4000:]}")
        return "\n".join(out)


def wait_http(url: str, proc: Proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: {proc.log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout}s")


def base_env(database_url: str, redis_url: str, simulator_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAUL_")}
    env.update(FAST)
    env.update(
        LONGHAUL_DATABASE_URL=database_url,
        LONGHAUL_REDIS_URL=redis_url,
        LONGHAUL_OPENAI_BASE_URL=simulator_url,
        LONGHAUL_WEBHOOK_ALLOW_HOSTS='["127.0.0.1/32","::1/128"]',
        PYTHONUNBUFFERED="1",
        # load from one key and one address: request limits off unless a test sets them
        LONGHAUL_RATE_LIMIT_PER_SECOND="0",
        LONGHAUL_AUTH_FAILURES_PER_MINUTE="0",
        LONGHAUL_REDELIVER_PER_HOUR="0",
    )
    return env


def worker_answers(redis_url: str) -> bool:
    """A worker replies to a Celery ping on this broker."""
    from celery import Celery

    app = Celery(broker=redis_url)
    try:
        return bool(app.control.ping(timeout=1.0))
    except redis.RedisError:  # a broker just restarted: not yet
        return False
    finally:
        app.close()


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def running_stack(
    database_url: str,
    redis_url: str,
    simulator_url: str,
    extra_env: Mapping[str, str] | None = None,
    *,
    split_workers: bool = True,
) -> Iterator[Stack]:
    """API, the two workers and beat as processes on a clean broker; logs printed if startup
    fails."""
    redis.Redis.from_url(redis_url).flushdb()  # no stale messages or beat lock from a past run
    with tempfile.TemporaryDirectory(prefix="longhaul-e2e-") as tmp:
        env = {**base_env(database_url, redis_url, simulator_url), **(extra_env or {})}
        st = Stack(env=env, workdir=Path(tmp))
        try:
            st.start_api()
            if split_workers:
                st.start_workers()
            else:  # one worker on every queue (what `longhaul up` ran before webhooks had theirs)
                st.start_worker()
            st.start("beat", "beat")
            # Jobs created before a worker listens sit in the queue until the sweep takes them
            # over; tests start from a stack that works, as `longhaul up` reports one.
            wait_for(lambda: worker_answers(redis_url), 90, interval=0.5, what="a worker")
            yield st
        except BaseException:
            print(st.logs())
            raise
        finally:
            st.stop_all()

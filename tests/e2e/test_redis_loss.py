"""DESIGN rule 1: losing every Redis message may delay a job, never lose it. Redis is killed
(no persistence: every queued and unacked message is gone, the beat lock too) while jobs are in
flight, and started again empty on the same port; every job still completes."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.infra import free_port, wait_for_port
from tests.support.stack import Stack, running_stack, wait_for

pytestmark = pytest.mark.e2e
JOBS = 12


class RedisProcess:
    def __init__(self, port: int, workdir: str) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisProcess]:
    if shutil.which("redis-server") is None:
        pytest.skip(
            "needs a real redis-server on PATH to kill and restart (apt-get install redis-server)"
        )
    with tempfile.TemporaryDirectory(prefix="longhaul-redis-loss-") as tmp:
        server = RedisProcess(free_port(), tmp)
        server.start()
        yield server
        if server.proc and server.proc.poll() is None:
            server.kill()


@pytest.fixture(scope="module")
def database_url(pg_server_url: str) -> Iterator[str]:
    """A database of this module's own: jobs other modules left running (their simulators are
    gone) must not share this stack's worker while it recovers."""
    from longhaul.core import migrate
    from tests.support.infra import fresh_database

    with fresh_database(pg_server_url) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def stack(database_url: str, simulator: Any, own_redis: RedisProcess) -> Iterator[Stack]:
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    with running_stack(database_url, url, simulator.url) as st:
        yield st


def test_jobs_survive_losing_every_redis_message(
    client: openai.OpenAI, stack: Stack, api_key: str, own_redis: RedisProcess
) -> None:
    ids = [
        client.responses.create(
            model="gpt-5.5", input=f"job {i}", background=True, metadata={"longhaul_sim": "slow:4"}
        ).id
        for i in range(JOBS)
    ]

    def statuses() -> list[str]:
        return stack.statuses(api_key, ids)

    wait_for(lambda: "in_progress" in statuses(), 20, what="jobs in flight")
    own_redis.kill()
    # While Redis is down, the intake still takes jobs (they wait in PostgreSQL).
    late = client.responses.create(model="gpt-5.5", input="while redis is down", background=True).id
    ids.append(late)
    time.sleep(3)
    own_redis.start()  # empty: no queued messages, no unacked ones, no beat lock

    restarts: list[str] = []

    def supervised_and_completed() -> list[str] | None:
        # As the deployment's supervisor does (compose `restart: unless-stopped`, a Kubernetes
        # Deployment): a process that exited is started again. Under load Celery's worker can
        # exit while reconnecting (kombu acks on a closed channel); the jobs must survive that.
        for name in ("worker", "beat"):
            if stack.procs[name].popen.poll() is not None:
                restarts.append(name)
                if name == "worker":
                    stack.start_worker()
                else:
                    stack.start("beat", "beat")
        return stack.all_completed(api_key, ids)

    try:
        wait_for(
            supervised_and_completed, 120, interval=1, what="every job to complete after the loss"
        )
    except TimeoutError:
        print(stack.logs())
        raise
    if restarts:
        print(f"restarted after the loss: {restarts}\n{stack.logs()}")

"""Tasks per job under a backlog: ``--jobs`` jobs due at once (the rows the intake writes, each
with a webhook to a receiver that answers 204), on the default stack (a jobs worker of 2
processes, a webhooks worker, beat) with the e2e tests' short lease (5 s: work that waits longer
than a lease in a queue is where a second message would come from). Every message put on a
Longhaul queue is read off Redis' MONITOR and counted per job (the ids in its arguments) against
the least the work needs:

- submit: job entries in submit messages per job (least: 1, one create each);
- poll: job entries in poll messages per poll made (``jobs.poll_count``);
- finalize: messages per job (least: 1);
- deliver: messages per delivery attempt made.

    .venv/bin/python -m bench.task_amplification --jobs 1000

Prints one JSON object: counts, the ratio of each to its least, the most entries one job got.
Uses LONGHAUL_TEST_DATABASE_URL when set, else an embedded PostgreSQL; its own redis-server.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import Engine

from longhaul.core import migrate
from longhaul.core.ids import new_job_id
from longhaul.core.models import Job, Tenant, utcnow
from longhaul.core.models.webhooks import WebhookDelivery
from longhaul.simulator import start_simulator
from tests.support import infra
from tests.support.receivers import Receiver
from tests.support.stack import running_stack, wait_for

_TASK = re.compile(r'\\?"task\\?": \\?"(longhaul\.[a-z_.]+)')
_BODY = re.compile(r'\\?"body\\?": \\?"([A-Za-z0-9+/=]+)')


class Messages(threading.Thread):
    """Every LPUSH to the broker (MONITOR): task name and job or delivery ids, counted."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(daemon=True)
        self.r = redis.Redis.from_url(redis_url)
        self.entries: dict[str, Counter[str]] = {}
        self.messages: Counter[str] = Counter()
        self.stopped = threading.Event()

    def run(self) -> None:
        with self.r.monitor() as monitor:
            for line in monitor.listen():
                if self.stopped.is_set():
                    return
                command = str(line.get("command", ""))
                if not command.startswith("LPUSH"):
                    continue
                task, body = _TASK.search(command), _BODY.search(command)
                if not task or not body:
                    continue
                name = task.group(1).removesuffix("_batch").rsplit(".", 1)[1]
                self.messages[task.group(1)] += 1
                args = json.loads(base64.b64decode(body.group(1)))[0]
                if not args:  # the beat's ticks
                    continue
                ids = args[0] if isinstance(args[0], list) else [args[0]]
                self.entries.setdefault(name, Counter()).update(ids)


def add_jobs(engine: Engine, tenant_id: str, n: int, webhook_url: str) -> list[str]:
    now = utcnow()
    rows = [
        dict(
            id=new_job_id(),
            tenant_id=tenant_id,
            status="queued",
            model="gpt-5.5",
            request_body={"model": "gpt-5.5", "input": f"job {i}"},
            request_hash="0" * 64,
            webhook_url=webhook_url,
            deadline_at=now + timedelta(hours=6),
            next_poll_at=now,
            state_history=[{"status": "queued", "at": now.isoformat()}],
            possibly_duplicated=False,
            submit_attempts=0,
            poll_count=0,
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    with engine.begin() as db:
        for start in range(0, n, 1000):
            db.execute(insert(Job), rows[start : start + 1000])
    return [r["id"] for r in rows]


def measure(jobs: int, lease: int) -> dict[str, Any]:
    with (
        infra.postgres_server() as pg,
        infra.fresh_database(pg) as db_url,
        infra.redis_server(require_real=True) as redis_url,
        start_simulator(queued_seconds=0.1, run_seconds=1.0) as sim,
    ):
        migrate.upgrade(db_url)
        engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
        tenant_id = f"ten_{uuid.uuid4().hex[:12]}"
        with engine.begin() as db:
            db.execute(insert(Tenant).values(id=tenant_id, name=f"bench-{tenant_id}"))
        receiver = Receiver()
        env = {"LONGHAUL_LEASE_SECONDS": str(lease)}
        with running_stack(db_url, redis_url, sim.url, extra_env=env) as stack:
            watcher = Messages(redis_url)
            watcher.start()
            time.sleep(0.5)
            started = time.monotonic()
            ids = add_jobs(engine, tenant_id, jobs, receiver.url)

            def finished() -> bool:
                with engine.connect() as db:
                    open_jobs = db.scalar(
                        select(func.count()).where(Job.id.in_(ids), Job.finished_at.is_(None))
                    )
                    pending = db.scalar(
                        select(func.count()).where(WebhookDelivery.status == "pending")
                    )
                return open_jobs == 0 and pending == 0

            wait_for(finished, 1800, interval=1, what="every job and delivery")
            elapsed = time.monotonic() - started
            time.sleep(2)  # late duplicates would show now
            watcher.stopped.set()
            stack.stop_all()
        receiver.close()
        with engine.connect() as db:
            polls = db.scalar(select(func.sum(Job.poll_count)).where(Job.id.in_(ids))) or 0
            creates = db.scalar(select(func.sum(Job.submit_attempts)).where(Job.id.in_(ids))) or 0
            attempts = db.scalar(select(func.sum(WebhookDelivery.attempts))) or 0
            statuses = dict(
                db.execute(
                    select(Job.status, func.count()).where(Job.id.in_(ids)).group_by(Job.status)
                ).all()
            )
        engine.dispose()
    e = watcher.entries
    least = {"submit": jobs, "poll": polls, "finalize": jobs, "deliver": attempts}
    out: dict[str, Any] = {"jobs": jobs, "lease_seconds": lease, "seconds": round(elapsed, 1)}
    out["statuses"] = statuses
    out["messages"] = dict(watcher.messages)
    out["create_attempts"] = creates
    for step, minimum in least.items():
        got = sum(e.get(step, Counter()).values())
        out[step] = {
            "entries": got,
            "least": minimum,
            "ratio": round(got / minimum, 3) if minimum else None,
            "most_for_one": max(e.get(step, Counter()).values(), default=0),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--lease", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.jobs, args.lease)))


if __name__ == "__main__":
    main()

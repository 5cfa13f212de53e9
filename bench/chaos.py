"""The chaos suite (`make chaos`, about 15 minutes; not part of `make test`).

Every scenario runs the real stack in processes (API, a jobs worker, a webhooks worker, beat;
``tests/support/stack.py``) on a PostgreSQL and a redis-server this run starts and owns, with
the simulator behind a TCP chaos proxy (``tests/support/chaos_proxy.py``) as upstream and
loopback webhook receivers. Each round submits jobs with the official SDK, injects its fault, and
waits for every job to end; a process that exits is started again, as a deployment's supervisor
does. Scenarios:

- ``baseline``: no fault (its p99 latency is the reference for "latency inflation");
- ``kill-submit`` / ``kill-poll`` / ``kill-finalize``: the jobs worker SIGKILLed (process group)
  while jobs are in ``submitting`` / being polled / in ``finalizing``, then started again;
- ``kill-deliver``: the webhooks worker SIGKILLed while receivers hold its POSTs;
- ``redis-loss``: redis-server SIGKILLed (no persistence) and started again empty;
- ``pg-restart``: this run's PostgreSQL stopped (fast shutdown) and started again;
- ``storm``: the proxy cuts connections before forwarding, after the upstream answered
  (created, never heard of), or delays them;
- ``receivers``: 8 receivers that hang and 4 that answer 503 + ``Retry-After`` beside the jobs;
- ``two-beats``: a second beat; the leader SIGKILLed.

The table: rounds, jobs, lost (not ``completed``), unflagged duplicates (the simulator created
more than one response for a job that is not ``possibly_duplicated``), duplicate ledger lines,
events per job, duplicate deliveries (a receiver answered 2xx twice for one event; a kill cut
after the answer makes one legitimately), early retries (an attempt before its scheduled time or
the receiver's ``Retry-After``), recovery seconds (from the fault's end to the next job state
change; kills: the killed process is started again at once, so its boot is included;
redis-loss: to the first job submitted after Redis is back; two-beats: to the spare holding the
lock), latency inflation (p99 of created to finished over the baseline's).

    .venv/bin/python -m bench.chaos                  # every scenario
    .venv/bin/python -m bench.chaos --only storm,redis-loss --rounds 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import openai
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from longhaul.core import migrate
from longhaul.simulator import start_simulator
from tests.support import infra
from tests.support.chaos_proxy import ChaosProxy, Faults
from tests.support.receivers import Receiver, receivers
from tests.support.stack import Stack, running_stack, wait_for

SCHEDULE = [0, 1, 1, 2, 2]  # webhook retries, seconds
RETRY_AFTER = 3  # what the failing receivers ask for
ENV = {
    "LONGHAUL_WEBHOOK_SCHEDULE_SECONDS": json.dumps(SCHEDULE),
    "LONGHAUL_WEBHOOK_READ_TIMEOUT": "4",
    "LONGHAUL_WEBHOOK_CONNECT_TIMEOUT": "2",
    "LONGHAUL_UPSTREAM_TIMEOUT_SECONDS": "5",
    "LONGHAUL_SUBMIT_MAX_ATTEMPTS": "20",
}
TERMINAL = ("completed", "failed", "cancelled", "incomplete")


class RedisProcess:
    """A redis-server this run owns: killed and started again empty on the same port."""

    def __init__(self, workdir: str) -> None:
        self.port, self.workdir = infra.free_port(), workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "the chaos suite needs redis-server on PATH"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        infra.wait_for_port("127.0.0.1", self.port)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


class PostgresProcess:
    """An embedded PostgreSQL this run owns (never the machine's own server)."""

    def __init__(self, workdir: str) -> None:
        self.data = Path(workdir) / "pg"
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        from longhaul.cli.embedded import launch_postgres

        self.url, self.proc = launch_postgres(self.data, port=self.port)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            self.proc.wait(60)


@dataclass
class Row:
    scenario: str
    rounds: int = 0
    jobs: int = 0
    lost: int = 0
    unflagged_duplicates: int = 0
    duplicate_ledger_lines: int = 0
    events_per_job: str = ""
    duplicate_deliveries: int = 0
    early_retries: int = 0
    recovery_s: list[float] = field(default_factory=list)
    p99_s: float = 0.0
    inflation: float | None = None
    restarts: int = 0
    duplicated: int = 0  # jobs the upstream holds more than one response for
    flagged: int = 0  # jobs flagged possibly_duplicated
    gaps_checked: int = 0  # pairs of consecutive delivery attempts checked for early retries
    notes: str = ""


@dataclass
class Ctx:
    """One scenario's stack and what it watches."""

    stack: Stack
    engine: Engine
    client: openai.OpenAI
    api_key: str
    sim: Any
    proxy: ChaosProxy
    receiver: Receiver
    redis: RedisProcess
    pg: PostgresProcess
    ids: list[str] = field(default_factory=list)
    restarts: int = 0
    extra_duplicates: int = 0  # 2xx answered twice by a scenario's own receiver

    def submit(self, n: int, sim: str = "slow:1", webhook: str | None = None) -> list[str]:
        made = []
        for i in range(n):
            made.append(
                self.client.responses.create(
                    model="gpt-5.5",
                    input=f"chaos {uuid.uuid4().hex[:6]} {i}",
                    background=True,
                    metadata={"longhaul_sim": sim} if sim else None,
                    extra_body={"webhook": {"url": webhook or self.receiver.url}},
                ).id
            )
        self.ids += made
        return made

    def count(self, where: str) -> int:
        try:
            with self.engine.connect() as db:
                return int(
                    db.scalar(
                        text(f"SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND {where}"),
                        {"ids": self.ids},
                    )
                    or 0
                )
        except Exception:  # PostgreSQL is what the fault took away
            return -1

    def supervise(self) -> None:
        """Start again any worker or beat that exited (as compose or Kubernetes would)."""
        for name, proc in list(self.stack.procs.items()):
            if name == "api" or proc.popen.poll() is None:
                continue
            self.restarts += 1
            args = [a for a in proc.popen.args[3:]]  # type: ignore[index]
            self.stack.start(name, *args)

    def wait_all_ended(self, timeout: float = 180) -> None:
        def ended() -> bool:
            self.supervise()
            done = self.count(f"status IN {TERMINAL}")
            return done == len(self.ids)

        wait_for(ended, timeout, interval=0.5, what="every job to end")
        pending = "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"

        def delivered() -> bool:
            self.supervise()
            with self.engine.connect() as db:
                return db.scalar(text(pending)) == 0

        wait_for(delivered, timeout, interval=0.5, what="every delivery to settle")

    def recovery(self, since: float, what: str = "updated_at", timeout: float = 120) -> float:
        """Seconds from ``since`` (epoch) until a job of this scenario next changes."""
        stamp = datetime.fromtimestamp(since).astimezone()

        def moved() -> bool:
            self.supervise()
            try:
                with self.engine.connect() as db:
                    return bool(
                        db.scalar(
                            text(f"SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND {what} > :t"),
                            {"ids": self.ids, "t": stamp},
                        )
                    )
            except Exception:
                return False

        wait_for(moved, timeout, interval=0.05, what="work to resume")
        return round(time.time() - since, 2)

    def kill(self, name: str) -> None:
        """SIGKILL a process group and start the same command again at once."""
        proc = self.stack.procs[name]
        args = list(proc.popen.args[3:])  # type: ignore[index]
        proc.kill(signal.SIGKILL)
        self.stack.start(name, *args)


# Scenarios: each round's fault. Returns the recovery seconds it measured (or None).
Fault = Callable[[Ctx], float | None]


def no_fault(ctx: Ctx) -> float | None:
    ctx.submit(6)
    return None


def _kill_when(ctx: Ctx, name: str, where: str, timeout: float = 60) -> float:
    wait_for(lambda: ctx.count(where) > 0, timeout, interval=0.02, what=where)
    ctx.kill(name)
    return ctx.recovery(time.time())


def kill_submit(ctx: Ctx) -> float | None:
    ctx.proxy.faults = Faults(delay=1.0, delay_seconds=0.8)  # creates take a while
    ctx.submit(6)
    try:
        return _kill_when(ctx, "worker", "status = 'submitting'")
    finally:
        ctx.proxy.faults = Faults()


def kill_poll(ctx: Ctx) -> float | None:
    ctx.submit(6, sim="slow:3")
    wait_for(lambda: ctx.count("status = 'in_progress' AND poll_count > 0") > 0, 60,
             interval=0.05, what="polls")  # fmt: skip
    ctx.proxy.faults = Faults(delay=1.0, delay_seconds=0.8)  # polls take a while
    try:
        time.sleep(1.0)
        ctx.kill("worker")
        return ctx.recovery(time.time())
    finally:
        ctx.proxy.faults = Faults()


def kill_finalize(ctx: Ctx) -> float | None:
    ctx.proxy.faults = Faults(delay=1.0, delay_seconds=0.5)  # file downloads take a while
    ctx.submit(4, sim="files:3")
    try:
        return _kill_when(ctx, "worker", "status = 'finalizing'", timeout=90)
    finally:
        ctx.proxy.faults = Faults()


def kill_deliver(ctx: Ctx) -> float | None:
    slow = Receiver(delay=1.5)
    try:
        ctx.submit(4, webhook=slow.url)
        wait_for(lambda: slow.received > 0, 60, interval=0.02, what="a POST in flight")
        ctx.kill("worker-webhooks")
        since = time.time()
        wait_for(lambda: sum(slow.answered_ok.values()) >= 4, 60, interval=0.1,
                 what="the deliveries after the kill")  # fmt: skip
        ctx.wait_all_ended()
        return round(time.time() - since, 2)
    finally:
        ctx.extra_duplicates += sum(c - 1 for c in slow.answered_ok.values() if c > 1)
        slow.close()


def redis_loss(ctx: Ctx) -> float | None:
    ctx.submit(8, sim="slow:3")
    wait_for(lambda: ctx.count("status = 'in_progress'") > 0, 60, what="jobs in flight")
    ctx.redis.kill()
    late = ctx.submit(2)  # the intake keeps taking jobs (they wait in PostgreSQL)
    time.sleep(3)
    ctx.redis.start()  # empty: no queued or unacked messages, no beat lock
    return _until_submitted(ctx, late, time.time())


def _until_submitted(ctx: Ctx, late: list[str], since: float) -> float:
    where = f"id IN ('{late[0]}', '{late[1]}') AND status <> 'queued'"

    def moved() -> bool:
        ctx.supervise()
        return ctx.count(where) > 0

    wait_for(moved, 120, interval=0.05, what="a job submitted after the fault")
    return round(time.time() - since, 2)


def pg_restart(ctx: Ctx) -> float | None:
    ctx.submit(8, sim="slow:3")
    wait_for(lambda: ctx.count("status = 'in_progress'") > 0, 60, what="jobs in flight")
    ctx.engine.dispose()
    ctx.pg.stop()
    time.sleep(3)
    ctx.pg.start()
    return ctx.recovery(time.time())


def storm(ctx: Ctx) -> float | None:
    ctx.proxy.faults = Faults(cut_before=0.1, cut_after=0.1, delay=0.1, delay_seconds=2.0)
    try:
        ctx.submit(12, sim="slow:1")
        ctx.wait_all_ended(300)
    finally:
        ctx.proxy.faults = Faults()
    return None


def bad_receivers(ctx: Ctx) -> float | None:
    with (
        receivers(8, hang=True) as hanging,
        receivers(4, status=503, retry_after=str(RETRY_AFTER)) as failing,
    ):
        for r in [*hanging, *failing]:
            ctx.submit(1, webhook=r.url)
        ctx.submit(8)  # the jobs whose latency counts (to the healthy receiver)
        wait_for(lambda: ctx.count(f"status IN {TERMINAL}") == len(ctx.ids), 180, interval=0.5,
                 what="the jobs")  # fmt: skip
        time.sleep(sum(SCHEDULE) + RETRY_AFTER * len(SCHEDULE))  # let the failing ones retry
    return None


def two_beats(ctx: Ctx) -> float | None:
    """Recovery: from the leader's death to the spare's "Acquired lock" (queued sweep messages
    may still run a while after the death, so job progress alone would flatter it)."""
    if "beat-2" not in ctx.stack.procs:
        ctx.stack.start("beat-2", "beat")
        time.sleep(3)
    leader = _beat_leader(ctx)
    spare = "beat-2" if leader == "beat" else "beat"
    before = _acquired(ctx, spare)
    ctx.stack.procs[leader].kill(signal.SIGKILL)
    since = time.time()
    wait_for(lambda: _acquired(ctx, spare) > before, 120, interval=0.05, what="the spare's lock")
    took = round(time.time() - since, 2)
    late = ctx.submit(2)
    _until_submitted(ctx, late, time.time())  # and it schedules; the supervisor restarts the dead
    return took


def _acquired(ctx: Ctx, name: str) -> int:
    return ctx.stack.procs[name].log.read_text(errors="replace").count("Acquired lock")


def _beat_leader(ctx: Ctx) -> str:
    """The live beat that took RedBeat's lock last ("beat: Acquired lock" in its log)."""
    latest: dict[str, str] = {}
    for name in ("beat", "beat-2"):
        proc = ctx.stack.procs[name]
        if proc.popen.poll() is not None:
            continue
        stamps = [line[1:24] for line in proc.log.read_text(errors="replace").splitlines()
                  if "Acquired lock" in line and line.startswith("[")]  # fmt: skip
        if stamps:
            latest[name] = stamps[-1]
    return max(latest, key=lambda n: latest[n]) if latest else "beat"


SCENARIOS: dict[str, tuple[Fault, int]] = {  # name: (fault, default rounds)
    "baseline": (no_fault, 2),
    "kill-submit": (kill_submit, 3),
    "kill-poll": (kill_poll, 3),
    "kill-finalize": (kill_finalize, 3),
    "kill-deliver": (kill_deliver, 3),
    "redis-loss": (redis_loss, 2),
    "pg-restart": (pg_restart, 2),
    "storm": (storm, 2),
    "receivers": (bad_receivers, 1),
    "two-beats": (two_beats, 2),
}


@contextmanager
def scenario_stack(pg: PostgresProcess, rds: RedisProcess, sim: Any, proxy: ChaosProxy,
                   receiver: Receiver) -> Iterator[Ctx]:  # fmt: skip
    name = f"chaos_{uuid.uuid4().hex[:10]}"
    from longhaul.cli.embedded import ensure_database

    db_url = ensure_database(pg.url, name)
    migrate.upgrade(db_url)
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1),
                           pool_pre_ping=True)  # fmt: skip
    from longhaul.core.auth import create_api_key
    from longhaul.core.db import session_scope

    with session_scope(db_url) as session:
        key = create_api_key(session, tenant_name=f"chaos-{uuid.uuid4().hex[:8]}")
    upstream = f"http://127.0.0.1:{proxy.port}/v1"
    env = {**ENV, "LONGHAUL_OPENAI_API_KEY": "sk-chaos"}
    with running_stack(db_url, rds.url, upstream, extra_env=env) as stack:
        client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=3)
        yield Ctx(stack, engine, client, key, sim, proxy, receiver, rds, pg)
    engine.dispose()


def measure(ctx: Ctx, row: Row) -> None:
    with ctx.engine.connect() as db:
        ids = {"ids": ctx.ids}
        rows = db.execute(
            text("SELECT id, status, possibly_duplicated, "
                 "extract(epoch from finished_at - created_at) AS took "
                 "FROM jobs WHERE id = ANY(:ids)"), ids).all()  # fmt: skip
        row.jobs += len(rows)
        row.lost += sum(1 for r in rows if r.status != "completed")
        flagged = {r.id for r in rows if r.possibly_duplicated}
        latencies = sorted(float(r.took) for r in rows if r.took is not None)
        if latencies:
            row.p99_s = round(
                latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))], 2
            )
        row.duplicate_ledger_lines += int(db.scalar(text(
            "SELECT count(*) FROM (SELECT job_id, item FROM ledger_lines WHERE job_id = ANY(:ids) "
            "GROUP BY 1, 2 HAVING count(*) > 1) d"), ids) or 0)  # fmt: skip
        events = db.execute(text(
            "SELECT j.id, count(e.id) FROM jobs j LEFT JOIN webhook_events e ON e.job_id = j.id "
            "WHERE j.id = ANY(:ids) GROUP BY j.id"), ids).all()  # fmt: skip
        counts = sorted({int(c) for _, c in events})
        row.events_per_job = "/".join(map(str, counts))
        attempts = db.execute(text(
            "SELECT a.delivery_id, a.number, a.started_at, a.latency_ms, a.status_code "
            "FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
            "JOIN webhook_events e ON e.id = d.event_id WHERE e.job_id = ANY(:ids) "
            "ORDER BY a.delivery_id, a.number"), ids).all()  # fmt: skip
    previous: Any = None
    for a in attempts:
        if previous is not None and previous.delivery_id == a.delivery_id:
            ended = previous.started_at.timestamp() + (previous.latency_ms or 0) / 1000
            wait = SCHEDULE[min(previous.number, len(SCHEDULE) - 1)]
            if previous.status_code in (429, 502, 503, 504):
                wait = max(wait, RETRY_AFTER)
            row.gaps_checked += 1
            if a.started_at.timestamp() < ended + wait - 0.05:
                row.early_retries += 1
        previous = a
    per_job: dict[str, int] = {}
    with ctx.sim.state.lock:
        for record in ctx.sim.state.responses.values():
            job_id = (record.body.get("metadata") or {}).get("longhaul_job_id")
            if job_id:
                per_job[job_id] = per_job.get(job_id, 0) + 1
    row.unflagged_duplicates += sum(
        1 for j in ctx.ids if per_job.get(j, 0) > 1 and j not in flagged
    )
    row.duplicated += sum(1 for j in ctx.ids if per_job.get(j, 0) > 1)
    row.flagged += len(flagged)
    row.duplicate_deliveries += sum(c - 1 for c in ctx.receiver.answered_ok.values() if c > 1)
    row.duplicate_deliveries += ctx.extra_duplicates


def run(names: list[str], rounds: int | None) -> list[Row]:
    rows: list[Row] = []
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="longhaul-chaos-"))
        pg = PostgresProcess(tmp)
        pg.start()
        stack.callback(pg.stop)
        rds = RedisProcess(tmp)
        rds.start()
        stack.callback(rds.kill)
        sim = stack.enter_context(start_simulator(queued_seconds=0.2, run_seconds=1.0))
        proxy = stack.enter_context(ChaosProxy("127.0.0.1", sim.port))
        for name in names:
            fault, default_rounds = SCENARIOS[name]
            row = Row(name)
            started = time.monotonic()
            try:
                with (
                    receivers(1) as (receiver,),
                    scenario_stack(pg, rds, sim, proxy, receiver) as ctx,
                ):
                    try:
                        for _ in range(rounds or default_rounds):
                            row.rounds += 1
                            took = fault(ctx)
                            if took is not None:
                                row.recovery_s.append(took)
                            ctx.wait_all_ended()
                        measure(ctx, row)
                    except Exception as exc:
                        row.notes = f"{type(exc).__name__}: {exc}"[:200]
                        print(ctx.stack.logs()[-6000:])
                    row.restarts = ctx.restarts
            except Exception as exc:  # the stack did not start: say so, go on
                row.notes = f"stack: {type(exc).__name__}: {exc}"[:200]
                if rds.proc is None or rds.proc.poll() is not None:
                    rds.start()
            base = next((r for r in rows if r.scenario == "baseline"), None)
            if base and base.p99_s:
                row.inflation = round(row.p99_s / base.p99_s, 2)
            rows.append(row)
            print(json.dumps({**row.__dict__, "seconds": round(time.monotonic() - started)}),
                  flush=True)  # fmt: skip
    return rows


def table(rows: list[Row]) -> str:
    head = ["scenario", "rounds", "jobs", "lost", "unflagged dup (dup / flagged)", "dup ledger",
            "events/job", "dup deliveries", "early retries (gaps)", "recovery s", "p99 s",
            "inflation", "restarts"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        recovery = "/".join(f"{s:g}" for s in r.recovery_s) or "-"
        cells = [r.scenario, r.rounds, r.jobs, r.lost,
                 f"{r.unflagged_duplicates} ({r.duplicated} / {r.flagged})",
                 r.duplicate_ledger_lines, r.events_per_job, r.duplicate_deliveries,
                 f"{r.early_retries} ({r.gaps_checked})", recovery, r.p99_s, r.inflation or "-",
                 r.restarts]  # fmt: skip
        lines.append("| " + " | ".join(map(str, cells)) + " |")
        if r.notes:
            lines.append(f"|   ↳ {r.notes} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--rounds", type=int, help="rounds per scenario (default: its own)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SCENARIOS)
    if "baseline" not in names:
        names.insert(0, "baseline")
    rows = run(names, args.rounds)
    print(table(rows))


if __name__ == "__main__":
    main()

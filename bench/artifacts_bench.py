"""Benchmark: archive one large container file from the simulator to each storage backend.

For each backend a fresh worker-like subprocess runs the real ``archive_job_artifacts`` (SDK
streaming download → sha256 → storage) and reports wall time and its peak RSS growth: the
kernel's high-water mark ``VmHWM``, reset just before the run, minus the RSS at that moment.
A plain streaming copy (HTTP GET → local file, 1 MiB chunks, no hashing) of the same file is
measured the same way in the same run, as the yardstick.

    .venv/bin/python bench/artifacts_bench.py                  # 1 GiB, local + S3 (moto)
    .venv/bin/python bench/artifacts_bench.py --size 104857600 --backends local

Needs PostgreSQL: ``--database-url`` or ``LONGHAUL_TEST_DATABASE_URL`` (a server URL; a scratch
database is created and dropped). S3 is moto's server mode in its own subprocess on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GIB = 1024**3
ROOT = Path(__file__).resolve().parents[1]


# --- child side: one measured run --------------------------------------------------------


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark (Linux ``clear_refs``), so a transient peak from
    setup (e.g. loading the CA bundle for the HTTP client) is not charged to the archive."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import hashlib

    import httpx2
    import openai

    result: dict[str, Any] = {"mode": spec["mode"]}
    if spec["mode"] == "copy":
        target = Path(spec["target"])
        client = httpx2.Client(timeout=httpx2.Timeout(600, connect=5))
        baseline = _rss()
        result["peak_reset"] = _reset_peak()
        started = time.perf_counter()
        with client.stream("GET", spec["url"], headers={"Authorization": "Bearer sk-bench"}) as r:
            r.raise_for_status()
            with target.open("wb") as out:
                for chunk in r.iter_bytes(1024 * 1024):
                    out.write(chunk)
        result.update(seconds=time.perf_counter() - started, size=target.stat().st_size)
        target.unlink()
    else:
        from sqlalchemy import select

        from longhaul.core.artifacts.service import archive_job_artifacts
        from longhaul.core.db import session_factory
        from longhaul.core.models import Job, Tenant, utcnow
        from longhaul.core.models.artifacts import Artifact
        from longhaul.core.storage import storage_from_url

        response = json.loads(Path(spec["response"]).read_text())
        storage = storage_from_url(spec["storage_url"])
        upstream = openai.OpenAI(base_url=spec["sim_url"], api_key="sk-bench", max_retries=0)
        session = session_factory(spec["database_url"])()
        tenant = Tenant(id=f"ten_{uuid.uuid4().hex[:12]}", name=f"bench-{uuid.uuid4().hex}")
        session.add(tenant)
        session.flush()
        job = Job(
            id=f"resp_lh_{uuid.uuid4().hex}",
            tenant_id=tenant.id,
            status="finalizing",
            model="gpt-5.5",
            request_body={},
            request_hash="0" * 64,
            deadline_at=utcnow(),
        )
        session.add(job)
        session.commit()
        baseline = _rss()
        result["peak_reset"] = _reset_peak()
        started = time.perf_counter()
        archive_job_artifacts(session, job, response, upstream=upstream, storage=storage)
        seconds = time.perf_counter() - started
        [row] = session.scalars(select(Artifact).where(Artifact.job_id == job.id)).all()
        result.update(
            seconds=seconds, size=row.size, sha256=row.sha256, status=row.status, error=row.error
        )
        # Independent check of what was stored: read it back and hash it.
        digest = hashlib.sha256()
        with storage.open(row.storage_key) as stream:
            for chunk in stream:
                digest.update(chunk)
        result["readback_sha256_ok"] = digest.hexdigest() == row.sha256
        storage.delete(row.storage_key)
        session.close()
    result["baseline_rss_mb"] = baseline / 2**20
    result["peak_rss_growth_mb"] = max(0, _peak_rss() - baseline) / 2**20
    size = result.get("size") or 0
    result["throughput_mb_s"] = size / 2**20 / result["seconds"] if result["seconds"] else 0.0
    return result


# --- parent side -------------------------------------------------------------------------


def run_child(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=3600,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    from longhaul.core import migrate

    base = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = base.set(drivername="postgresql", database=base.database or "postgres")
    dsn = admin.render_as_string(hide_password=False)
    name = f"longhaul_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def moto_subprocess() -> Iterator[str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


def finished_response(sim_url: str, size: int) -> dict[str, Any]:
    import openai

    client = openai.OpenAI(base_url=sim_url, api_key="sk-bench", max_retries=0)
    created = client.responses.create(
        model="gpt-5.5",
        input="write a large file",
        background=True,
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        metadata={"longhaul_sim": f"files:1,filesize:{size}"},
    )
    for _ in range(600):
        raw = client.responses.with_raw_response.retrieve(created.id).http_response.json()
        if raw["status"] not in ("queued", "in_progress"):
            return raw  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise TimeoutError("simulator response did not finish")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=GIB, help="bytes of the container file")
    parser.add_argument("--backends", default="local,s3")
    parser.add_argument("--database-url", default=os.environ.get("LONGHAUL_TEST_DATABASE_URL"))
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if not args.database_url:
        parser.error("PostgreSQL needed: --database-url or LONGHAUL_TEST_DATABASE_URL")

    from longhaul.simulator import start_simulator

    results = []
    work = Path(tempfile.mkdtemp(prefix="longhaul-bench-"))
    env = dict(os.environ)
    try:
        with (
            start_simulator(queued_seconds=0.05, run_seconds=0.1) as sim,
            scratch_database(args.database_url) as db,
        ):
            response = finished_response(sim.url, args.size)
            response_file = work / "response.json"
            response_file.write_text(json.dumps(response))
            ci = next(i for i in response["output"] if i["type"] == "code_interpreter_call")
            cid = ci["container_id"]
            fid = next(
                a["file_id"]
                for i in response["output"]
                if i["type"] == "message"
                for p in i["content"]
                for a in p["annotations"]
            )
            url = f"{sim.url}/containers/{cid}/files/{fid}/content"
            copy = run_child({"mode": "copy", "url": url, "target": str(work / "copy.bin")}, env)
            results.append({"backend": "plain copy (HTTP GET -> file)", **copy})
            base_spec = {
                "mode": "archive",
                "response": str(response_file),
                "sim_url": sim.url,
                "database_url": db,
            }
            if "local" in args.backends:
                spec = {**base_spec, "storage_url": f"file://{work / 'store'}"}
                results.append({"backend": "LocalStorage", **run_child(spec, env)})
            if "s3" in args.backends:
                with moto_subprocess() as endpoint:
                    from longhaul.core.storage.factory import s3_client

                    creds = {
                        "LONGHAUL_S3_ENDPOINT_URL": endpoint,
                        "LONGHAUL_S3_REGION": "us-east-1",
                        "LONGHAUL_S3_ACCESS_KEY_ID": "bench",
                        "LONGHAUL_S3_SECRET_ACCESS_KEY": "bench",
                    }
                    s3_client(
                        endpoint_url=endpoint,
                        region="us-east-1",
                        access_key_id="bench",
                        secret_access_key="bench",
                    ).create_bucket(Bucket="bench")
                    spec = {**base_spec, "storage_url": "s3://bench/artifacts"}
                    results.append(
                        {"backend": "S3Storage (moto)", **run_child(spec, {**env, **creds})}
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    base = results[0]["throughput_mb_s"]
    print(f"file: {args.size / 2**20:.0f} MiB from the simulator; RSS growth = peak - RSS before")
    print(f"{'backend':34} {'seconds':>8} {'MiB/s':>8} {'vs copy':>8} {'RSS +MiB':>9}  ok")
    for r in results:
        ok = r.get("readback_sha256_ok", True) and r.get("status", "stored") == "stored"
        print(
            f"{r['backend']:34} {r['seconds']:8.2f} {r['throughput_mb_s']:8.1f} "
            f"{r['throughput_mb_s'] / base:8.2f} {r['peak_rss_growth_mb']:9.1f}  {ok}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

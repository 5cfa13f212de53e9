"""`docker-compose.yml` is valid Compose and every Longhaul command in it exists in the CLI.

No Docker engine runs here, so the file is checked against the Compose Specification's JSON
schema (vendored in tests/data, see compose-spec.README.md) and against `longhaul`'s own parser.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from longhaul.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def compose_validator() -> jsonschema.Draft201909Validator:
    """The schema declares draft 2019-09 (by an old URI jsonschema does not know)."""
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    return jsonschema.Draft201909Validator(schema)


def longhaul_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        n: s for n, s in compose["services"].items() if s.get("image", "").startswith("longhaul")
    }


def test_compose_file_follows_the_specification(compose: dict[str, Any]) -> None:
    errors = sorted(compose_validator().iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_rejects_a_broken_file(compose: dict[str, Any]) -> None:
    """The check above can fail: a misspelt key is refused."""
    broken = {**compose, "services": {**compose["services"], "api": {"imgae": "x"}}}
    assert not compose_validator().is_valid(broken)


def test_the_stack_has_every_part(compose: dict[str, Any]) -> None:
    names = set(compose["services"])
    assert {"api", "beat", "flower", "postgres", "redis", "minio", "migrate"} <= names


def test_a_worker_per_work_class_covers_every_queue(compose: dict[str, Any]) -> None:
    from longhaul.core.messages import QUEUES

    parser = build_parser()
    workers = {n: s for n, s in compose["services"].items() if n.startswith("worker-")}
    assert len(workers) >= 3
    consumed = [parser.parse_args(s["command"]).queues.split(",") for s in workers.values()]
    flat = [q for queues in consumed for q in queues]
    assert sorted(flat) == sorted(QUEUES)  # each queue has exactly one class


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            continue  # one-shot steps (migrate, bucket creation)
        assert "healthcheck" in service, name


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: {image}"
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert base and re.search(r":\d+\.\d+\.\d+", base.group(1)), "pin the base image"


def test_the_image_gets_runtime_dependencies_only() -> None:
    check = subprocess.run([sys.executable, str(ROOT / "scripts/runtime_lock.py")],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout
    runtime = (ROOT / "deploy/requirements.runtime.lock").read_text()
    names = {line.split("==")[0] for line in runtime.splitlines() if "==" in line}
    assert {"celery", "fastapi", "structlog", "prometheus-fastapi-instrumentator"} <= names
    assert not names & {"pytest", "ruff", "mypy", "moto", "playwright", "kubernetes-validate"}
    locked = (ROOT / "requirements.lock").read_text().splitlines()
    assert all(line in locked for line in runtime.splitlines() if "==" in line)
    assert "COPY deploy/requirements.runtime.lock" in (ROOT / "deploy/Dockerfile").read_text()


def test_dockerignore_keeps_the_context_small() -> None:
    rules = (ROOT / ".dockerignore").read_text().splitlines()
    assert rules[rules.index("*")] == "*"  # everything out, then only what the image copies
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "deploy/Dockerfile").read_text(), flags=re.M)
    for sources in copied:
        for source in sources.split():
            assert source.rstrip("/") in allowed, source


def test_every_longhaul_command_exists_in_the_cli(compose: dict[str, Any]) -> None:
    services = longhaul_services(compose)
    assert len(services) >= 5
    parser = build_parser()
    for name, service in services.items():
        command = service["command"]
        assert isinstance(command, list), f"{name}: use the exec form"
        args = parser.parse_args(command)  # SystemExit (a test failure) on an unknown command
        assert callable(args.func), name


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dep, rule in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"
    workers = [n for n in services if n.startswith("worker-")]
    for name in ("api", "beat", *workers):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_redis_keeps_messages(compose: dict[str, Any]) -> None:
    """AOF on, no eviction (queued messages survive a restart): the mounted config says so."""
    redis = compose["services"]["redis"]
    mount = next(v for v in redis["volumes"] if v.endswith("redis.conf:ro"))
    conf = (ROOT / mount.split(":")[0]).read_text().splitlines()
    settings = dict(line.split(None, 1) for line in conf if line and not line.startswith("#"))
    assert settings["appendonly"] == "yes"
    assert settings["maxmemory-policy"] == "noeviction"
    assert conf and redis["command"][-1].endswith("redis.conf")


def test_dockerfile_builds_the_image_compose_uses(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert 'ENTRYPOINT ["longhaul"]' in dockerfile
    assert "requirements.runtime.lock" in dockerfile
    for service in longhaul_services(compose).values():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"

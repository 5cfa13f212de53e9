"""`docker-compose.yml` is valid Compose and every Longhaul command in it exists in the CLI.

No Docker engine runs here, so the file is checked against the Compose Specification's JSON
schema (vendored in tests/data, see compose-spec.README.md) and against `longhaul`'s own parser.
"""

from __future__ import annotations

import json
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
    assert {"api", "worker", "beat", "flower", "postgres", "redis", "minio", "migrate"} <= names


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
    for name in ("api", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_redis_keeps_messages(compose: dict[str, Any]) -> None:
    """AOF on and no eviction (reliability.md §1.7): the mounted config says so."""
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
    assert "requirements.lock" in dockerfile
    for service in longhaul_services(compose).values():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"

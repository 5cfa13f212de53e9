"""Upstreams as data, end to end below the worker: admin API → job routed at intake → the
worker's steps reach the simulator on that upstream, with its key and auth style."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from longhaul.core import upstream
from longhaul.core.config import Settings
from longhaul.core.jobs.finalize import finalize_job
from longhaul.core.jobs.poll import poll_jobs
from longhaul.core.jobs.submit import submit_job, submit_jobs
from longhaul.core.models import Job, Upstream, utcnow
from longhaul.core.upstreams.clients import client_for_job
from longhaul.simulator import SimulatorHandle
from tests.integration.upstreams.conftest import sim_record, unique, wait_sim_terminal

VERSION = "2025-04-01-preview"
Tenants = Callable[[], tuple[str, dict[str, str]]]


def _submit(session: Session, job_id: str, settings: Settings) -> Job:
    client = client_for_job(session, job_id, settings=settings)
    submit_job(session, job_id, client=client, settings=settings)
    job = session.get(Job, job_id)
    assert job is not None
    session.refresh(job)
    assert job.status == "in_progress", job.last_error if hasattr(job, "last_error") else job
    return job


def _create(api: TestClient, auth: dict[str, str], **extra: Any) -> str:
    body = {"model": "gpt-5.5", "input": "hi", "background": True, **extra}
    r = api.post("/v1/responses", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def test_two_tenants_on_two_keys_each_reach_upstream_with_their_own(
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
    session: Session,
    settings: Settings,
) -> None:
    jobs = {}
    for secret in ("sk-tenant-a", "sk-tenant-b"):
        name, auth = new_tenant()
        upstream = unique("own")
        r = api.post(
            "/v1/admin/upstreams",
            headers=admin,
            json={"name": upstream, "base_url": sim.url, "api_key": secret, "tenant": name},
        )
        assert r.status_code == 200, r.text
        assert secret not in r.text and r.json()["has_api_key"] is True
        r = api.put(
            f"/v1/admin/tenants/{name}/upstream", headers=admin, json={"upstream": upstream}
        )
        assert r.status_code == 200 and r.json()["default_upstream"] == upstream
        jobs[secret] = _create(api, auth)

    for secret, job_id in jobs.items():
        job = _submit(session, job_id, settings)
        auth = sim_record(sim, str(job.upstream_response_id))["auth"]
        assert (auth["scheme"], auth["key"]) == ("bearer", secret)

    # Polling (async, batched) uses each job's own key too: with the simulator's per-key
    # visibility a wrong key would be a 404 and a failed job.
    for job_id in jobs.values():
        wait_sim_terminal(sim, str(session.get(Job, job_id).upstream_response_id))  # type: ignore[union-attr]
    finished = poll_jobs(session, list(jobs.values()), settings=settings)
    assert sorted(finished) == sorted(jobs.values())
    for job_id in jobs.values():
        job = session.get(Job, job_id)
        assert job is not None
        session.refresh(job)
        assert job.status == "finalizing" and job.upstream_status == "completed"


def test_a_job_names_an_azure_style_upstream(
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
    session: Session,
    settings: Settings,
) -> None:
    _, auth = new_tenant()
    name = unique("azure")
    r = api.post(
        "/v1/admin/upstreams",
        headers=admin,
        json={
            "name": name,
            "kind": "azure",
            "base_url": f"{sim.root_url}/openai?api-version={VERSION}",
            "api_key": "az-secret",
        },
    )
    assert r.status_code == 200, r.text
    view = r.json()
    # the query stays a query, not part of the path
    assert view["base_url"] == f"{sim.root_url}/openai" and view["query"] == {
        "api-version": VERSION
    }
    assert view["auth_style"] == "api-key"

    job_id = _create(api, auth, longhaul={"upstream": name})
    job = _submit(session, job_id, settings)
    record = sim_record(sim, str(job.upstream_response_id))
    assert record["auth"]["scheme"] == "api-key" and record["auth"]["key"] == "az-secret"
    assert record["auth"]["api_version"] == VERSION
    assert "longhaul" not in record["request"]  # the extension never goes upstream


def test_model_patterns_route_and_an_explicit_name_wins(
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
    session: Session,
    settings: Settings,
) -> None:
    _, auth = new_tenant()
    model = unique("routed-model")
    routed, other = unique("routed"), unique("other")
    for name in (routed, other):
        patterns = [model[:-3] + "*"] if name == routed else []
        r = api.post(
            "/v1/admin/upstreams",
            headers=admin,
            json={"name": name, "base_url": sim.url, "api_key": name, "model_patterns": patterns},
        )
        assert r.status_code == 200, r.text
    ids = {u.name: u.id for u in session.query(Upstream).filter(Upstream.name.in_([routed, other]))}
    by_pattern = session.get(Job, _create(api, auth, model=model))
    explicit = session.get(Job, _create(api, auth, model=model, longhaul={"upstream": other}))
    plain = session.get(Job, _create(api, auth, model="gpt-5.5"))
    assert by_pattern is not None and explicit is not None and plain is not None
    assert by_pattern.upstream_id == ids[routed]
    assert explicit.upstream_id == ids[other]
    assert plain.upstream_id is None  # the environment's upstream
    assert (
        sim_record(sim, str(_submit(session, by_pattern.id, settings).upstream_response_id))[
            "auth"
        ]["key"]
        == routed
    )


def test_admin_api_needs_the_admin_key_and_names_are_checked(
    api: TestClient, admin: dict[str, str], new_tenant: Tenants, sim: SimulatorHandle
) -> None:
    owner, _ = new_tenant()
    _, stranger = new_tenant()
    for method, path in (("get", "/v1/admin/upstreams"), ("post", "/v1/admin/secrets/rotate")):
        r = api.request(method.upper(), path, headers=stranger)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"

    private = unique("private")
    body = {"name": private, "base_url": sim.url, "api_key": "sk-own", "tenant": owner}
    assert api.post("/v1/admin/upstreams", headers=admin, json=body).status_code == 200
    again = api.post("/v1/admin/upstreams", headers=admin, json=body)
    assert again.status_code == 409

    # another tenant's own upstream is as unknown as a missing one, and nothing is queued
    for name in (private, "no-such-upstream"):
        r = api.post(
            "/v1/responses",
            headers=stranger,
            json={"model": "m", "input": "x", "background": True, "longhaul": {"upstream": name}},
        )
        assert r.status_code == 404, r.text
        assert r.json()["error"] == {
            "message": f"No upstream named {name!r}.",
            "type": "invalid_request_error",
            "param": "longhaul.upstream",
            "code": "upstream_not_found",
        }
    bad = api.post(
        "/v1/admin/upstreams",
        headers=admin,
        json={"name": unique("bad"), "base_url": "ftp://x", "api_key": "k"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "base_url"
    nokey = api.post(
        "/v1/admin/upstreams", headers=admin, json={"name": unique("nokey"), "base_url": sim.url}
    )
    assert nokey.status_code == 400 and nokey.json()["error"]["param"] == "api_key"


def test_an_upstream_with_running_jobs_cannot_be_removed(
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
    session: Session,
    settings: Settings,
) -> None:
    tenant, auth = new_tenant()
    name = unique("busy")
    body = {"name": name, "base_url": sim.url, "api_key": "sk-busy", "tenant": tenant}
    assert api.post("/v1/admin/upstreams", headers=admin, json=body).status_code == 200
    assert (
        api.put(
            f"/v1/admin/tenants/{tenant}/upstream", headers=admin, json={"upstream": name}
        ).status_code
        == 200
    )
    job_id = _create(api, auth)
    r = api.delete(f"/v1/admin/upstreams/{name}", headers=admin)
    assert r.status_code == 409, r.text
    assert api.post(f"/v1/responses/{job_id}/cancel", headers=auth).status_code == 200
    client = client_for_job(session, job_id, settings=settings)
    assert finalize_job(session, job_id, client=client, settings=settings) == "cancelled"
    r = api.delete(f"/v1/admin/upstreams/{name}", headers=admin)
    assert r.status_code == 200 and r.json()["deleted"] is True
    # its tenant is back on the environment's upstream
    listed = api.get("/v1/admin/upstreams", headers=admin).json()["data"]
    assert name not in {u["name"] for u in listed}


def test_rotate_keys_re_encrypts_every_secret(
    session: Session, settings: Settings, sim: SimulatorHandle, monkeypatch: Any
) -> None:
    from cryptography.fernet import Fernet

    from longhaul.core.config import get_settings
    from longhaul.core.upstreams import service
    from longhaul.core.upstreams.secrets import SecretBox

    name = unique("rot")
    data = service.UpstreamInput(
        name=name, base_url=sim.url, api_key="sk-rot", headers={"X-Extra": "h"}
    )
    row = service.add_upstream(session, data, settings=settings)
    session.commit()
    before = (row.api_key_secret, row.headers_secret)
    assert "sk-rot" not in str(before)

    new = Fernet.generate_key().decode()
    monkeypatch.setenv("LONGHAUL_SECRET_KEYS", f"{new},{settings.secret_keys[0]}")
    get_settings.cache_clear()
    assert service.rotate_secrets(session, settings=get_settings()) >= 1
    session.commit()
    session.refresh(row)
    assert (row.api_key_secret, row.headers_secret) != before
    only_new = SecretBox([new])
    assert only_new.decrypt(str(row.api_key_secret)) == "sk-rot"
    assert only_new.decrypt(str(row.headers_secret)) == '{"X-Extra": "h"}'
    # back under the session's key: rotation rewrites every row, other tests' too
    monkeypatch.setenv("LONGHAUL_SECRET_KEYS", f"{settings.secret_keys[0]},{new}")
    get_settings.cache_clear()
    service.rotate_secrets(session, settings=get_settings())
    session.commit()
    service.remove_upstream(session, name)
    session.commit()


def test_an_upstream_whose_secret_cannot_be_read_holds_back_only_its_own_jobs(
    api: TestClient,
    admin: dict[str, str],
    new_tenant: Tenants,
    sim: SimulatorHandle,
    session: Session,
    settings: Settings,
) -> None:
    """A secret encrypted under a key no longer in LONGHAUL_SECRET_KEYS makes that upstream
    unusable. In a poll or submit batch its jobs wait, as after a transient error; the batch's
    other jobs go on (before, the whole batch failed at every try)."""
    upstreams, jobs = {}, {}
    for label in ("good", "broken"):
        _, auth = new_tenant()
        upstreams[label] = unique(label)
        r = api.post(
            "/v1/admin/upstreams",
            headers=admin,
            json={"name": upstreams[label], "base_url": sim.url, "api_key": f"sk-{label}"},
        )
        assert r.status_code == 200, r.text
        jobs[label] = _create(api, auth, longhaul={"upstream": upstreams[label]})
    runner = upstream.AsyncUpstream(settings)
    submit_jobs(session, list(jobs.values()), settings=settings, runner=runner)
    for job_id in jobs.values():
        wait_sim_terminal(sim, str(session.get_one(Job, job_id).upstream_response_id))

    broken = session.execute(
        select(Upstream).where(Upstream.name == upstreams["broken"])
    ).scalar_one()
    broken.api_key_secret = Fernet(Fernet.generate_key()).encrypt(b"sk-broken").decode()
    broken.revision += 1
    session.commit()

    finished = poll_jobs(session, list(jobs.values()), settings=settings, runner=runner)
    assert finished == [jobs["good"]]
    waiting = session.get_one(Job, jobs["broken"])
    session.refresh(waiting)
    assert waiting.status == "in_progress" and waiting.lease_owner is None
    assert waiting.next_poll_at is not None and waiting.next_poll_at > utcnow() + timedelta(
        seconds=30
    )

    # A create on it waits too (back in line with the error), beside one that goes through.
    others = {
        label: _create(api, new_tenant()[1], longhaul={"upstream": upstreams[label]})
        for label in ("good", "broken")
    }
    submit_jobs(session, list(others.values()), settings=settings, runner=runner)
    sent, held = (session.get_one(Job, others[label]) for label in ("good", "broken"))
    session.refresh(sent)
    session.refresh(held)
    assert sent.status == "in_progress" and sent.upstream_response_id
    assert held.status == "queued" and held.upstream_response_id is None
    assert held.error and held.error["code"] == "upstream_secret_unavailable"
    assert upstreams["broken"] in held.error["message"]

"""`longhaul webhooks ...`: tenant signing secrets, a job's deliveries, redelivery."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from longhaul.core.models import Job


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    webhooks = sub.add_parser("webhooks", help="webhook secrets and deliveries")
    wsub = webhooks.add_subparsers(dest="webhooks_command", required=True)

    secret = wsub.add_parser("secret", help="the tenant's whsec_ signing secret")
    ssub = secret.add_subparsers(dest="secret_command", required=True)
    create = ssub.add_parser("create", help="create the tenant's first secret (printed)")
    create.add_argument("--tenant", required=True, help="tenant name")
    create.set_defaults(func=_secret_create)
    rotate = ssub.add_parser("rotate", help="new secret; the old one stays valid for the grace")
    rotate.add_argument("--tenant", required=True, help="tenant name")
    rotate.add_argument("--grace-seconds", type=int, default=None, help="override the setting")
    rotate.set_defaults(func=_secret_rotate)

    deliveries = wsub.add_parser("deliveries", help="show a job's deliveries and attempts")
    deliveries.add_argument("job_id")
    deliveries.add_argument("--json", action="store_true", help="print JSON")
    deliveries.set_defaults(func=_deliveries)

    again = wsub.add_parser("redeliver", help="send a job's final event again now")
    again.add_argument("job_id")
    again.set_defaults(func=_redeliver)


def _tenant_id(session: Session, name: str) -> str:
    from sqlalchemy import select

    from longhaul.core.models import Tenant

    tenant_id = session.execute(select(Tenant.id).where(Tenant.name == name)).scalar_one_or_none()
    if tenant_id is None:
        raise SystemExit(f"no tenant named {name!r}")
    return str(tenant_id)


def _secret_create(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.errors import Conflict
    from longhaul.core.webhooks.signing import create_secret

    try:
        with session_scope() as session:
            secret = create_secret(session, _tenant_id(session, args.tenant))
    except Conflict as exc:
        raise SystemExit(exc.message) from exc
    print(secret)
    return 0


def _secret_rotate(args: argparse.Namespace) -> int:
    from longhaul.core.config import get_settings
    from longhaul.core.db import session_scope
    from longhaul.core.webhooks.signing import rotate_secret

    grace = args.grace_seconds
    if grace is None:
        grace = get_settings().webhook_rotation_grace_seconds
    with session_scope() as session:
        secret = rotate_secret(session, _tenant_id(session, args.tenant), grace_seconds=grace)
    print(secret)
    return 0


def _job(session: Session, job_id: str) -> Job:
    from longhaul.core.models import Job

    job = session.get(Job, job_id)
    if job is None:
        raise SystemExit(f"no job {job_id}")
    return job


def _deliveries(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.webhooks.views import job_deliveries

    with session_scope() as session:
        _job(session, args.job_id)
        rows = job_deliveries(session, args.job_id)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no deliveries")
    for d in rows:
        print(f"{d['id']}  {d['event_type']}  {d['status']}  {d['url']}  (event {d['event_id']})")
        for a in d["attempts"]:
            outcome = a["status_code"] if a["status_code"] is not None else a["error"]
            print(f"    #{a['number']}  {a['started_at']}  {outcome}  {a['latency_ms']} ms")
        if d["next_attempt_at"]:
            print(f"    next attempt at {d['next_attempt_at']}")
    return 0


def _redeliver(args: argparse.Namespace) -> int:
    from longhaul.core.db import session_scope
    from longhaul.core.errors import Conflict
    from longhaul.core.webhooks.delivery import redeliver

    try:
        with session_scope() as session:
            ids = redeliver(session, _job(session, args.job_id))
    except Conflict as exc:
        raise SystemExit(exc.message) from exc
    print(f"{len(ids)} deliveries due now; the worker sends them within a second")
    return 0

"""Viewer routes: sign-in/out, jobs list, job page and its actions, files, usage, static files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from longhaul.api.deps import SessionDep
from longhaul.api.links import base_url
from longhaul.api.ui import charts, jobview, render, web
from longhaul.api.ui.web import page
from longhaul.core.artifacts.service import get_artifact
from longhaul.core.config import get_settings
from longhaul.core.costs import usage
from longhaul.core.costs.budgets import month_spend
from longhaul.core.errors import InvalidInput, NotFound, Unauthorized
from longhaul.core.jobs.lifecycle import ACTIVE, TERMINAL
from longhaul.core.storage import ObjectStream, get_storage
from longhaul.core.storage.names import content_disposition
from longhaul.core.viewer import browse, sessions
from longhaul.core.viewer.sessions import Viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
STATUSES = sorted(ACTIVE) + sorted(TERMINAL)


# --- sign-in ------------------------------------------------------------------------------
@router.get("")
@router.get("/")
def index() -> Response:
    return web.redirect("/ui/jobs")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/jobs"


@router.get("/login")
def login_form(request: Request, next: str | None = None, error: str | None = None) -> Response:
    token = web.login_token(request)
    response = web.html(
        request, "login.html", {"csrf": token, "next": _safe_next(next), "error": error}
    )
    response.set_cookie(
        web.LOGIN_COOKIE,
        token,
        path="/ui/login",
        httponly=True,
        samesite="strict",
        secure=web.secure(request),
        max_age=3600,
    )
    return response


@router.post("/login")
async def login(request: Request, session: SessionDep) -> Response:
    fields = await web.form(request)
    expected = request.cookies.get(web.LOGIN_COOKIE, "")
    target = _safe_next(fields.get("next"))
    if not expected or fields.get("csrf") != expected:
        return web.html(
            request,
            "login.html",
            {
                "csrf": web.login_token(request),
                "next": target,
                "error": "The sign-in form expired; try again.",
            },
            400,
        )
    try:
        token = await run_in_threadpool(sessions.sign_in, session, fields.get("key", ""))
    except Unauthorized:
        return web.html(
            request,
            "login.html",
            {"csrf": expected, "next": target, "error": "That API key is not valid."},
            401,
        )
    response = web.redirect(target)
    web.set_session_cookie(request, response, token, get_settings().ui_session_seconds)
    response.delete_cookie(web.LOGIN_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
@page
async def logout(request: Request, session: SessionDep) -> Response:
    fields = await web.form(request)
    viewer = await run_in_threadpool(web.viewer_of, request, session)
    web.check_csrf(viewer, fields)
    sessions.sign_out(request.cookies.get(web.COOKIE))
    response = web.redirect("/ui/login")
    web.clear_session_cookie(request, response)
    return response


# --- jobs list ----------------------------------------------------------------------------
def _day(value: str | None, param: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{param}' must be a date (YYYY-MM-DD).", param=param) from None
    if day >= date.max:  # the day after must still be a date
        raise InvalidInput(f"'{param}' is too far in the future.", param=param)
    return day


def _filters(request: Request) -> tuple[browse.JobFilter, list[tuple[str, str]]]:
    q = request.query_params
    start, end = _day(q.get("from"), "from"), _day(q.get("to"), "to")
    metadata: dict[str, str] = {}
    for pair in (q.get("meta") or "").split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            metadata[key.strip()] = value.strip()
    filters = browse.JobFilter(
        status=list(dict.fromkeys(s for s in q.getlist("status") if s in STATUSES)),
        model=q.get("model") or None,
        created_from=datetime.combine(start, time.min, UTC) if start else None,
        created_to=datetime.combine(end + timedelta(days=1), time.min, UTC) if end else None,
        metadata=metadata,
        text=(q.get("q") or "").strip() or None,
    )
    return filters, [(k, v) for k, v in q.multi_items() if v]


def _int(value: str | None, default: int) -> int:
    try:
        return min(max(1, int(value)), 1_000_000) if value else default  # a bounded page number
    except ValueError:
        return default


def _row(row: browse.JobRow, now: datetime) -> dict[str, Any]:
    job = row.job
    return {
        "id": job.id,
        "status": job.status,
        "active": job.status in ACTIVE,
        "model": job.model,
        "tenant": row.tenant,
        "age": render.age(job.created_at, now),
        "created": render.iso(job.created_at),
        "duration": render.duration(job.created_at, job.finished_at, now),
        "cost": render.money(row.cost),
        "files": row.files,
        "webhook": row.webhook or "—",
        "flagged": job.possibly_duplicated,
        "summary": " ".join((job.output_text or "").split())[:120],
    }


@router.get("/jobs")
@page
def jobs_page(request: Request, session: SessionDep) -> Response:
    viewer = web.viewer_of(request, session)
    filters, params = _filters(request)
    sort = request.query_params.get("sort", "created")
    if sort not in browse.SORTS:
        sort = "created"
    descending = request.query_params.get("dir", "desc") != "asc"
    number = _int(request.query_params.get("page"), 1)
    result = browse.list_jobs(
        session, viewer.tenant_id, filters, sort=sort, descending=descending, page=number
    )
    now = datetime.now(UTC)
    return web.html(
        request,
        "jobs.html",
        {
            "rows": [_row(r, now) for r in result.rows],
            "result": result,
            "filters": filters,
            "params": params,
            "sort": sort,
            "descending": descending,
            "statuses": STATUSES,
            "models": browse.models_in_use(session, viewer.tenant_id),
            "query": _query,
        },
        viewer=viewer,
    )


def _query(params: list[tuple[str, str]], **changes: Any) -> str:
    """The current list URL with some parameters changed (links keep every filter)."""
    pairs = [(k, v) for k, v in params if k not in changes]
    pairs += [(k, str(v)) for k, v in changes.items() if v is not None]
    return "/ui/jobs?" + urlencode(pairs)


@router.get("/jobs.json")
@page
def jobs_rows(request: Request, session: SessionDep, ids: str = "") -> Response:
    """Fresh cells for the list's running rows (the page polls this)."""
    viewer = web.viewer_of(request, session)
    now = datetime.now(UTC)
    rows = browse.jobs_by_id(session, viewer.tenant_id, [i for i in ids.split(",") if i])
    return web.with_headers(JSONResponse({"data": [_row(r, now) for r in rows]}))


# --- one job ------------------------------------------------------------------------------
@router.get("/jobs/{job_id}")
@page
def job_page(request: Request, job_id: str, session: SessionDep) -> Response:
    viewer = web.viewer_of(request, session)
    job = browse.get_job(session, viewer.tenant_id, job_id)
    context = jobview.job_page(session, job, base_url(request))
    context["now"] = datetime.now(UTC)
    context["tab"] = request.query_params.get("tab", "overview")
    context["flash"] = request.query_params.get("done")
    return web.html(request, "job.html", context, viewer=viewer)


@router.get("/jobs/{job_id}/raw.json")
@page
def job_raw(request: Request, job_id: str, session: SessionDep) -> Response:
    """The raw JSON tab's text (pretty-printed, base64 payloads left out)."""
    viewer = web.viewer_of(request, session)
    job = browse.get_job(session, viewer.tenant_id, job_id)
    text = jobview.raw(session, job, base_url(request))
    return web.with_headers(PlainTextResponse(text, media_type="application/json"))


@router.get("/jobs/{job_id}/live.json")
@page
def job_live(request: Request, job_id: str, session: SessionDep) -> Response:
    viewer = web.viewer_of(request, session)
    job = browse.get_job(session, viewer.tenant_id, job_id)
    from longhaul.core.jobs.views import job_view

    view = job_view(session, job, None)
    body = jobview.live(view)
    body["active"] = job.status in ACTIVE
    body["elapsed"] = render.duration(job.created_at, job.finished_at)
    return web.with_headers(JSONResponse(body))


def _artifact(session: Session, viewer: Viewer, job_id: str, artifact_id: str) -> Any:
    job = browse.get_job(session, viewer.tenant_id, job_id)
    artifact = get_artifact(
        session, tenant_id=job.tenant_id, job_id=job.id, artifact_id=artifact_id
    )
    if artifact.status != "stored":
        raise NotFound(f"File {artifact_id!r} is not available ({artifact.status}).")
    return artifact


@router.get("/jobs/{job_id}/files/{artifact_id}")
@page
def job_file(
    request: Request, job_id: str, artifact_id: str, session: SessionDep, download: int = 0
) -> Response:
    """A job's file for the viewer: raster images inline, everything else as an attachment;
    never sniffed, never active (SVG and HTML cannot run here)."""
    viewer = web.viewer_of(request, session)
    artifact = _artifact(session, viewer, job_id, artifact_id)
    try:
        stream = get_storage().open(artifact.storage_key)
    except FileNotFoundError:
        raise NotFound("The file's bytes are gone from storage.") from None
    inline = not download and artifact.content_type in jobview.INLINE_IMAGES
    disposition = content_disposition(artifact.filename)
    if inline:
        disposition = "inline" + disposition[disposition.index(";") :]
    headers = {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=300",
    }
    if artifact.size is not None:
        headers["Content-Length"] = str(artifact.size)
    media = artifact.content_type if inline else "application/octet-stream"
    return StreamingResponse(_closing(stream), media_type=media, headers=headers)


def _closing(stream: ObjectStream) -> Iterator[bytes]:
    with stream:
        yield from stream


PREVIEW_BYTES = 64 * 1024


@router.get("/jobs/{job_id}/files/{artifact_id}/preview")
@page
def job_file_preview(
    request: Request, job_id: str, artifact_id: str, session: SessionDep
) -> Response:
    """The start of a text, JSON or CSV file as an HTML fragment (CSV as a table)."""
    viewer = web.viewer_of(request, session)
    artifact = _artifact(session, viewer, job_id, artifact_id)
    with get_storage().open(artifact.storage_key) as stream:
        data = b""
        for chunk in stream:
            data += chunk
            if len(data) >= PREVIEW_BYTES:
                break
    cut = len(data) >= PREVIEW_BYTES or (artifact.size or 0) > len(data)
    text = data[:PREVIEW_BYTES].decode("utf-8", "replace")
    rows: list[list[str]] = []
    if "csv" in (artifact.content_type or "") or artifact.filename.endswith(".csv"):
        rows = list(csv.reader(io.StringIO(text)))[:51]
    return web.html(
        request, "_preview.html", {"text": text, "rows": rows, "cut": cut}, viewer=viewer
    )


async def _action(request: Request, session: Session, job_id: str, name: str) -> Response:
    fields = await web.form(request)

    def run() -> Response:
        viewer = web.viewer_of(request, session)
        web.check_csrf(viewer, fields)
        if viewer.tenant_id is None:
            raise InvalidInput("The admin key can look at every tenant but not change jobs.")
        job = browse.get_job(session, viewer.tenant_id, job_id)
        tenant = browse.get_tenant(session, job.tenant_id)
        from longhaul.api.routes import responses, webhooks

        if name == "cancel":
            responses.cancel_now(session, tenant, job.id, None)
        elif name == "delete":
            responses.delete_now(session, tenant, job.id)
            return web.redirect("/ui/jobs?deleted=" + job.id)
        else:
            webhooks.redeliver_job(job.id, session, tenant)
        return web.redirect(f"/ui/jobs/{job.id}?done={name}")

    return await run_in_threadpool(run)


@router.post("/jobs/{job_id}/cancel")
@page
async def cancel(request: Request, job_id: str, session: SessionDep) -> Response:
    return await _action(request, session, job_id, "cancel")


@router.post("/jobs/{job_id}/delete")
@page
async def delete(request: Request, job_id: str, session: SessionDep) -> Response:
    return await _action(request, session, job_id, "delete")


@router.post("/jobs/{job_id}/redeliver")
@page
async def redeliver(request: Request, job_id: str, session: SessionDep) -> Response:
    return await _action(request, session, job_id, "redeliver")


# --- usage --------------------------------------------------------------------------------
def _range(request: Request) -> tuple[date, date]:
    start = _day(request.query_params.get("from"), "from") or usage.month_start()
    end = _day(request.query_params.get("to"), "to") or datetime.now(UTC).date()
    if end < start:
        raise InvalidInput("'to' is before 'from'.", param="to")
    if (end - start).days > 366:
        raise InvalidInput("Pick at most a year.", param="from")
    return start, end


@router.get("/usage")
@page
def usage_page(request: Request, session: SessionDep) -> Response:
    viewer = web.viewer_of(request, session)
    start, end = _range(request)
    report = usage.usage_report
    by_model = report(
        session, start=start, end=end, group_by=["day", "model"], tenant_id=viewer.tenant_id
    )
    by_tool = report(
        session, start=start, end=end, group_by=["day", "tool"], tenant_id=viewer.tenant_id
    )
    totals = report(session, start=start, end=end, group_by=["model"], tenant_id=viewer.tenant_id)
    tools = report(session, start=start, end=end, group_by=["tool"], tenant_id=viewer.tenant_id)
    gauge = None
    if viewer.tenant_id is not None:
        tenant = browse.get_tenant(session, viewer.tenant_id)
        spent = month_spend(session, tenant.id)
        gauge = charts.gauge(spent, tenant.monthly_budget_usd)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return web.html(
        request,
        "usage.html",
        {
            "start": start,
            "end": end,
            "total": usage.total_cost(totals),
            "models": totals,
            "tools": [{**t, "tool": t["tool"] or "model tokens"} for t in tools],
            "model_chart": charts.stacked_days(by_model, "model", days),
            "tool_chart": charts.stacked_days(by_tool, "tool", days, none_label="model tokens"),
            "gauge": gauge,
        },
        viewer=viewer,
    )


@router.get("/usage.csv")
@page
def usage_csv(request: Request, session: SessionDep) -> Response:
    viewer = web.viewer_of(request, session)
    start, end = _range(request)
    groups = ["day", "model", "tool"] + (["tenant"] if viewer.is_admin else [])
    rows = usage.usage_report(
        session, start=start, end=end, group_by=groups, tenant_id=viewer.tenant_id
    )
    return web.with_headers(
        PlainTextResponse(
            usage.to_csv(rows, groups),
            media_type="text/csv",
            headers={
                "content-disposition": f'attachment; filename="longhaul-usage-{start}-{end}.csv"'
            },
        )
    )


# --- static files -------------------------------------------------------------------------
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name == "pygments.css":
        body = render.pygments_css().encode()
    else:
        path = web.HERE / "static" / name
        if (
            "/" in name
            or name.startswith(".")
            or not path.is_file()
            or path.suffix not in (STATIC_TYPES)
        ):
            return web.with_headers(Response(status_code=404))
        body = path.read_bytes()
    suffix = name[name.rfind(".") :]
    response = Response(body, media_type=STATIC_TYPES[suffix])
    web.with_headers(response)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response

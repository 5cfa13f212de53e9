"""`longhaul jobs submit|list|show|watch`: jobs through the HTTP API, as a tenant sees them.

The API and key come from ``--api-url``/``--api-key``, else ``LONGHAUL_API_URL``/
``LONGHAUL_API_KEY``, else the running `longhaul up` stack (its URL and dev key). The API URL is
the OpenAI base URL, ending in ``/v1``. ``--json`` prints the API's own JSON for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from longhaul.core.jobs.lifecycle import TERMINAL, Status

# The progress bar's stages, in order (cancelling shows as in_progress).
PHASES = (Status.QUEUED, Status.SUBMITTING, Status.IN_PROGRESS, Status.FINALIZING)


class ApiError(RuntimeError):
    pass


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    jobs = sub.add_parser("jobs", help="submit, list, show and watch jobs (through the API)")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api-url", help="API base URL ending in /v1 (env LONGHAUL_API_URL)")
    common.add_argument("--api-key", help="API key (env LONGHAUL_API_KEY)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = jsub.add_parser("submit", parents=[common], help="submit a background job")
    p.add_argument("input", nargs="?", help="the prompt (default: read standard input)")
    p.add_argument("--model", default="gpt-5", help="model (default gpt-5)")
    p.add_argument(
        "--tool", action="append", default=[], metavar="TYPE",
        help="a tool type, e.g. web_search, image_generation, code_interpreter (repeatable)",
    )  # fmt: skip
    p.add_argument("--webhook", help="URL to call when the job ends")
    p.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--watch", action="store_true", help="follow it until it ends")
    p.set_defaults(func=_submit)

    p = jsub.add_parser("list", parents=[common], help="recent jobs, newest first")
    p.add_argument("--status", help="only jobs in this status")
    p.add_argument("--model", help="only jobs for this model")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=_list)

    p = jsub.add_parser("show", parents=[common], help="one job: status, output, cost, files")
    p.add_argument("job_id")
    p.set_defaults(func=_show)

    p = jsub.add_parser("watch", parents=[common], help="live progress until the jobs end")
    p.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    p.add_argument("--timeout", type=float, default=None, help="give up after N seconds")
    p.set_defaults(func=_watch)


# --- the API ------------------------------------------------------------------------------------


class Api:
    def __init__(self, args: argparse.Namespace) -> None:
        from longhaul.cli.context import running_stack_info

        url = args.api_url or os.environ.get("LONGHAUL_API_URL")
        key = args.api_key or os.environ.get("LONGHAUL_API_KEY")
        if not (url and key):
            info = running_stack_info() or {}
            url, key = url or info.get("api"), key or info.get("api_key")
        if not url or not key:
            raise ApiError(
                "no API to talk to: start a stack with `longhaul up --detach`, or set "
                "LONGHAUL_API_URL and LONGHAUL_API_KEY (or pass --api-url/--api-key)"
            )
        self.url, self.key = url.rstrip("/"), key

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return dict(json.load(resp))
        except urllib.error.HTTPError as exc:
            try:
                message = json.load(exc)["error"]["message"]
            except Exception:
                message = exc.reason
            raise ApiError(f"{method} {path}: HTTP {exc.code}: {message}") from exc
        except OSError as exc:
            raise ApiError(
                f"cannot reach the API at {self.url} ({exc}): check LONGHAUL_API_URL / --api-url "
                "or `longhaul status`"
            ) from exc

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/jobs/{urllib.parse.quote(job_id)}")


def _run(func: Any) -> int:
    try:
        return int(func())
    except ApiError as exc:
        print(f"longhaul: {exc}", file=sys.stderr)
        return 2


# --- commands -----------------------------------------------------------------------------------


def _submit(args: argparse.Namespace) -> int:
    def go() -> int:
        api = Api(args)
        text = args.input if args.input is not None else sys.stdin.read()
        body: dict[str, Any] = {"model": args.model, "input": text, "background": True}
        if args.tool:
            body["tools"] = [{"type": t} for t in args.tool]
        if args.metadata:
            body["metadata"] = dict(m.split("=", 1) for m in args.metadata if "=" in m)
        if args.webhook:
            body["webhook"] = {"url": args.webhook}
        created = api.request("POST", "/responses", body)
        if not args.watch:
            print(json.dumps(created) if args.json else f"{created['id']}  {created['status']}")
            return 0
        if not args.json:
            print(f"submitted {created['id']}")
        return _follow(api, [created["id"]], as_json=args.json, timeout=None)

    return _run(go)


def _list(args: argparse.Namespace) -> int:
    def go() -> int:
        api = Api(args)
        query = {"limit": args.limit, "status": args.status, "model": args.model}
        qs = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        page = api.request("GET", f"/jobs?{qs}")
        if args.json:
            print(json.dumps(page))
            return 0
        rows = [("ID", "STATUS", "MODEL", "CREATED", "COST")]
        for job in page.get("data", []):
            cost = (job.get("cost") or {}).get("total")
            created = (job.get("created_at") or "")[:19].replace("T", " ")
            rows.append((job["id"], job["status"], job.get("model") or "", created,
                         f"${cost}" if cost is not None else ""))  # fmt: skip
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if page.get("has_more"):
            print(f"(more: --limit {args.limit * 2}, or the API's ?after= cursor)")
        return 0

    return _run(go)


def _show(args: argparse.Namespace) -> int:
    def go() -> int:
        view = Api(args).job(args.job_id)
        print(json.dumps(view, indent=2) if args.json else render(view))
        return 0

    return _run(go)


def _watch(args: argparse.Namespace) -> int:
    return _run(lambda: _follow(Api(args), args.job_ids, as_json=args.json, timeout=args.timeout))


def _follow(api: Api, job_ids: list[str], *, as_json: bool, timeout: float | None) -> int:
    """Live progress (one bar per job) until every job ends; then the final view of each."""
    views = {j: api.job(j) for j in job_ids}
    deadline = None if timeout is None else time.monotonic() + timeout
    if as_json or not sys.stdout.isatty():
        views = _wait_quietly(api, views, deadline, as_json=as_json)
    else:
        views = _wait_with_bars(api, views, deadline)
    for view in views.values():
        print(json.dumps(view) if as_json else render(view))
    done = all(v["status"] in TERMINAL for v in views.values())
    ok = all(v["status"] == "completed" for v in views.values())
    return 0 if ok else (1 if done else 3)


def _wait_quietly(
    api: Api, views: dict[str, Any], deadline: float | None, *, as_json: bool
) -> dict[str, Any]:
    seen: dict[str, str] = {}
    while True:
        for job_id, view in views.items():
            if not as_json and seen.get(job_id) != view["status"]:
                print(f"{job_id}  {view['status']}", flush=True)
                seen[job_id] = view["status"]
        if all(v["status"] in TERMINAL for v in views.values()) or _late(deadline):
            return views
        time.sleep(1.0)
        views = {j: (v if v["status"] in TERMINAL else api.job(j)) for j, v in views.items()}


def _wait_with_bars(api: Api, views: dict[str, Any], deadline: float | None) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns) as progress:
        bars = {
            j: progress.add_task(j, total=len(PHASES), state=_state(v)) for j, v in views.items()
        }
        while True:
            for job_id, view in views.items():
                done = view["status"] in TERMINAL
                status = view["status"]
                step = PHASES.index(status) + 0.5 if status in PHASES else len(PHASES) - 1
                step = len(PHASES) if done else step
                progress.update(bars[job_id], completed=step, state=_state(view))
                if done:
                    progress.stop_task(bars[job_id])
            if all(v["status"] in TERMINAL for v in views.values()) or _late(deadline):
                return views
            time.sleep(1.0)
            views = {j: (v if v["status"] in TERMINAL else api.job(j)) for j, v in views.items()}


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _state(view: dict[str, Any]) -> str:
    status = view["status"]
    upstream = view.get("upstream_status")
    polls = view.get("poll_count") or 0
    if status == Status.IN_PROGRESS:
        return f"in_progress (upstream {upstream or '?'}, {polls} polls)"
    return str(status)


def render(view: dict[str, Any]) -> str:
    """A job as a person reads it: status, timings, output, cost, files, errors."""
    lines = [f"{view['id']}  {view['status']}  ({view.get('model')})"]
    if view.get("upstream_response_id"):
        lines.append(f"  upstream:   {view['upstream_response_id']}")
    times = [(k, view.get(k)) for k in ("created_at", "submitted_at", "finished_at")]
    lines.append("  " + "   ".join(f"{k.removesuffix('_at')} {v[:19]}" for k, v in times if v))
    if view.get("error"):
        err = view["error"]
        lines.append(f"  error:      {err.get('code')}: {err.get('message')}")
    text = (view.get("output_text") or "").strip()
    if text:
        shown = text.splitlines()[:12]
        lines.append("  output:")
        lines += [f"    {line}" for line in shown]
        if len(text.splitlines()) > len(shown):
            lines.append("    …")
    cost = view.get("cost") or {}
    if cost:
        parts = ", ".join(f"{k} {v}" for k, v in (cost.get("by_kind") or {}).items())
        lines.append(f"  cost:       {cost.get('currency', 'USD')} {cost.get('total')}  [{parts}]")
        for item in cost.get("unpriced") or []:
            lines.append(f"  unpriced:   {item}")
    for art in view.get("artifacts") or []:
        where = art.get("download_url") or art.get("status")
        lines.append(
            f"  file:       {art.get('filename')} ({art.get('content_type')}, "
            f"{art.get('size', '?')} bytes) {where}"
        )
    return "\n".join(lines)

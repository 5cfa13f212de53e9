"""`longhaul demo`: the stack, a few real jobs through the official OpenAI SDK, webhooks, results.

Brings the stack up (or reuses a running one), starts a webhook receiver on loopback, submits
sample jobs (plain reasoning, web search, image generation, code interpreter making files), shows
their progress, then each job's status, output, artifacts, cost and webhook, and where to look in
Flower. Stops the stack it started unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from longhaul.cli.receiver import WebhookReceiver
from longhaul.core.jobs.lifecycle import TERMINAL

SAMPLES: list[dict[str, Any]] = [
    {
        "name": "reasoning",
        "sim": "slow:3",
        "body": {
            "model": "o4-mini",
            "reasoning": {"effort": "medium"},
            "input": "A train leaves at 09:40 and arrives at 13:05. How long is the trip? "
            "Explain in two sentences.",
        },
    },
    {
        "name": "web-search",
        "sim": "slow:4",
        "body": {
            "model": "gpt-4.1",
            "tools": [{"type": "web_search"}],
            "input": "What changed in the latest PostgreSQL major release? Cite sources.",
        },
    },
    {
        "name": "image",
        "sim": "slow:5",
        "body": {
            "model": "gpt-4.1",
            # The image model named, so every line of the job has a price.
            "tools": [
                {
                    "type": "image_generation",
                    "model": "gpt-image-1",
                    "quality": "medium",
                    "size": "1024x1024",
                }
            ],
            "input": "Draw a lighthouse at dusk, watercolour style.",
        },
    },
    {
        "name": "code",
        "sim": "slow:6,files:2",
        "body": {
            "model": "gpt-4.1",
            "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}],
            "input": "Here is a CSV:\nmonth,signups\nJan,120\nFeb,180\nMar,260\n"
            "Save it as signups.csv, plot it to chart.png and describe the trend.",
        },
    },
]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run sample jobs end to end on the local stack")
    p.add_argument("--data-dir", type=Path, help="data folder (default: setting data_dir)")
    p.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the jobs")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from longhaul.cli.process import running_supervisor
    from longhaul.cli.stack import data_dir_of, stop_stack, up_detached

    data_dir = data_dir_of(args)
    state = running_supervisor(data_dir)
    started = not (state and state.get("status") == "ready")
    if started:
        print(f"Starting the stack (data in {data_dir}; progress in {data_dir}/logs/up.log) ...")
        if up_detached(data_dir, timeout=240, announce=False) != 0:
            return 1
        state = running_supervisor(data_dir)
    assert state is not None
    info: dict[str, Any] = state["info"]
    receiver = WebhookReceiver().start()
    try:
        code = run_demo(info, receiver, timeout=args.timeout)
        _print_viewer(info, keep=args.keep or not started)
        return code
    except KeyboardInterrupt:
        print("\ninterrupted")
        return 130
    finally:
        receiver.stop()
        if started and not args.keep:
            print("\nStopping the stack (keep it next time with `longhaul demo --keep`) ...")
            stop_stack(data_dir)
            _print_reopen(data_dir)
        elif started:
            print(f"\nThe stack keeps running: `longhaul status`, `longhaul down` (in {data_dir}).")


def run_demo(info: dict[str, Any], receiver: WebhookReceiver, *, timeout: float) -> int:
    import openai

    api, key = info["api"], info["api_key"]
    upstream = f"the simulator ({info['simulator']})" if info.get("simulator") else info["upstream"]
    print(f"API {api}  ·  upstream: {upstream}  ·  webhooks to {receiver.url}")
    if info.get("redis") == "fakeredis":
        print(
            "Redis: an in-process fake (fakeredis; no redis-server on PATH): fine for this demo, "
            "but queued messages do not survive a restart. Install redis-server or set "
            "LONGHAUL_REDIS_URL for real use."
        )
    receiver.secrets = _webhook_secrets(api, key)
    client = openai.OpenAI(base_url=api, api_key=key, max_retries=2)

    jobs: dict[str, str] = {}
    for sample in SAMPLES:
        metadata = {"demo": sample["name"]}
        if info.get("simulator"):
            metadata["longhaul_sim"] = sample["sim"]  # the simulator's timing and files
        response = client.responses.create(
            **sample["body"],
            background=True,
            metadata=metadata,
            extra_body={"webhook": {"url": receiver.url}},
        )
        jobs[sample["name"]] = response.id
        print(f"  submitted {sample['name']:<11} {response.id}  ({response.status})")

    views = _follow(api, key, jobs, timeout=timeout)
    _wait_for_webhooks(receiver, [v["id"] for v in views.values() if v["status"] in TERMINAL])

    print("\nResults")
    for name, view in views.items():
        _print_job(name, view, receiver)
    got = sum(1 for v in views.values() if receiver.for_job(v["id"]))
    print(f"\nWebhooks received: {got} of {len(views)} jobs (receiver {receiver.url})")
    user, _, password = str(info.get("flower_auth", "")).partition(":")
    print(
        f"Flower: {info['flower']} (user {user}, password {password}): the Tasks tab lists "
        "longhaul.jobs.submit_batch / poll_batch / finalize and longhaul.webhooks.* runs; "
        f"Broker shows queue lengths. Metrics: {info['metrics']}"
    )
    return 0 if all(v["status"] == "completed" for v in views.values()) else 1


def _print_reopen(data_dir: Path) -> None:
    """Nothing the demo showed is gone: say where it is and how to see it again."""
    from longhaul.core.config import get_settings

    default = Path(get_settings().data_dir).expanduser().resolve() == data_dir
    env = "" if default else f"LONGHAUL_DATA_DIR={data_dir} "
    print(
        f"Everything the demo made stays in {data_dir}: the jobs in its PostgreSQL, their files "
        f"under {data_dir / 'artifacts'}, the logs in {data_dir / 'logs'}.\n"
        f"Reopen it: `{env}.venv/bin/longhaul up --detach`, then "
        f"`{env}.venv/bin/longhaul jobs list` (or the viewer URL `up` prints)."
    )


def _print_viewer(info: dict[str, Any], *, keep: bool) -> None:
    from longhaul.cli.stack import viewer_url

    url = viewer_url(info)
    print(f"\nViewer: {url}/jobs  (sign in with the API key {info['api_key']})")
    if not keep:
        print(
            "  This run stops the stack now: `longhaul demo --keep` (or `longhaul up`) keeps it "
            "running so you can open the jobs in the viewer."
        )


def _follow(api: str, key: str, jobs: dict[str, str], *, timeout: float) -> dict[str, Any]:
    """Poll the native job views, printing a line whenever a status changes."""
    start = time.monotonic()
    views: dict[str, Any] = {}
    last = ""
    print("\nProgress")
    while True:
        for name, job_id in jobs.items():
            if views.get(name, {}).get("status") not in TERMINAL:
                views[name] = _get(f"{api}/jobs/{job_id}", key)
        line = "  ".join(f"{n}={v['status']}" for n, v in views.items())
        if line != last:
            print(f"  [{time.monotonic() - start:5.1f}s] {line}", flush=True)
            last = line
        if all(v["status"] in TERMINAL for v in views.values()):
            return views
        if time.monotonic() - start > timeout:
            print(f"  gave up waiting after {timeout:.0f}s", file=sys.stderr)
            return views
        time.sleep(0.5)


def _wait_for_webhooks(receiver: WebhookReceiver, job_ids: list[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(receiver.for_job(j) for j in job_ids):
        time.sleep(0.2)


def _print_job(name: str, view: dict[str, Any], receiver: WebhookReceiver) -> None:
    print(f"- {name}: {view['status']}  ({view['id']}, model {view.get('model')})")
    text = " ".join((view.get("output_text") or "").split())
    if text:
        print(f"    output:    {text[:160]}{'…' if len(text) > 160 else ''}")
    if view.get("error"):
        print(f"    error:     {view['error']}")
    cost = view.get("cost")
    if cost:
        parts = ", ".join(f"{k} {v}" for k, v in (cost.get("by_kind") or {}).items())
        unpriced = [u.get("kind") or u.get("item") for u in cost.get("unpriced") or []]
        note = f" (unpriced: {', '.join(map(str, unpriced))})" if unpriced else ""
        print(f"    cost:      {cost.get('currency', 'USD')} {cost.get('total')}{note}  [{parts}]")
    for artifact in view.get("artifacts") or []:
        size = artifact.get("size")
        where = artifact.get("download_url") or artifact.get("status")
        print(
            f"    artifact:  {artifact.get('filename')} ({artifact.get('content_type')}, "
            f"{size if size is not None else '?'} bytes) {where}"
        )
    for delivery in receiver.for_job(view["id"]):
        signed = {True: "signature ok", False: "SIGNATURE MISMATCH", None: "unsigned check"}
        print(
            f"    webhook:   {delivery.body.get('type')} "
            f"(webhook-id {delivery.headers.get('webhook-id')}, {signed[delivery.signature_ok]})"
        )


def _webhook_secrets(api: str, key: str) -> list[str]:
    """The tenant's current and previous signing secrets, when the API offers them."""
    try:
        body = _get(f"{api}/webhook_secret", key)
    except OSError:
        return []
    found = [body.get("secret"), *(body.get("previous") or [])]
    return [s for s in found if isinstance(s, str) and s]


def _get(url: str, key: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return dict(json.load(resp))

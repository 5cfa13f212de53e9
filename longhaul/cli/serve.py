"""Long-running processes: api, worker, beat, flower, simulator, and `migrate`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=_migrate)

    p = sub.add_parser("api", help="run the HTTP intake")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=_api)

    p = sub.add_parser(
        "worker",
        help="run a Celery worker (other options go to Celery: `celery worker --help`)",
        epilog="Any other option is passed to Celery's worker as is, e.g. --autoscale=8,2 "
        "--max-tasks-per-child=100 --loglevel=DEBUG.",
    )
    p.add_argument("--concurrency", type=int)
    p.add_argument("--queues", default="submit,poll,finalize,maintenance,webhooks")
    p.add_argument("--pool", default="prefork")
    p.add_argument("--hostname", default=None)
    p.add_argument(
        "--metrics-port", type=int, help="default LONGHAUL_WORKER_METRICS_PORT (0 = off)"
    )
    p.set_defaults(func=_worker, passthrough=True)

    p = sub.add_parser("beat", help="run the periodic scheduler (one per deployment; RedBeat lock)")
    p.set_defaults(func=_beat)

    p = sub.add_parser("flower", help="run Flower (read-only, basic auth)")
    p.add_argument("--port", type=int)
    p.add_argument("--address", default="127.0.0.1", help="bind address (0.0.0.0 in a container)")
    p.set_defaults(func=_flower)

    p = sub.add_parser(
        "simulator",
        help="run the bundled Responses API simulator (its flags: --help)",
        add_help=False,
    )
    p.set_defaults(func=_simulator, passthrough=True)


def _checked(*names: str) -> None:
    """Fail fast, in one line, when a dependency is unreachable or misconfigured."""
    from longhaul.core.checks import run_checks

    run_checks(names)


def _migrate(args: argparse.Namespace) -> int:
    from longhaul.core.config import get_settings
    from longhaul.core.migrate import upgrade

    upgrade(get_settings().database_url)
    print("migrations applied")
    return 0


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from longhaul.core.config import get_settings

    settings = get_settings()
    _checked("database", "redis", "storage")
    uvicorn.run(
        "longhaul.api.app:create_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_config=_uvicorn_logging(settings.log_format, settings.log_level),
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=5,
    )
    return 0


def _uvicorn_logging(fmt: str, level: str) -> dict | None:  # type: ignore[type-arg]
    """JSON: our handler for everything (uvicorn leaves logging alone). Text: uvicorn's own
    format, with probe and scrape access lines at DEBUG."""
    from longhaul.core import logs

    if fmt == "json":
        logs.configure("json", level)
        return None
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["quiet"] = {"()": "longhaul.core.logs.QuietHousekeeping"}
    config["handlers"]["access"]["filters"] = ["quiet"]
    return config


def _worker(args: argparse.Namespace) -> int:
    from longhaul.worker import metrics

    metrics.prepare_multiprocess_dir()  # before any metric exists (pool children inherit it)
    from longhaul.core.config import get_settings
    from longhaul.worker import logsetup
    from longhaul.worker.app import app

    _checked("database", "redis", "storage")
    settings = get_settings()
    port = settings.worker_metrics_port if args.metrics_port is None else args.metrics_port
    metrics.install(port)
    logsetup.install(settings.log_format, settings.log_level)
    argv = [
        "worker",
        f"--loglevel={settings.log_level}",
        f"--queues={args.queues}",
        f"--concurrency={args.concurrency or settings.worker_concurrency}",
        f"--pool={args.pool}",
        "--task-events",
    ]
    if args.hostname:
        argv.append(f"--hostname={args.hostname}")
    app.worker_main([*argv, *(a for a in args.extra if a != "--")])
    return 0


def _beat(args: argparse.Namespace) -> int:
    """RedBeat exits when it cannot renew its Redis lock (Redis restarted or unreachable).
    Start it again here, after a pause, instead of leaving the schedule dead until an outside
    supervisor notices; a clean stop (signal, Ctrl-C) ends the loop."""
    import logging
    import time

    from longhaul.core.config import get_settings
    from longhaul.worker import logsetup
    from longhaul.worker.app import app

    _checked("redis")
    settings = get_settings()
    logsetup.install(settings.log_format, settings.log_level)
    while True:
        try:
            app.start(
                ["beat", f"--loglevel={settings.log_level}", "--scheduler=redbeat.RedBeatScheduler"]
            )
            return 0
        except SystemExit as exc:
            if exc.code in (None, 0):
                return 0
            logging.getLogger("longhaul.beat").warning(
                "beat stopped (exit code %s); starting it again in 1 s", exc.code
            )
        except KeyboardInterrupt:
            return 0
        except Exception:  # e.g. redis ConnectionError while releasing the lock
            logging.getLogger("longhaul.beat").exception("beat failed; starting it again in 1 s")
        time.sleep(1)  # Redis back: the schedule resumes within seconds


def _flower(args: argparse.Namespace) -> int:
    from longhaul.core.config import get_settings
    from longhaul.worker.app import app

    settings = get_settings()
    _checked("redis")
    app.start(
        [
            "flower",
            f"--port={args.port or settings.flower_port}",
            f"--address={args.address}",
            f"--basic-auth={settings.flower_basic_auth}",
            "--read-only",
            # Flower keeps task history in memory: bound it, or it grows with every task run.
            f"--max_tasks={settings.flower_max_tasks}",
            "--max_workers=50",
        ]
    )
    return 0


def _simulator(args: argparse.Namespace) -> int:
    from longhaul.simulator.__main__ import main

    return main([a for a in args.extra if a != "--"])

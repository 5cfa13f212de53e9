"""Which stack a command talks to, and one-line errors instead of tracebacks.

Admin commands (``keys``, ``costs``, ``budgets``, ``webhooks``, ``jobs``, ``migrate``) use the
stack ``longhaul up`` runs from the data folder (its URLs are in ``<data dir>/stack.json``) for
every setting not configured explicitly. With no running stack and no
``LONGHAUL_DATABASE_URL``, they refuse rather than guess: a default of ``127.0.0.1:5432/longhaul``
could be somebody else's database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# stack.json's info key -> the setting it fills in when that setting is not configured
STACK_SETTINGS = {
    "database_url": "database_url",
    "redis_url": "redis_url",
    "storage_url": "storage_url",
}


SECRET_KEY_FILE = "secret_key"  # in the data folder: the dev stack's LONGHAUL_SECRET_KEYS


def dev_secret_key(data_dir: Path) -> str:
    """The Fernet key ``longhaul up`` encrypts upstream secrets with when none is configured,
    kept in the data folder (0600) so stored secrets stay readable across restarts."""
    path = data_dir / SECRET_KEY_FILE
    if path.is_file():
        return path.read_text().strip()
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


class NoStack(RuntimeError):
    """Neither a running stack nor an explicit setting says where to connect."""


def running_stack_info(data_dir: Path | None = None) -> dict[str, Any] | None:
    """The ``info`` of a ready stack in ``data_dir`` (default: the data_dir setting), or None."""
    from longhaul.cli.process import running_supervisor
    from longhaul.core.config import get_settings

    folder = Path(data_dir or get_settings().data_dir).expanduser().resolve()
    state = running_supervisor(folder)
    if not state or state.get("status") != "ready":
        return None
    return dict(state.get("info") or {})


def use_running_stack(*, require_database: bool = True) -> dict[str, Any] | None:
    """Point unset settings at the running stack; return its info (None when none runs)."""
    from longhaul.core.config import get_settings

    explicit = get_settings().model_fields_set
    info = running_stack_info()
    if info:
        for key, setting in STACK_SETTINGS.items():
            if setting not in explicit and info.get(key):
                os.environ[f"LONGHAUL_{setting.upper()}"] = str(info[key])
        key_file = Path(str(info.get("data_dir") or ".")) / SECRET_KEY_FILE
        if "secret_keys" not in explicit and key_file.is_file():
            os.environ["LONGHAUL_SECRET_KEYS"] = key_file.read_text().strip()
        get_settings.cache_clear()
    elif require_database and "database_url" not in explicit:
        raise NoStack(
            f"no stack is running from {get_settings().data_dir} and LONGHAUL_DATABASE_URL is "
            "not set: start one with `longhaul up --detach`, or set LONGHAUL_DATABASE_URL "
            "(and LONGHAUL_DATA_DIR if the stack keeps its data elsewhere)"
        )
    return info


def one_line_errors(func: Callable[[], int]) -> int:
    """Run a command; turn configuration and connection failures into one line on stderr."""
    try:
        return func()
    except NoStack as exc:
        print(f"longhaul: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = describe(exc)
        if message is None:
            raise
        print(f"longhaul: {message}", file=sys.stderr)
        return 2


def describe(exc: BaseException) -> str | None:
    """One line naming the setting to fix, for errors that come from a setting; else None."""
    from longhaul.core.checks import SettingError, redact

    if isinstance(exc, SettingError):
        return str(exc)
    import psycopg
    import redis
    import sqlalchemy.exc

    from longhaul.core.config import get_settings

    settings = get_settings()
    db_errors = (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        psycopg.OperationalError,
    )
    if isinstance(exc, db_errors):
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        return (
            f"cannot use PostgreSQL at {redact(settings.database_url)}: {reason} "
            "(check LONGHAUL_DATABASE_URL)"
        )
    if isinstance(exc, sqlalchemy.exc.ProgrammingError) and "does not exist" in str(exc):
        return (
            f"the database at {redact(settings.database_url)} has no Longhaul tables: "
            "run `longhaul migrate` (or check LONGHAUL_DATABASE_URL)"
        )
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return f"cannot use Redis at {redact(settings.redis_url)}: {exc} (check LONGHAUL_REDIS_URL)"
    return None

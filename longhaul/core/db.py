"""Engine and session scope. Engines are per process: created lazily after a fork."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from longhaul.core.config import get_settings

_engines: dict[tuple[int, str, tuple[tuple[str, Any], ...]], Engine] = {}
_lock = threading.Lock()


def get_engine(url: str | None = None, **options: Any) -> Engine:
    """One engine per (process, URL, options): a pool inherited across ``fork`` is never reused.
    ``options`` go to ``create_engine`` (the API sizes its own pool and skips the pre-ping)."""
    settings = get_settings()
    url = url or settings.database_url
    key = (os.getpid(), url, tuple(sorted(options.items())))
    engine = _engines.get(key)
    if engine is None:
        with _lock:  # threads (the webhooks worker's pool) must not make one pool each
            engine = _engines.get(key)
            if engine is None:
                size = settings.database_pool_size
                defaults: dict[str, Any] = {
                    "pool_pre_ping": True,
                    "pool_size": size,
                    "max_overflow": size,
                }
                engine = create_engine(url, **{**defaults, **options})
                _engines[key] = engine
    return engine


def dispose_engines() -> None:
    """Forget engines inherited from a parent process (call in a forked child)."""
    global _lock
    _lock = threading.Lock()  # one held by another thread at the fork would never be released
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _factories.clear()


_factories: dict[Engine, sessionmaker[Session]] = {}


def session_factory(url: str | None = None, **options: Any) -> sessionmaker[Session]:
    """One factory per engine: a new ``sessionmaker`` is a new class, costly to set up."""
    engine = get_engine(url, **options)
    factory = _factories.get(engine)
    if factory is None:
        factory = _factories[engine] = sessionmaker(engine, expire_on_commit=False)
    return factory


@contextmanager
def session_scope(url: str | None = None, **options: Any) -> Iterator[Session]:
    """The caller's transaction: commit on success, roll back on error."""
    session = session_factory(url, **options)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

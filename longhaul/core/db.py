"""Engine and session scope. Engines are per process: created lazily after a fork."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from longhaul.core.config import get_settings

_engines: dict[tuple[int, str], Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """One engine per (process, URL): a pool inherited across ``fork`` is never reused."""
    settings = get_settings()
    url = url or settings.database_url
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        size = settings.database_pool_size
        engine = create_engine(url, pool_pre_ping=True, pool_size=size, max_overflow=size)
        _engines[key] = engine
    return engine


def dispose_engines() -> None:
    """Forget engines inherited from a parent process (call in a forked child)."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """The caller's transaction: commit on success, roll back on error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

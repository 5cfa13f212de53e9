"""Simulator settings, from keyword arguments, CLI flags or ``LONGHAUL_SIM_*`` variables.

The simulator deliberately does not use Longhaul's settings module: it must stay importable
on its own (import-linter contract "simulator is standalone").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

ENV_PREFIX = "LONGHAUL_SIM_"


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator can be told; every field has an env var ``LONGHAUL_SIM_<NAME>``."""

    host: str = "127.0.0.1"
    port: int = 0
    queued_seconds: float = 0.2
    """How long a background response stays ``queued`` (scenario ``queued:N`` overrides)."""
    run_seconds: float = 1.0
    """How long it then stays ``in_progress`` before its terminal state (``slow:N`` overrides)."""
    poll_after_ms: int | None = None
    """Value of the ``openai-poll-after-ms`` header sent on retrieve; ``None`` sends none."""
    webhook_url: str | None = None
    webhook_secret: str | None = None
    """``whsec_<base64>`` secret used to sign outbound webhooks."""
    webhook_attempts: int = 3
    webhook_timeout: float = 5.0
    require_auth: bool = True
    """Refuse requests without an ``Authorization`` header (any Bearer token is accepted)."""
    key_scoped: bool = False
    """Each response (and its containers) is seen only by the key that created it, as if every
    key were its own OpenAI project; off: every key sees everything."""
    stream_resume_seconds: float = 300.0
    """Age after which ``GET ?stream=true`` is refused with a 400 (OpenAI: 5 minutes)."""
    stream_keepalive_seconds: float = 15.0
    """Silence after which a stream sends a ``: keepalive`` comment."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> SimulatorConfig:
        """Build a config from ``LONGHAUL_SIM_*`` variables; explicit overrides win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown simulator setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)  # type: ignore[arg-type]


_FLOATS = {
    "queued_seconds",
    "run_seconds",
    "webhook_timeout",
    "stream_resume_seconds",
    "stream_keepalive_seconds",
}
_INTS = {"port", "poll_after_ms", "webhook_attempts"}
_BOOLS = {"require_auth", "key_scoped"}


def _coerce(name: str, raw: str) -> object:
    if name in _FLOATS:
        return float(raw)
    if name in _INTS:
        return int(raw)
    if name in _BOOLS:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return raw

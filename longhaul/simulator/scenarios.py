"""Parse the per-request fault/behaviour grammar carried in ``metadata["longhaul_sim"]``.

The value is a comma-separated list of directives (whitespace ignored, unknown directives
rejected with a 400 so typos do not silently pass)::

    directive   := name [":" integer]
    terminal    := fail | incomplete | cancelled | stuck
    timing      := queued:SECONDS | slow:SECONDS            (floats allowed)
    create      := create429:N | create500:N | createdrop:N | createdup:N | createhang:N
    other       := poll500:N | files:N | filesize:BYTES | expired | quota | bad_request
    stream      := streamdrop:N    (the first event stream is cut after N events)

``create*`` faults apply, in the order written, to the first create attempts of the same job
(keyed by ``metadata.longhaul_job_id``): ``create429:2,create500:1`` fails attempts 1-2 with
429, attempt 3 with 500, and attempt 4 succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CREATE_FAULTS = ("create429", "create500", "createdrop", "createdup", "createhang")
TERMINALS = ("fail", "incomplete", "cancelled")
_FLAGS = {"fail", "incomplete", "cancelled", "stuck", "expired", "quota", "bad_request"}
_FLOAT_ARGS = {"queued", "slow"}
_INT_ARGS = {"poll500", "files", "filesize", "streamdrop", *CREATE_FAULTS}


class ScenarioError(ValueError):
    """The ``longhaul_sim`` value does not follow the grammar."""


@dataclass(frozen=True)
class Scenario:
    """A parsed ``longhaul_sim`` value; the defaults describe an ordinary successful job."""

    terminal: str = "completed"
    stuck: bool = False
    queued_seconds: float | None = None
    run_seconds: float | None = None
    create_faults: tuple[tuple[str, int], ...] = ()
    poll500: int = 0
    files: int | None = None
    filesize: int | None = None
    expired: bool = False
    quota: bool = False
    bad_request: bool = False
    streamdrop: int = 0
    directives: tuple[str, ...] = field(default=())

    def create_fault_for(self, attempt: int) -> str | None:
        """The fault to inject on the ``attempt``-th (1-based) create call of one job, if any."""
        remaining = attempt
        for kind, count in self.create_faults:
            if remaining <= count:
                return kind
            remaining -= count
        return None


def parse_scenario(value: object) -> Scenario:
    """Parse the directive list; ``None``/empty means the default scenario."""
    if value is None or value == "":
        return Scenario()
    if not isinstance(value, str):
        raise ScenarioError("metadata.longhaul_sim must be a string")
    kwargs: dict[str, object] = {}
    faults: list[tuple[str, int]] = []
    directives: list[str] = []
    for raw in value.split(","):
        token = raw.strip()
        if not token:
            continue
        name, _, arg = token.partition(":")
        name = name.strip().lower()
        arg = arg.strip()
        directives.append(token)
        if name in _FLAGS:
            if arg:
                raise ScenarioError(f"directive {name!r} takes no argument")
            if name in TERMINALS:
                kwargs["terminal"] = "failed" if name == "fail" else name
            else:
                kwargs[name] = True
        elif name in _FLOAT_ARGS:
            number = _number(name, arg, float)
            kwargs["queued_seconds" if name == "queued" else "run_seconds"] = number
        elif name in _INT_ARGS:
            count = int(_number(name, arg, int))
            if name in CREATE_FAULTS:
                faults.append((name, count))
            else:
                kwargs[name] = count
        else:
            raise ScenarioError(f"unknown longhaul_sim directive {name!r}")
    return Scenario(create_faults=tuple(faults), directives=tuple(directives), **kwargs)  # type: ignore[arg-type]


def _number(name: str, arg: str, kind: type[float] | type[int]) -> float:
    if not arg:
        raise ScenarioError(f"directive {name!r} needs a number, e.g. {name}:1")
    try:
        number = kind(arg)
    except ValueError as exc:
        raise ScenarioError(f"directive {name!r}: {arg!r} is not a number") from exc
    if number < 0:
        raise ScenarioError(f"directive {name!r} must not be negative")
    return number

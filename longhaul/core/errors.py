"""Domain errors. ``api/`` maps them to HTTP in exactly one place."""

from __future__ import annotations


class LonghaulError(Exception):
    """Base class; ``code`` and ``param`` end up in the OpenAI-shaped error body."""

    code: str = "error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code:
            self.code = code


class InvalidInput(LonghaulError):
    code = "invalid_request"


class NotFound(LonghaulError):
    code = "not_found"


class Conflict(LonghaulError):
    code = "conflict"


class Unauthorized(LonghaulError):
    code = "invalid_api_key"


class BudgetExceeded(LonghaulError):
    code = "budget_exceeded"


class TooManyActiveJobs(LonghaulError):
    """The tenant has as many active jobs as it may (``LONGHAUL_MAX_ACTIVE_JOBS``): a 429."""

    code = "too_many_active_jobs"
    retry_after = 10

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.headers = {"x-ratelimit-limit-jobs": str(limit), "x-ratelimit-remaining-jobs": "0"}


class Transient(LonghaulError):
    """Retry later; ``retry_after`` seconds when the upstream said so."""

    code = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Permanent(LonghaulError):
    code = "permanent"

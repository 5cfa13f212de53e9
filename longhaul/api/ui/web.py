"""Plumbing shared by the viewer's routes: templates, security headers, the session cookie,
CSRF checks and error pages (HTML here, not the JSON error shape of ``/v1``)."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from longhaul.api.ui import render
from longhaul.core import errors
from longhaul.core.viewer import sessions
from longhaul.core.viewer.sessions import Viewer

HERE = Path(__file__).parent
COOKIE = "longhaul_ui"
LOGIN_COOKIE = "longhaul_ui_login"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(
    money=render.money,
    size=render.size,
    age=render.age,
    iso=render.iso,
    markdown=render.markdown,
)
env.globals["duration"] = render.duration


class SignInRequired(Exception):
    pass


class BadForm(Exception):
    pass


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def with_headers(response: Response) -> Response:
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def html(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    viewer: Viewer | None = None,
) -> HTMLResponse:
    body = env.get_template(template).render(
        request=request, viewer=viewer, path=request.url.path, **context
    )
    return with_headers(HTMLResponse(body, status_code=status))  # type: ignore[return-value]


def redirect(url: str) -> Response:
    return with_headers(RedirectResponse(url, status_code=303))


def viewer_of(request: Request, session: Session) -> Viewer:
    viewer = sessions.load(session, request.cookies.get(COOKIE))
    if viewer is None:
        raise SignInRequired
    return viewer


async def form(request: Request) -> dict[str, str]:
    """A small urlencoded form (the viewer's forms carry a few fields)."""
    raw = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def check_csrf(viewer: Viewer, fields: dict[str, str]) -> None:
    if not hmac.compare_digest(fields.get("csrf", "").encode(), viewer.csrf.encode()):
        raise BadForm("The form expired or did not come from this page; reload and try again.")


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path="/ui", httponly=True, samesite="strict", secure=secure(request)
    )


def login_token(request: Request) -> str:
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


STATUS = {
    errors.NotFound: 404,
    errors.InvalidInput: 400,
    errors.Conflict: 409,
    errors.Unauthorized: 401,
}

F = TypeVar("F", bound=Callable[..., Any])


def page(fn: F) -> F:
    """Route wrapper: sign-in redirects, domain errors and bad forms as HTML pages."""

    def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, SignInRequired):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.headers.get("accept", "").startswith("application/json"):
                return with_headers(Response(status_code=401))
            return redirect(f"/ui/login?next={quote(target, safe='')}")
        if isinstance(exc, BadForm):
            return html(request, "error.html", {"status": 400, "message": str(exc)}, 400)
        assert isinstance(exc, errors.LonghaulError)
        status = next((s for c, s in STATUS.items() if isinstance(exc, c)), 400)
        return html(request, "error.html", {"status": status, "message": exc.message}, status)

    caught = (SignInRequired, BadForm, errors.LonghaulError)
    if _is_async(fn):

        @functools.wraps(fn)
        async def async_wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(request, *args, **kwargs)
            except caught as exc:
                return handle(request, exc)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(request, *args, **kwargs)
        except caught as exc:
            return handle(request, exc)

    return wrapper  # type: ignore[return-value]


def _is_async(fn: Callable[..., Any]) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)

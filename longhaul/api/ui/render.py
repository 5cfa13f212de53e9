"""Turning untrusted model and tool output into safe HTML, and small display formats.

Markdown goes through markdown-it-py with raw HTML off, then through nh3 (the Ammonia sanitizer)
with an allowlist: no images (remote URLs a model wrote are never fetched), links only to
http/https/mailto, opened in a new tab without referrer. Code is highlighted by Pygments into
class-only spans (the CSP forbids inline styles). Everything else is escaped by Jinja.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

MAX_MARKDOWN = 200_000  # characters; longer text is shown as plain text (a parse is not free)
MAX_JSON = 400_000
TAGS = set(nh3.ALLOWED_TAGS) - {"img"}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str | None) -> Markup:
    """Sanitized HTML for Markdown written by a model or a tool."""
    if not text:
        return Markup("")
    if len(text) > MAX_MARKDOWN:
        return Markup("<pre class='plain'>") + Markup.escape(text) + Markup("</pre>")
    html = _md().render(text)
    return Markup(
        nh3.clean(
            html,
            tags=TAGS,
            url_schemes=URL_SCHEMES,
            link_rel="noopener noreferrer nofollow",
            set_tag_attribute_values={"a": {"target": "_blank"}},
        )
    )


@lru_cache(maxsize=16)
def _lexer(language: str) -> Any:
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return get_lexer_by_name("text")


@lru_cache(maxsize=1)
def _formatter() -> HtmlFormatter:  # type: ignore[type-arg]
    return HtmlFormatter(cssclass="hl", wrapcode=True)


def code(source: str | None, language: str = "python", *, plain: bool = False) -> Markup:
    """Highlighted code (Pygments escapes the source); ``plain`` skips the highlighting."""
    if plain:
        return (
            Markup("<div class='hl'><pre><code>")
            + Markup.escape(source or "")
            + Markup("</code></pre></div>")
        )
    return Markup(highlight(source or "", _lexer(language), _formatter()))


@lru_cache(maxsize=1)
def pygments_css() -> str:
    """Light (Pygments' default) and dark (monokai) highlighting: dark when chosen with the
    theme key, or when the system is dark and light was not chosen."""
    light = HtmlFormatter(style="default").get_style_defs(".hl")
    dark = HtmlFormatter(style="monokai").get_style_defs("[data-theme=dark] .hl")
    system = HtmlFormatter(style="monokai").get_style_defs(":root:not([data-theme=light]) .hl")
    return (
        f".hl {{ color: #1d1f21; }}\n{light}\n{dark}\n"
        f"@media (prefers-color-scheme: dark) {{\n{system}\n}}\n"
    )


def _trim(value: Any, limit: int = 2000) -> Any:
    """Drop base64 payloads (images) from JSON shown in the page; they are artifacts."""
    if isinstance(value, dict):
        return {
            k: (
                f"<{len(v)} characters omitted>"
                if k in {"result", "encrypted_content"} and isinstance(v, str) and len(v) > 200
                else _trim(v, limit)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_trim(v, limit) for v in value]
    return value


def pretty_json(value: Any) -> str:
    text = json.dumps(_trim(value), indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_JSON:
        text = text[:MAX_JSON] + "\n… (cut; the full object is at the JSON API)"
    return text


def money(value: Decimal | str | None) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    return f"${amount:.4f}" if amount < 1 else f"${amount:,.2f}"


def size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def seconds(total: float | None) -> str:
    if total is None:
        return "—"
    total = max(0.0, total)
    if total < 60:
        return f"{total:.1f}s"
    minutes, secs = divmod(int(total), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def age(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "—"
    now = now or datetime.now(UTC)
    return seconds((now - moment).total_seconds()) + " ago"


def duration(start: datetime | None, end: datetime | None, now: datetime | None = None) -> str:
    if start is None:
        return "—"
    return seconds(((end or now or datetime.now(UTC)) - start).total_seconds())


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"

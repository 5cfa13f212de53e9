"""Validation at the edge, before any route or database sees a request: text without NUL or lone
surrogates, finite JSON numbers, 64-bit integers, bounded nesting. Each refusal names the field
(``param``) so the client can fix it; PostgreSQL, the JSON parser and pydantic never get input
they would choke on (a 500)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_DEPTH = 64  # objects and arrays inside each other
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_DIGITS = 20  # longer integer literals are out of range without converting them


@dataclass(frozen=True)
class Refusal:
    message: str
    param: str | None
    code: str = "invalid_value"


class _Bad:
    """A number the parser met that Longhaul refuses; found with its path by the walk."""

    __slots__ = ("text", "why")

    def __init__(self, text: str, why: str) -> None:
        self.text, self.why = text, why


def _constant(text: str) -> _Bad:  # NaN, Infinity, -Infinity
    return _Bad(text, "is not a finite number")


def _int(text: str) -> int | _Bad:
    if len(text.lstrip("-")) > _DIGITS:
        return _Bad(text[:24] + "…", "is out of the 64-bit integer range")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        return _Bad(text, "is out of the 64-bit integer range")
    return value


def _float(text: str) -> float | _Bad:
    value = float(text)
    if not math.isfinite(value):
        return _Bad(text[:24], "is not a finite number")
    return value


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (not valid Unicode)"
    return None


def _join(path: list[str]) -> str | None:
    return ".".join(path) or None


def check_json(raw: bytes) -> Refusal | None:
    """None if ``raw`` is acceptable JSON, or is not JSON at all (the route's parser says so).
    A Refusal for JSON that parses but that Longhaul will not take."""
    try:
        body = json.loads(raw, parse_constant=_constant, parse_int=_int, parse_float=_float)
    except RecursionError:
        return Refusal(f"The JSON body is nested deeper than {MAX_DEPTH} levels.", None)
    except (ValueError, UnicodeDecodeError):
        return None  # not JSON: left to the route, which answers 400 in its own words
    return check_value(body)


def check_value(body: Any) -> Refusal | None:
    """Walks parsed JSON without recursion: depth, numbers, strings and keys."""
    stack: list[tuple[Any, list[str]]] = [(body, [])]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return Refusal(f"The JSON body is nested deeper than {MAX_DEPTH} levels.", _join(path))
        if isinstance(node, _Bad):
            return Refusal(f"Invalid '{_join(path)}': {node.text} {node.why}.", _join(path))
        if isinstance(node, str):
            problem = _text_problem(node)
            if problem:
                return Refusal(f"Invalid '{_join(path)}': the string {problem}.", _join(path))
        elif isinstance(node, dict):
            for key, value in node.items():
                problem = _text_problem(key)
                if problem:
                    return Refusal(
                        f"A key in '{_join(path) or 'the body'}' {problem}.", _join(path)
                    )
                stack.append((value, [*path, key]))
        elif isinstance(node, list):
            stack.extend((value, [*path, str(i)]) for i, value in enumerate(node))
    return None


def check_query(query_string: bytes) -> Refusal | None:
    """Query parameters: no NUL (PostgreSQL text cannot hold it)."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            name = key.replace("\x00", "")
            return Refusal(f"Invalid '{name}': it contains a NUL character.", name or None)
    return None


def check_path(path: str, params: Iterable[tuple[str, Any]]) -> Refusal | None:
    """Path parameters (as the router matched them): no NUL."""
    if "\x00" not in path:
        return None
    for name, value in params:
        if isinstance(value, str) and "\x00" in value:
            return Refusal(f"Invalid '{name}': it contains a NUL character.", name)
    return Refusal("The path contains a NUL character.", "path")

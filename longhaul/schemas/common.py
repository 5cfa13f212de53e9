"""Field types every wire model shares: timestamps, amounts, numbers, lists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

T = TypeVar("T")


def _iso(value: datetime) -> str:
    return value.isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str),  # ``isoformat()``: offset ``+00:00``, not ``Z``
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An aware datetime, on the wire as ISO 8601 with its UTC offset."""

Money = Annotated[str, Field(examples=["0.002800"])]
"""US dollars as a decimal string (six places in ledgers; never a float)."""

Number = Annotated[float | int, WithJsonSchema({"type": "number"})]
"""A JSON number kept as given (``1`` stays ``1``, ``0.5`` stays ``0.5``)."""

UnixTime = Annotated[int | float, WithJsonSchema({"type": "number", "format": "unixtime"})]


class ListOf(BaseModel, Generic[T]):
    """``{"object": "list", "data": [...]}``."""

    object: Literal["list"] = "list"
    data: list[T]


class Page(ListOf[T], Generic[T]):
    """A cursor page: pass ``last_id`` as ``after`` for the next one."""

    first_id: str | None
    last_id: str | None
    has_more: bool

    @classmethod
    def of(cls, data: list[T], has_more: bool, ids: list[str]) -> Page[T]:
        return cls(
            data=data,
            first_id=ids[0] if ids else None,
            last_id=ids[-1] if ids else None,
            has_more=has_more,
        )

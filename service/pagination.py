"""Keyset pagination: ``{"items": [...], "next_cursor": "<opaque>" | null}``."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import DateTime, Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from service.errors import Unprocessable

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=1000, description="Page size (max 1000).")]
CursorQuery = Annotated[str | None, Query(description="The `next_cursor` of the previous page.")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: list[InstrumentedAttribute[Any]]) -> list[Any]:
    """The key values a cursor holds, each of its column's type; 422 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError
        out = []
        for key, value in zip(keys, values, strict=True):
            if _is_datetime(key):
                value = datetime.fromisoformat(value)
            elif not isinstance(value, key.type.python_type) or isinstance(value, bool):
                raise ValueError
            elif isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise ValueError  # no database column holds it
            out.append(value)
        return out
    except (ValueError, TypeError):
        raise Unprocessable.at(
            ["query", "cursor"], "invalid cursor; pass the next_cursor of the previous page"
        ) from None


def _is_datetime(column: InstrumentedAttribute[Any]) -> bool:
    return isinstance(column.type, DateTime) or isinstance(
        getattr(column.type, "impl", None), DateTime
    )


def paginate(
    session: Session,
    stmt: Select[Any],
    keys: list[InstrumentedAttribute[Any]],
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> tuple[list[Any], str | None]:
    """Rows of ``stmt`` ordered by ``keys`` (the last key unique), one page at a time."""
    if cursor:
        values = decode_cursor(cursor, keys)
        row_key = tuple_(*keys)
        # Bind with each column's own type, so a datetime compares as the column stores it.
        bound = tuple_(*[literal(v, type_=k.type) for k, v in zip(keys, values, strict=True)])
        stmt = stmt.where(row_key < bound if descending else row_key > bound)
    order = [k.desc() if descending else k.asc() for k in keys]
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([getattr(rows[-1], k.key) for k in keys])
    return rows, next_cursor

"""Cursor pagination with sorting: an opaque cursor (the sort value and id of the last row seen, base64url
JSON) rather than offsets, so a page never skips or repeats rows while new ones arrive."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from rcmflow.errors import InputError

MAX_LIMIT = 500


def encode_cursor(last_id: int, sort: str = "id", value: Any = None) -> str:
    plain = value.isoformat() if isinstance(value, datetime) else str(value) if isinstance(value, Decimal) else value
    text = json.dumps([sort, plain, last_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, sort: str = "id") -> tuple[Any, int] | None:
    """(sort value, id) of the last row of the previous page; the cursor must come from the same sort."""
    if not cursor:
        return None
    try:
        name, value, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 <= last_id < 2**63:
            raise ValueError("id")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(detail="cursor is not one this API issued") from exc
    if name != sort:
        raise InputError(detail=f"cursor was issued for sort={name}, not sort={sort}")
    try:
        return _typed(sort.lstrip("-"), value), last_id
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise InputError(detail="cursor is not one this API issued") from exc


def _typed(column: str, value: Any) -> Any:
    """The cursor's sort value as the column's type: a forged cursor must not reach the database as text."""
    if column.endswith("_at"):
        return datetime.fromisoformat(value)
    if column == "total_charge":
        return Decimal(str(value)) if isinstance(value, str | int) else _refuse()
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        return _refuse()
    return value


def _refuse() -> Any:
    raise ValueError("cursor value")


def page(items: list[dict[str, Any]], limit: int, sort: str = "id") -> dict[str, Any]:
    """The page body: ``items`` (at most ``limit``; one more was fetched to know if there is a next page)."""
    more = len(items) > limit
    items = items[:limit]
    next_cursor = None
    if more and items:
        last = items[-1]
        next_cursor = encode_cursor(last["id"], sort, last.get(sort.lstrip("-")))
    return {"items": items, "next_cursor": next_cursor}

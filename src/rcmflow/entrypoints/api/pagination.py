"""Cursor pagination: an opaque cursor (the last id seen, base64url) rather than offsets, so a page never
skips or repeats rows while new ones arrive."""

from __future__ import annotations

import base64
from typing import Any

from rcmflow.errors import InputError

MAX_LIMIT = 500


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(detail="cursor is not one this API issued") from exc


def page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """The page body: ``items`` (at most ``limit``; one more was fetched to know if there is a next page)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(items[-1]["id"]) if more and items else None}

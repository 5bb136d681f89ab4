"""Bodies the API and the web UI both build, so that their audit digests of the same object agree."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any


def approval_body(request: Any) -> dict[str, Any]:
    """An approval request (``services.approvals.RequestDetail``) as JSON-ready values."""
    body = asdict(request)
    body["amount"] = None if request.amount is None else str(request.amount)
    return body

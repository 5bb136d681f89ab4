"""Where each kind of business object is shown in the UI (None: it has no page of its own)."""

from __future__ import annotations

from urllib.parse import urlencode

_PAGES = {
    "claim": "/ui/claims/{}",
    "remittance": "/ui/remittances/{}",
    "bank deposit": "/ui/deposits/{}",
    "approval request": "/ui/approvals/{}",
    "work item": "/ui/work/{}",
}

# The lists a figure drills down to (``KpiDefinition.drill`` names one of these).
LISTS = {
    "claims": "/ui/claims",
    "work_items": "/ui/work",
    "claim_payments": "/ui/remittances",
    "remittances": "/ui/remittances",
    "deposits": "/ui/deposits",
    "approvals": "/ui/approvals",
    "outbox": "/ui/tower",
}


# The permission each list needs: a figure links to its list only for those who may open it.
LIST_PERMISSIONS = {
    "claims": "claims:read",
    "work_items": "work_items:read",
    "claim_payments": "remittances:read",
    "remittances": "remittances:read",
    "deposits": "deposits:read",
    "approvals": "approvals:read",
    "outbox": "reports:read",
}


def object_url(object_type: str, object_id: str | int) -> str | None:
    pattern = _PAGES.get(object_type)
    return pattern.format(object_id) if pattern and str(object_id).isdigit() else None


def list_url(name: str, filters: dict[str, str] | None = None, **more: str | None) -> str:
    """The list page ``name`` filtered by ``filters`` and ``more`` (None values dropped)."""
    query = {key: value for key, value in {**(filters or {}), **more}.items() if value not in (None, "")}
    base = LISTS.get(name, "/ui/tower")
    return f"{base}?{urlencode(query)}" if query else base

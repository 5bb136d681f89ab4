"""The ``/v1`` resources, one module per area; ``ROUTERS`` is what the app mounts."""

from __future__ import annotations

from rcmflow.entrypoints.api.resources import (
    approvals,
    audit,
    auth,
    claims,
    documents,
    finance,
    operations,
    webhooks,
    work_items,
)

ROUTERS = (auth.router, claims.router, work_items.router, approvals.router, documents.router, finance.router,
           operations.router, audit.router, webhooks.router)

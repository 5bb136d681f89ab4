"""The UI's page routers, one module per area."""

from rcmflow.entrypoints.web.routes import (
    approvals,
    audit,
    claim_payments,
    claims,
    finance,
    login,
    process,
    rework,
    tower,
    work,
)

ROUTERS = (login.router, tower.router, work.router, approvals.router, process.router, claims.router,
           claim_payments.router, finance.router, rework.router, audit.router)

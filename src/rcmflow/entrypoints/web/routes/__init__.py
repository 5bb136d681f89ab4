"""The UI's page routers, one module per area."""

from rcmflow.entrypoints.web.routes import approvals, audit, claims, finance, login, process, tower, work

ROUTERS = (login.router, tower.router, work.router, approvals.router, process.router, claims.router,
           finance.router, audit.router)

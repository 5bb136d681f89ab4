"""The UI's page routers, one module per area."""

from rcmflow.entrypoints.web.routes import approvals, login, work

ROUTERS = (login.router, work.router, approvals.router)

"""The web UI: server-rendered pages (Jinja2) in the API's FastAPI app, behind the same sessions and roles.

Pages live under ``/ui``; every page route declares the permission it needs with the API's ``require``, so
the API's refusals (401, 403 with a reason) apply unchanged and ``problems.py`` renders them as pages
(a login redirect, a refusal page) for ``/ui`` paths. Static assets are the package's own ``static`` folder
and ``plotly.min.js`` from the plotly package: nothing is loaded from a CDN.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from rcmflow.entrypoints.web.assets import install_assets
from rcmflow.entrypoints.web.routes import ROUTERS


def install_web(app: FastAPI) -> None:
    install_assets(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

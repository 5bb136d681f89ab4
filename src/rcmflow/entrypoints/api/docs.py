"""The interactive API documentation (Swagger UI) served from the ``swagger-ui-bundle`` package's files, never
from a CDN: hospital networks are often closed to the internet."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

STATIC_PREFIX = "/docs/static"


def install_local_docs(app: FastAPI) -> None:
    app.mount(STATIC_PREFIX, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title="rcmflow API",
            swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js", swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/favicon-32x32.png",
            # Swagger UI's default validatorUrl is validator.swagger.io: the page would fetch a badge from
            # there (and hand it the document's address). Off, so the page talks to this server only.
            swagger_ui_parameters={"validatorUrl": None})

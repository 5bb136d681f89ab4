"""The FastAPI application: ``/v1`` resources, ``/healthz`` and ``/readyz``, one problem handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from rcmflow.entrypoints.api.docs import install_local_docs
from rcmflow.entrypoints.api.metrics import install_metrics
from rcmflow.entrypoints.api.problems import install_problem_handlers
from rcmflow.entrypoints.api.routes import router
from rcmflow.entrypoints.api.schemas import Health

API_VERSION = "1.0.0"


def create_app(engine: Engine) -> FastAPI:
    """The API over ``engine`` (migrated by the caller)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    # FastAPI's own /docs and /redoc pages load Swagger UI and ReDoc from a CDN, which closed hospital networks
    # cannot reach: they are off, and /docs serves Swagger UI from the swagger-ui-bundle package instead.
    app = FastAPI(title="rcmflow", version=API_VERSION, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Healthcare revenue-cycle orchestration: claims, remittances, work queues.")
    install_local_docs(app)
    app.state.engine = engine
    install_problem_handlers(app)
    install_metrics(app, engine)
    app.include_router(router)

    @app.get("/healthz", response_model=Health, tags=["operations"])
    def healthz() -> dict[str, Any]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Health, tags=["operations"],
             responses={503: {"description": "Not ready: the database is unreachable or not migrated."}})
    def readyz() -> Any:
        """Ready to serve: the database answers and its schema is the one this version expects."""
        from rcmflow.adapters.store.migrate import current_revision, head_revision

        expected = head_revision()
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = current_revision(engine)
        except Exception:  # noqa: BLE001 - any failure to reach the database means "not ready"
            return JSONResponse({"status": "unavailable", "database": "unreachable",
                                 "expected_revision": expected}, status_code=503)
        body = {"status": "ok" if current == expected else "unavailable", "database": "ok",
                "schema_revision": current, "expected_revision": expected}
        return body if current == expected else JSONResponse(body, status_code=503)

    return app

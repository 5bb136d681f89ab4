"""The FastAPI application: ``/v1`` resources behind authentication, ``/healthz`` and ``/readyz``, one
problem handler, and the request hygiene every route gets.

Middleware, outermost first: request id and access log; CORS (only when origins are configured); latency
metrics; body size limit; authentication (who is calling); rate limit (per caller); requests in flight
(bounded by the connection pool); Idempotency-Key replay.
Authorisation is per route (``security.require``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from rcmflow.adapters.store.schema import utc_now
from rcmflow.entrypoints.api.deps import reading_engine
from rcmflow.entrypoints.api.docs import install_local_docs
from rcmflow.entrypoints.api.idempotency import IdempotencyKeys
from rcmflow.entrypoints.api.limits import BodySizeLimit, ConcurrencyLimit, RateLimit, TokenBuckets
from rcmflow.entrypoints.api.metrics import install_metrics
from rcmflow.entrypoints.api.problems import install_problem_handlers
from rcmflow.entrypoints.api.request_context import install_request_context
from rcmflow.entrypoints.api.resources import ROUTERS
from rcmflow.entrypoints.api.schemas import Health
from rcmflow.entrypoints.api.security import api_routes, document_security, install_authentication
from rcmflow.entrypoints.web import install_web
from rcmflow.services.audit import AuditWriter
from rcmflow.services.tokens import KeyCache
from rcmflow.settings import Settings, get_settings

API_VERSION = "1.0.0"
API_THREADS = 8


def create_app(engine: Engine, settings: Settings | None = None, *, keys: KeyCache | None = None,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The API over ``engine`` (migrated by the caller). ``clock`` is the web UI's "now" (default: the wall
    clock); the demo serves its simulated network at the simulated date."""
    settings = settings or get_settings()

    audit_writer = AuditWriter(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Threads for the synchronous routes: one per pooled database connection, so a request waits for a
        # thread (cheap) rather than holding one while it waits for a connection.
        anyio.to_thread.current_default_thread_limiter().total_tokens = API_THREADS
        yield
        audit_writer.close()

    # FastAPI's own /docs and /redoc pages load Swagger UI and ReDoc from a CDN, which closed hospital networks
    # cannot reach: they are off, and /docs serves Swagger UI from the swagger-ui-bundle package instead.
    app = FastAPI(title="rcmflow", version=API_VERSION, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Healthcare revenue-cycle orchestration: claims, remittances, work queues. "
                              "Authenticate with OAuth2 client credentials (POST /v1/oauth/token) and send "
                              "the access token as a bearer token.")
    app.state.engine = engine
    app.state.read_engine = reading_engine(engine)
    app.state.settings = settings
    app.state.audit_writer = audit_writer
    app.state.clock = clock or utc_now
    install_local_docs(app)
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_web(app)
    document_security(app, [route for route in api_routes(app.routes) if route.include_in_schema])
    _install_middleware(app, engine, settings, keys or KeyCache(engine))

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz() -> dict[str, Any]:
        """The process is up."""
        # async: a liveness probe that does nothing needs no worker thread (two thread hops per probe).
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


def _install_middleware(app: FastAPI, engine: Engine, settings: Settings, keys: KeyCache) -> None:
    # add_middleware wraps what is there: the last one added runs first.
    app.add_middleware(IdempotencyKeys, engine=engine)
    app.add_middleware(ConcurrencyLimit, limit=API_THREADS)
    app.add_middleware(RateLimit, principal_buckets=TokenBuckets(settings.api_rate_limit, settings.api_rate_burst),
                       anonymous_buckets=TokenBuckets(settings.api_anonymous_rate_limit,
                                                      settings.api_anonymous_rate_burst))
    install_authentication(app, keys)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    install_metrics(app, engine)
    if settings.api_cors_origins:  # off by default: a browser on another origin gets no CORS headers
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.api_cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"])
    install_request_context(app)  # outermost: every answer, even a refusal, carries its request id

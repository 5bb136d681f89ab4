"""How ``rcmflow serve`` builds the app in each worker process: from the process settings."""

from __future__ import annotations

from fastapi import FastAPI

from rcmflow.entrypoints.api.app import API_THREADS, create_app


def app_from_settings() -> FastAPI:
    """The app over the configured database (migrated first), for uvicorn's ``--factory``."""
    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema
    from rcmflow.log_config import configure_logging
    from rcmflow.settings import get_settings

    settings = get_settings()
    # Each worker process configures its own logging (uvicorn was told not to): JSON lines with request ids,
    # identifiers redacted.
    configure_logging(settings.log_level, settings.log_format)
    # As many connections as requests in flight (ConcurrencyLimit), plus a few for the audit writer, the
    # key cache, idempotency records and session lookups.
    engine = create_engine_for(settings.database_url, pool_size=API_THREADS + 4, max_overflow=0)
    ensure_schema(engine)
    return create_app(engine)

"""How ``rcmflow serve`` builds the app in each worker process: from the process settings."""

from __future__ import annotations

import gc

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
    app = create_app(engine)
    settle_garbage_collector()
    return app


# Collections of the youngest generation: every this many net allocations of container objects (Python: 700).
YOUNG_COLLECTION_EVERY = 20_000


def settle_garbage_collector() -> None:
    """Keep the cycle collector out of the answers' latency. A worker holds some 125,000 long-lived objects after
    start-up (routes, schemas, SQLAlchemy and pydantic machinery), and each full collection walked them all:
    65-180 ms on the reference machine, several times a minute under load, each one a stall for every request
    in flight. Start-up's objects are moved out of the collector's reach (``gc.freeze``), and the young
    generation is collected less often, so fewer objects of requests still in flight are promoted to be walked
    again. With both, ``bench/api_load.py`` saw no full collection during its runs (seven before)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)

"""How ``rcmflow serve`` builds the app in each worker process: from the process settings."""

from __future__ import annotations

from fastapi import FastAPI

from rcmflow.entrypoints.api.app import create_app


def app_from_settings() -> FastAPI:
    """The app over the configured database (migrated first), for uvicorn's ``--factory``."""
    from rcmflow.adapters.store.engine import get_engine
    from rcmflow.adapters.store.migrate import ensure_schema
    from rcmflow.settings import get_settings

    engine = get_engine(get_settings())
    ensure_schema(engine)
    return create_app(engine)

"""Fixtures for API tests: the app over the test database, and principals with tokens for any role."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from rcmflow.adapters.store.schema import utc_now
from rcmflow.entrypoints.api.app import create_app
from rcmflow.services.intake import ingest_file
from rcmflow.services.principals import create_client, create_user
from rcmflow.services.tokens import KeyCache, issue_token
from rcmflow.settings import Settings
from tests.entrypoints.test_cli_claims import CHARGES

TokenFor = Callable[..., dict[str, str]]
_counter = iter(range(1_000_000))


@pytest.fixture
def keys(engine: Engine) -> KeyCache:
    # Refresh at every use: tests rotate and retire keys and expect the change at once.
    return KeyCache(engine, refresh_every=0, min_refresh=0)


@pytest.fixture
def app_settings() -> Settings:
    return Settings(api_rate_limit=1000, api_rate_burst=1000, api_anonymous_rate_limit=1000,
                    api_anonymous_rate_burst=1000)


@pytest.fixture
def api(engine: Engine, keys: KeyCache, app_settings: Settings) -> TestClient:
    return TestClient(create_app(engine, app_settings, keys=keys), raise_server_exceptions=False)


@pytest.fixture
def charges(engine: Engine) -> None:
    """Four claims: V1, V3, H1 billed by 1234567893 (V3 routed for review), V2 by 1234567890 (held)."""
    with engine.begin() as conn:
        ingest_file(conn, CHARGES.encode(), filename="charges.csv", channel="test",
                    now=datetime(2026, 3, 20, 18, tzinfo=UTC))


@pytest.fixture
def token_for(engine: Engine) -> TokenFor:
    """Authorization headers of a new client with these roles (and facilities), optionally issued at ``at``."""

    def make(*roles: str, facilities: Sequence[str] = (), at: datetime | None = None,
             ttl: timedelta = timedelta(minutes=15), user: bool = False) -> dict[str, str]:
        name = f"{'-'.join(roles)}-{next(_counter)}"
        with engine.begin() as conn:
            if user:
                record = create_user(conn, name, "correct horse battery", roles=roles, facilities=facilities,
                                     actor="test", now=utc_now())
            else:
                record, _ = create_client(conn, name, roles=roles, facilities=facilities, actor="test",
                                          now=utc_now())
            token = issue_token(conn, record.principal(), now=at or utc_now(), ttl=ttl)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def admin(token_for: TokenFor) -> dict[str, str]:
    return token_for("admin")

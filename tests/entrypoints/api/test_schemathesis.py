"""Property-based requests against the live OpenAPI document (schemathesis): for every operation, generated
paths, queries and bodies, sent with an admin token to the app over the test database, never get a 5xx.

Bounded: a few examples per operation, so the whole run stays in seconds. Mutating operations run too (on
a throw-away database): they must refuse nonsense with 4xx problems, not fail."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.migrate import ensure_schema
from rcmflow.adapters.store.schema import utc_now
from rcmflow.entrypoints.api.app import create_app
from rcmflow.services.intake import ingest_file
from rcmflow.services.principals import create_client
from rcmflow.services.tokens import KeyCache, issue_token
from rcmflow.settings import Settings
from tests.entrypoints.test_cli_claims import CHARGES


def _app_and_token(url: str) -> tuple[object, str]:
    engine: Engine = create_engine_for(url)
    ensure_schema(engine)
    with engine.begin() as conn:
        ingest_file(conn, CHARGES.encode(), filename="charges.csv", channel="test", now=utc_now())
        record, _ = create_client(conn, "schemathesis", roles=["admin"], actor="test", now=utc_now())
        token = issue_token(conn, record.principal(), now=utc_now())
    app = create_app(engine, Settings(api_rate_limit=100_000, api_rate_burst=100_000),
                     keys=KeyCache(engine, refresh_every=3600))
    return app, token


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.schemas.BaseSchema:
    import os

    base = os.environ.get("RCMFLOW_TEST_DATABASE_URL")
    url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'api.db'}"
    if base:  # PostgreSQL: a schema of its own, dropped with the test database's other throw-away schemas
        from tests.conftest import _postgres_base_url, _postgres_schema

        with _postgres_schema(_postgres_base_url() or base) as pg_url:
            app, token = _app_and_token(pg_url)
            yield _loaded(app, token)
        return
    app, token = _app_and_token(url)
    yield _loaded(app, token)


def _loaded(app: object, token: str) -> schemathesis.schemas.BaseSchema:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.token = token  # type: ignore[attr-defined]
    return schema


def test_no_operation_answers_with_a_server_error(api_schema: schemathesis.schemas.BaseSchema) -> None:
    # Operation by operation with hypothesis directly (schemathesis's pytest plugin does not load under this
    # pytest): every operation of the document, a bounded number of generated cases each.
    token = api_schema.token  # type: ignore[attr-defined]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:  # every refusal is a problem document
                assert response.headers["content-type"][0].startswith("application/problem+json"), (
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")

        check()

"""``rcmflow auth``: a client created on the command line gets a token from the API with its secret; users,
listing, deactivation and signing key rotation."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from rcmflow.adapters.store.schema import audit_log
from rcmflow.entrypoints.api.app import create_app
from rcmflow.entrypoints.cli import app
from rcmflow.services.tokens import KeyCache

runner = CliRunner()


@pytest.fixture
def database(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    from rcmflow.adapters.store.engine import get_engine
    from rcmflow.settings import get_settings, reset_settings

    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    reset_settings()
    yield get_engine(get_settings())
    reset_settings()


def _ok(*args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_create_client_prints_credentials_once_that_obtain_a_token(database: Engine) -> None:
    created = json.loads(_ok("auth", "create-client", "epic-interface", "--role", "integration",
                             "--facility", "1234567893", "--json"))
    assert set(created) == {"client_id", "client_secret"}
    api = TestClient(create_app(database, keys=KeyCache(database, refresh_every=0, min_refresh=0)))
    token = api.post("/v1/oauth/token", data={"grant_type": "client_credentials", **created})
    assert token.status_code == 200, token.text
    me = api.get("/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}).json()
    assert me["roles"] == ["integration"] and me["facilities"] == ["1234567893"]
    listed = json.loads(_ok("auth", "list", "--json"))
    assert [row["name"] for row in listed] == ["epic-interface"] and "secret" not in json.dumps(listed)
    with database.connect() as conn:
        assert conn.execute(select(audit_log.c.action)).scalars().all() == ["create client"]


def test_an_unknown_role_is_refused_naming_the_known_ones(database: Engine) -> None:
    result = runner.invoke(app, ["auth", "create-client", "x", "--role", "wizard"])
    assert result.exit_code != 0 and "biller" in str(result.exception) and "wizard" in str(result.exception)


def test_users_log_in_and_deactivated_ones_cannot(database: Engine) -> None:
    _ok("auth", "create-user", "Maria", "--role", "payment-poster", "--password-stdin",
        stdin="a long enough password\n")
    api = TestClient(create_app(database, keys=KeyCache(database, refresh_every=0, min_refresh=0)))
    login = api.post("/v1/session", json={"username": "maria", "password": "a long enough password"})
    assert login.status_code == 200 and login.json()["roles"] == ["payment_poster"]
    _ok("auth", "deactivate", "user:maria")
    assert api.get("/v1/me").status_code == 401
    short = runner.invoke(app, ["auth", "create-user", "li", "--role", "coder", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "12 characters" in str(short.exception)


def test_rotate_and_retire_signing_keys(database: Engine) -> None:
    from rcmflow.services.tokens import list_signing_keys

    _ok("auth", "rotate-key")
    with database.connect() as conn:
        [first] = [key.kid for key in list_signing_keys(conn)]
    _ok("auth", "rotate-key")
    refused = runner.invoke(app, ["auth", "retire-key", "nope"])
    assert refused.exit_code != 0
    _ok("auth", "retire-key", first)
    shown = _ok("auth", "keys")
    assert "retired" in shown and "signing" in shown

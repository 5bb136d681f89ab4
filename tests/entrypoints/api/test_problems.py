"""One problem handler: a refusal is a problem document and nothing more; a failure of the server's own (a PHI key
missing, storage down) is a problem document the operators also find in the log, with its traceback."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rcmflow.adapters.crypto.keyring import DecryptionError
from rcmflow.entrypoints.api.problems import install_problem_handlers
from rcmflow.errors import NotFoundError


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/missing-key")
    def missing_key() -> None:
        raise DecryptionError("signing_keys.private_key: stored value is under PHI key 'k1', which the keyring lacks")

    @app.get("/missing-claim")
    def missing_claim() -> None:
        raise NotFoundError(kind="claim", key=7)

    return app


def test_a_server_side_error_is_logged_as_well_as_answered(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rcmflow.entrypoints.api.problems")
    client = TestClient(_app())
    response = client.get("/missing-key")
    assert response.status_code == 500 and response.json()["code"] == "decryption"
    assert response.headers["content-type"] == "application/problem+json"
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "decryption on GET /missing-key" in record.getMessage() and "'k1'" in record.getMessage()


def test_a_refusal_of_the_request_is_not_an_error_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rcmflow.entrypoints.api.problems")
    response = TestClient(_app()).get("/missing-claim")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert caplog.records == []

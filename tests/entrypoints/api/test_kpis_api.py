"""``GET /v1/reports/kpis``: the KPI report of ``docs/kpis.md``, limited to the caller's facilities."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from rcmflow.domain.kpis import KPIS
from tests.entrypoints.api.conftest import TokenFor


def _totals(body: dict[str, Any], key: str) -> dict[str | None, str | None]:
    return {v["group"]: v["value"] for v in body["values"] if v["key"] == key}


def test_the_kpi_report_by_facility(api: TestClient, token_for: TokenFor, charges: None) -> None:
    response = api.get("/v1/reports/kpis", params={"by": "facility", "window_days": 7},
                       headers=token_for("biller"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["by"], body["window_days"]) == ("facility", 7)
    assert [v["key"] for v in body["values"] if v["group"] is None] == list(KPIS)
    # Four open claims: V1, V3, H1 billed by 1234567893, V2 by 1234567890.
    assert _totals(body, "claims_backlog") == {None: "4", "1234567890": "1", "1234567893": "3"}


def test_a_facility_scoped_caller_sees_its_facilities_only(api: TestClient, token_for: TokenFor,
                                                           charges: None) -> None:
    body = api.get("/v1/reports/kpis", headers=token_for("biller", facilities=["1234567893"])).json()
    assert _totals(body, "claims_backlog") == {None: "3"}
    assert _totals(body, "cash_posted") == {None: None}  # organisation-wide: not for a scoped caller
    assert api.get("/v1/reports/kpis", headers=token_for("admin")).json()["values"][0]["value"] == "4"


def test_an_unknown_dimension_or_window_is_refused(api: TestClient, token_for: TokenFor) -> None:
    headers = token_for("biller")
    assert api.get("/v1/reports/kpis", params={"by": "colour"}, headers=headers).status_code == 422
    assert api.get("/v1/reports/kpis", params={"window_days": 0}, headers=headers).status_code == 422
    assert api.get("/v1/reports/kpis", headers=token_for("coder")).status_code == 403

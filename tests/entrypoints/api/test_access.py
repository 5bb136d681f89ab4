"""Authentication and authorisation through the API: every route refuses callers without the permission it
declares (the RBAC matrix), data stays within a principal's facilities, segregation of duties holds through
the API, and tokens expire, rotate and retire as documented."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import ROLES
from rcmflow.entrypoints.api.app import create_app
from rcmflow.entrypoints.api.security import api_routes, route_permission
from rcmflow.entrypoints.web.errors import is_web_page
from rcmflow.services.principals import create_client, set_active
from rcmflow.services.tokens import rotate_signing_key
from tests.entrypoints.api.conftest import TokenFor

# Routes anyone may call: logging in, getting a token, the public keys, health and the docs.
PUBLIC = {("POST", "/v1/oauth/token"), ("GET", "/v1/oauth/jwks"), ("POST", "/v1/session"),
          ("DELETE", "/v1/session"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
          ("GET", "/docs"), ("GET", "/openapi.json")}
# Routes that need a principal but no particular permission.
ANY_PRINCIPAL = {("GET", "/v1/me")}


def _routes(engine: Engine) -> list[tuple[str, str, str | None]]:
    every = []
    for route in api_routes(create_app(engine).routes):
        if is_web_page(route.path):  # the UI's pages: tests/entrypoints/web/test_access.py
            continue
        for method in route.methods:
            every.append((method, route.path, route_permission(route)))
    return sorted(every)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    concrete = re.sub(r"\{[a-z_]+\}", "1", path)
    return client.request(method, concrete, headers=headers, json={} if method == "POST" else None).status_code


def test_every_route_is_public_by_decision_or_declares_a_permission(engine: Engine) -> None:
    for method, path, permission in _routes(engine):
        if (method, path) in PUBLIC:
            assert permission is None, f"{method} {path} is listed as public but requires {permission!r}"
        elif (method, path) in ANY_PRINCIPAL:
            assert permission == "", f"{method} {path} should need a principal and no permission"
        else:
            assert permission is not None, f"{method} {path} declares no permission: add require(...) or list it"


def test_rbac_matrix_over_every_route_and_role(api: TestClient, engine: Engine, token_for: TokenFor) -> None:
    tokens = {role: token_for(role) for role in ROLES}
    checked = 0
    for method, path, permission in _routes(engine):
        if not permission:
            continue
        assert _call(api, method, path, {}) == 401, f"{method} {path} without credentials"
        for role, headers in tokens.items():
            status = _call(api, method, path, headers)
            if permission in ROLES[role]:
                assert status not in (401, 403), f"{role} may {permission}: {method} {path} said {status}"
            else:
                response = api.request(method, re.sub(r"\{[a-z_]+\}", "1", path), headers=headers,
                                       json={} if method == "POST" else None)
                assert response.status_code == 403, f"{role} lacks {permission}: {method} {path}"
                assert response.json()["reason"] == "missing_permission"
                assert response.headers["content-type"] == "application/problem+json"
            checked += 1
    assert checked >= 20 * len(ROLES)


def test_auditors_read_everything_and_change_nothing() -> None:
    auditor = ROLES["auditor"]
    assert all(permission.endswith(":read") for permission in auditor)
    assert "audit:read" in auditor and "claims:read" in auditor


def test_claims_and_work_items_stay_within_the_facilities_of_the_caller(
        api: TestClient, charges: None, token_for: TokenFor) -> None:
    clinic = token_for("biller", facilities=["1234567893"])
    everywhere = token_for("biller")
    mine = api.get("/v1/claims", headers=clinic).json()["items"]
    every = api.get("/v1/claims", headers=everywhere).json()["items"]
    assert sorted(c["source_id"] for c in mine) == ["H1", "V1", "V3"]
    assert sorted(c["source_id"] for c in every) == ["H1", "V1", "V2", "V3"]
    v2 = next(c for c in every if c["source_id"] == "V2")
    refused = api.get(f"/v1/claims/{v2['id']}", headers=clinic)
    assert refused.status_code == 403 and refused.json()["reason"] == "facility_out_of_scope"
    assert api.get(f"/v1/claims/{v2['id']}", headers=everywhere).status_code == 200

    items = api.get("/v1/work-items", headers=everywhere).json()["items"]
    held = next(i for i in items if i["object_id"] == str(v2["id"]))
    assert held["facility_id"] == "1234567890"
    assert held["id"] not in [i["id"] for i in api.get("/v1/work-items", headers=clinic).json()["items"]]
    for attempt in (api.get(f"/v1/work-items/{held['id']}", headers=clinic),
                    api.post(f"/v1/work-items/{held['id']}/resolve", headers=clinic,
                             json={"resolution_code": "fixed"})):
        assert attempt.status_code == 403 and attempt.json()["reason"] == "facility_out_of_scope"
    assert api.get(f"/v1/work-items/{held['id']}", headers=everywhere).json()["state"] == "open"


def _approval_request(engine: Engine, maker: str) -> int:
    from rcmflow.services.approvals import submit
    from rcmflow.services.policies import configured_approval_policy

    with engine.begin() as conn:
        ref = submit(conn, configured_approval_policy(), object_type="supplier invoice", object_id="INV-9",
                     maker=maker, amount=Decimal("2500.00"), attributes={"vendor": "V1"}, actor=maker,
                     now=utc_now())
    assert ref is not None
    return ref.id


def test_segregation_of_duties_holds_through_the_api(api: TestClient, engine: Engine, token_for: TokenFor) -> None:
    maker = token_for("approver", "ap_clerk", user=True)
    maker_name = api.get("/v1/me", headers=maker).json()["name"]
    request_id = _approval_request(engine, f"user:{maker_name}")
    refused = api.post(f"/v1/approvals/{request_id}/approve", headers=maker, json={})
    assert refused.status_code == 403 and refused.json()["reason"] == "sod_maker"

    system = token_for("approver")  # a client: systems never decide approvals
    assert api.post(f"/v1/approvals/{request_id}/approve", headers=system, json={}).json()["reason"] == "not_in_role"

    checker = token_for("approver", user=True)
    decided = api.post(f"/v1/approvals/{request_id}/approve", headers=checker, json={"reason": "matches the PO"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["decisions"][0]["approver"].startswith("user:approver")
    again = api.post(f"/v1/approvals/{request_id}/approve", headers=checker, json={})
    assert again.status_code in (403, 409) and again.json()["code"] != "internal_error"


def test_an_expired_token_is_refused_with_401(api: TestClient, token_for: TokenFor) -> None:
    stale = token_for("biller", at=utc_now() - timedelta(minutes=20), ttl=timedelta(minutes=15))
    response = api.get("/v1/claims", headers=stale)
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    tampered = dict(token_for("biller"))
    tampered["Authorization"] = tampered["Authorization"][:-4] + "AAAA"
    assert api.get("/v1/claims", headers=tampered).status_code == 401


def _client_token(api: TestClient, engine: Engine, *, scope: str | None = None,
                  roles: tuple[str, ...] = ("biller",)) -> tuple[str, dict[str, str]]:
    with engine.begin() as conn:
        record, secret = create_client(conn, f"ehr-{utc_now().timestamp()}", roles=roles, actor="test",
                                       now=utc_now())
    form = {"grant_type": "client_credentials", "client_id": record.id, "client_secret": secret}
    if scope:
        form["scope"] = scope
    response = api.post("/v1/oauth/token", data=form)
    assert response.status_code == 200, response.text
    return record.id, response.json()


def test_client_credentials_grant_issues_a_token_with_the_scopes_asked(api: TestClient, engine: Engine) -> None:
    _, body = _client_token(api, engine, scope="claims:read")
    assert body["token_type"] == "Bearer" and body["scope"] == "claims:read" and body["expires_in"] == 900
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert api.get("/v1/claims", headers=headers).status_code == 200
    narrowed = api.get("/v1/work-items", headers=headers)  # a biller may, this token may not
    assert narrowed.status_code == 403 and narrowed.json()["reason"] == "missing_permission"
    too_much = api.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": "x",
                                                 "client_secret": "y"})
    assert too_much.status_code == 401 and too_much.json()["code"] == "unauthenticated"


def test_a_scope_the_client_does_not_hold_is_refused(api: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        record, secret = create_client(conn, "narrow", roles=["coder"], actor="test", now=utc_now())
    response = api.post("/v1/oauth/token", auth=(record.id, secret),
                        data={"grant_type": "client_credentials", "scope": "audit:read"})
    assert response.status_code == 403 and response.json()["reason"] == "scope_not_granted"


def test_rotating_keeps_old_tokens_valid_and_retiring_revokes_them(api: TestClient, engine: Engine) -> None:
    from rcmflow.services.tokens import list_signing_keys, retire_signing_key

    _, first = _client_token(api, engine)
    old = {"Authorization": f"Bearer {first['access_token']}"}
    with engine.begin() as conn:
        old_kid = list_signing_keys(conn)[-1].kid
        new_kid = rotate_signing_key(conn, utc_now())
    _, second = _client_token(api, engine)
    new = {"Authorization": f"Bearer {second['access_token']}"}
    assert api.get("/v1/claims", headers=old).status_code == 200  # signed by the old key, still good
    assert api.get("/v1/claims", headers=new).status_code == 200
    assert [k["kid"] for k in api.get("/v1/oauth/jwks").json()["keys"]] == sorted([old_kid, new_kid])
    with engine.begin() as conn:
        with pytest.raises(Exception, match="current signing key"):
            retire_signing_key(conn, new_kid, utc_now())
        retire_signing_key(conn, old_kid, utc_now())
    retired = api.get("/v1/claims", headers=old)
    assert retired.status_code == 401 and "retired" in retired.json()["detail"]
    assert api.get("/v1/claims", headers=new).status_code == 200


def test_a_deactivated_client_is_refused(api: TestClient, engine: Engine) -> None:
    client_id, body = _client_token(api, engine)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert api.get("/v1/claims", headers=headers).status_code == 200
    with engine.begin() as conn:
        set_active(conn, client_id, False)
    assert api.get("/v1/claims", headers=headers).status_code == 401


def test_people_log_in_with_a_session_cookie_and_out_again(api: TestClient, engine: Engine) -> None:
    from rcmflow.services.principals import create_user

    with engine.begin() as conn:
        create_user(conn, "Dana", "correct horse battery", roles=["biller"], actor="test", now=utc_now())
    assert api.post("/v1/session", json={"username": "dana", "password": "wrong password!"}).status_code == 401
    login = api.post("/v1/session", json={"username": "dana", "password": "correct horse battery"})
    assert login.status_code == 200 and login.json()["id"] == "user:dana"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert api.get("/v1/me").json()["roles"] == ["biller"]  # the client keeps the cookie
    assert api.get("/v1/claims").status_code == 200
    assert api.get("/v1/audit").json()["reason"] == "missing_permission"
    assert api.delete("/v1/session").status_code == 204
    api.cookies.set("rcmflow_session", cookie.split(";")[0].split("=", 1)[1])
    assert api.get("/v1/me").status_code == 401  # the ended session is refused even if the cookie is replayed


def test_the_documented_permission_table_is_the_one_enforced() -> None:
    from pathlib import Path

    from rcmflow.domain.access import PERMISSIONS

    doc = (Path(__file__).parents[3] / "docs" / "api.md").read_text()
    header = next(line for line in doc.splitlines() if line.startswith("| permission |"))
    roles = [cell.strip() for cell in header.strip("|").split("|")[1:]]
    assert roles == list(ROLES)
    documented = {}
    for line in doc.splitlines():
        if line.startswith("| `") and ":" in line.split("|")[1]:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            documented[cells[0].strip("`")] = {role for role, cell in zip(roles, cells[1:], strict=True) if cell}
    assert set(documented) == set(PERMISSIONS)
    assert all(documented[p] == {r for r in ROLES if p in ROLES[r]} for p in PERMISSIONS)


def test_people_holding_an_approval_chain_role_decide_its_level_through_the_api(
        api: TestClient, engine: Engine, token_for: TokenFor) -> None:
    from rcmflow.services.approvals import submit
    from rcmflow.services.policies import configured_approval_policy

    with engine.begin() as conn:
        ref = submit(conn, configured_approval_policy(), object_type="refund", object_id="RF-1", maker="user:clerk",
                     amount=Decimal("750.00"), attributes={}, actor="user:clerk", now=utc_now())
    assert ref is not None and ref.chain[0].role == "revenue_cycle_manager"
    plain_approver = token_for("approver", user=True)
    refused = api.post(f"/v1/approvals/{ref.id}/approve", headers=plain_approver, json={})
    assert refused.status_code == 403 and refused.json()["reason"] == "not_in_role"
    manager = token_for("approver", "revenue-cycle-manager", user=True)
    assert api.get("/v1/me", headers=manager).json()["permissions"] == sorted(ROLES["approver"])  # no more API
    decided = api.post(f"/v1/approvals/{ref.id}/approve", headers=manager, json={})
    assert decided.status_code == 200 and decided.json()["state"] == "approved"


def test_a_role_neither_of_the_api_nor_of_the_approval_policy_is_refused(engine: Engine) -> None:
    from rcmflow.errors import InputError

    with engine.begin() as conn, pytest.raises(InputError, match="approval roles: .*revenue_cycle_manager"):
        create_client(conn, "x", roles=["wizard"], actor="test", now=utc_now())

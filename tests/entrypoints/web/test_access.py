"""Who may open which page: every UI route declares its permission like an API route; a visitor without a
session is sent to the login page; a person whose roles lack the permission gets a 403 page naming why; a
form without this session's token is refused."""

from __future__ import annotations

import itertools
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import ROLES
from rcmflow.entrypoints.api.app import create_app
from rcmflow.entrypoints.api.security import api_routes, route_permission
from rcmflow.entrypoints.web.errors import is_web_page
from rcmflow.services.principals import create_user
from rcmflow.settings import Settings

PASSWORD = "correct horse battery"
# Pages anyone may open: the login form (and the redirect of / to it).
PUBLIC = {("GET", "/"), ("GET", "/ui/login"), ("POST", "/ui/login")}
# Pages for any logged-in person: the start page (which sends each to the first page their roles allow)
# and logging out.
ANY_PERSON = {("GET", "/ui/"), ("POST", "/ui/logout")}
_names = itertools.count(1)


def _pages(engine: Engine) -> list[tuple[str, str, str | None]]:
    found = []
    for route in api_routes(create_app(engine).routes):
        if is_web_page(route.path) and route.path != "/ui/vendor/plotly.min.js":
            found.extend((method, route.path, route_permission(route)) for method in route.methods)
    return sorted(found)


def _person(engine: Engine, api: TestClient, *roles: str) -> TestClient:
    name = f"person{next(_names)}"
    with engine.begin() as conn:
        create_user(conn, name, PASSWORD, roles=roles, actor="test", now=utc_now())
    client = TestClient(api.app, raise_server_exceptions=False)
    response = client.post("/ui/login", data={"username": name, "password": PASSWORD, "next": "/ui/"},
                           follow_redirects=False)
    assert response.status_code == 303
    return client


@pytest.fixture
def api(engine: Engine) -> TestClient:
    return TestClient(create_app(engine, Settings()), raise_server_exceptions=False)


def test_every_page_is_public_by_decision_or_declares_a_permission(engine: Engine) -> None:
    pages = _pages(engine)
    assert len(pages) >= 15
    for method, path, permission in pages:
        if (method, path) in PUBLIC:
            assert permission is None, f"{method} {path} is public but requires {permission!r}"
        elif (method, path) in ANY_PERSON:
            assert permission == "", f"{method} {path} should need a person and no permission"
        else:
            assert permission, f"{method} {path} declares no permission: add require(...) or list it"


def test_pages_send_visitors_to_log_in_and_refuse_roles_without_the_permission(engine: Engine, api: TestClient) -> None:
    people = {role: _person(engine, api, role) for role in ROLES}
    checked = 0
    for method, path, permission in _pages(engine):
        if method != "GET" or not permission:
            continue
        concrete = re.sub(r"\{[a-z_]+\}", "1", path)
        anonymous = api.get(concrete, follow_redirects=False)
        assert anonymous.status_code == 303, path
        assert anonymous.headers["location"].startswith("/ui/login?next=")
        for role, client in people.items():
            response = client.get(concrete, follow_redirects=False)
            if permission in ROLES[role]:
                assert response.status_code not in (401, 403), f"{role} may {permission}: {path}"
            else:
                assert response.status_code == 403, f"{role} lacks {permission}: {path}"
                assert "text/html" in response.headers["content-type"]
                assert "Your role does not allow this page" in response.text
            checked += 1
    assert checked >= 8 * len(ROLES)


def test_a_form_without_this_sessions_token_is_refused(engine: Engine, api: TestClient) -> None:
    client = _person(engine, api, "biller")
    response = client.post("/ui/work/assign", data={"item": "1", "to_me": "1", "csrf": "forged"})
    assert response.status_code == 403
    assert "The form expired or came from elsewhere" in response.text


def test_the_login_page_refuses_a_wrong_password_and_never_redirects_off_site(engine: Engine, api: TestClient) -> None:
    with engine.begin() as conn:
        create_user(conn, "casey", PASSWORD, roles=["biller"], actor="test", now=utc_now())
    wrong = api.post("/ui/login", data={"username": "casey", "password": "nope nope nope", "next": "/ui/work"},
                     follow_redirects=False)
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    right = api.post("/ui/login", data={"username": "casey", "password": PASSWORD, "next": "//evil.example/x"},
                     follow_redirects=False)
    assert right.status_code == 303 and right.headers["location"] == "/ui/"
    assert "rcmflow_session" in right.cookies
    assert api.get("/ui/", follow_redirects=False).headers["location"] == "/ui/tower"

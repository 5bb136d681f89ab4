"""Logging in and out of the UI: the same users, passwords (argon2) and sessions as ``POST /v1/session``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import audit
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import SESSION_COOKIE, current_principal
from rcmflow.entrypoints.web.forms import Form, read_form, submitted_form
from rcmflow.entrypoints.web.render import NAVIGATION, page

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=OneHopRoute)


def _safe_next(target: str) -> str:
    # Only a page of this UI: an open redirect would let a link to the login page send a person elsewhere.
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


@router.get("/")
def home(principal: Annotated[Principal, Depends(current_principal)]) -> RedirectResponse:
    """The first page the person may see: the control tower for leads, the work queues for the others."""
    for _label, path, permission in NAVIGATION:
        if principal.may(permission):
            return RedirectResponse(path, status_code=303)
    return RedirectResponse("/ui/login", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/ui/") -> Response:  # noqa: A002 - the query parameter's name
    return page(request, "login.html", None, title="Log in", next=_safe_next(next), error=None, username="")


@router.post("/login")
def login(request: Request, form: Annotated[Form, Depends(read_form)]) -> Response:
    from rcmflow.services.principals import authenticate
    from rcmflow.services.sessions import DEFAULT_SESSION_TTL, open_session

    username, target = form.get("username"), _safe_next(form.get("next", "/ui/"))
    engine = request.app.state.engine
    with engine.begin() as conn:
        record = authenticate(conn, "user", username, form.fields.get("password", [""])[0])
        if record is None:
            return page(request, "login.html", None, status_code=401, title="Log in", next=target,
                        error="Wrong username or password.", username=username)
        session = open_session(conn, record.id, now=utc_now())
        audit(conn, request, record.principal(), "log in", "principal", record.id)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, session, max_age=int(DEFAULT_SESSION_TTL.total_seconds()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
def logout(request: Request, principal: Annotated[Principal, Depends(current_principal)],
           form: Annotated[Form, Depends(submitted_form)]) -> Any:
    from rcmflow.services.sessions import close_session

    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with request.app.state.engine.begin() as conn:
            close_session(conn, token, now=utc_now())
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

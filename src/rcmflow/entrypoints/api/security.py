"""Who is calling, and may they: bearer tokens and session cookies resolved once per request, permissions
and facility scope checked by route dependencies.

Resolution happens in an ASGI middleware (``install_authentication``) so that the layers after it (rate
limits per principal, idempotency keys per principal, access logs) know the caller; refusing is left to
the routes, which declare the permission they need with ``Depends(require("claims:read"))``. A route
without such a dependency is public; ``tests/entrypoints/api/test_access.py`` lists the public ones and
fails when another appears.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.models import OAuthFlowClientCredentials
from fastapi.openapi.models import OAuthFlows as OAuthFlowsModel
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, OAuth2
from starlette.types import ASGIApp, Receive, Scope, Send

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import PERMISSIONS, Principal
from rcmflow.errors import ForbiddenError, UnauthenticatedError
from rcmflow.services.tokens import InvalidTokenError, KeyCache, verify_token

SESSION_COOKIE = "rcmflow_session"
PUBLIC_PATHS = frozenset({"/v1/oauth/token", "/v1/oauth/jwks", "/v1/session"})


class _Unresolved:
    """Why the credentials presented could not be accepted (kept until a route asks for a principal)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, cookie = part.strip().partition("=")
                if key == name:
                    return cookie
    return None


def _session_principal(engine: Any, token: str) -> Principal | None:
    from rcmflow.services.sessions import session_principal

    with engine.begin() as conn:
        record = session_principal(conn, token, now=utc_now())
    return record.principal() if record else None


class AuthenticationMiddleware:
    """Puts the caller in ``scope["state"]["principal"]`` (a Principal, or the reason it is not one)."""

    def __init__(self, app: ASGIApp, keys: KeyCache, engine: Any) -> None:
        self.app = app
        self.keys = keys
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope.setdefault("state", {})
            state["principal"] = await self._resolve(scope)
            if isinstance(state["principal"], Principal):
                state["principal_id"] = state["principal"].id
        await self.app(scope, receive, send)

    async def _resolve(self, scope: Scope) -> Principal | _Unresolved | None:
        token = _bearer(scope)
        if token is not None:
            if not token:
                return _Unresolved("the Authorization header is not a bearer token")
            known = self.keys.verified(token)  # the common case: the caller's token was seen moments ago
            if known is not None:
                return known
            try:
                # Verifying reads the key cache, which refreshes from the database now and then.
                return await anyio.to_thread.run_sync(verify_token, token, self.keys)
            except InvalidTokenError as exc:
                return _Unresolved(str(exc))
        session = _cookie(scope, SESSION_COOKIE)
        if session:
            principal = await anyio.to_thread.run_sync(_session_principal, self.engine, session)
            return principal or _Unresolved("the session has ended; log in again")
        return None


def install_authentication(app: FastAPI, keys: KeyCache) -> None:
    app.state.keys = keys
    app.add_middleware(AuthenticationMiddleware, keys=keys, engine=app.state.engine)


# The security schemes of the OpenAPI document (and Swagger UI's Authorize button). They are not route
# dependencies: the middleware above resolves the caller once, and FastAPI's resolution of two more
# dependencies per request cost more than the check itself. ``document_security`` puts them in the document.
oauth2_scheme = OAuth2(flows=OAuthFlowsModel(clientCredentials=OAuthFlowClientCredentials(
    tokenUrl="/v1/oauth/token", scopes=PERMISSIONS)), scheme_name="oauth2", auto_error=False,
    description="OAuth2 client credentials; send the access token as a bearer token. Scopes are permissions.")
session_scheme = APIKeyCookie(name=SESSION_COOKIE, scheme_name="session", auto_error=False,
                              description="The session cookie of a person logged in with POST /v1/session.")


def _principal_of(request: Request) -> Principal:
    resolved = request.scope.get("state", {}).get("principal")
    if isinstance(resolved, Principal):
        return resolved
    if isinstance(resolved, _Unresolved):
        raise UnauthenticatedError(resolved.reason)
    raise UnauthenticatedError("credentials are required: a bearer token (POST /v1/oauth/token) or a session")


async def current_principal(request: Request) -> Principal:
    """The caller, whatever it may do (``/v1/me``); 401 without acceptable credentials."""
    return _principal_of(request)


current_principal.permission = ""  # type: ignore[attr-defined]  # authenticated, no permission: see below


def require(permission: str) -> Callable[..., Any]:
    """A dependency that yields the caller when it holds ``permission``, else refuses with 403."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    # async: FastAPI would run a sync dependency in a worker thread, for a check that takes microseconds.
    async def dependency(request: Request) -> Principal:
        principal = _principal_of(request)
        if not principal.may(permission):
            raise ForbiddenError(f"this {principal.kind} lacks the {permission} permission",
                                 reason="missing_permission")
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the RBAC matrix test, the docs
    return dependency


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every API route, also those of included routers (FastAPI keeps an included router as one entry)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes))
    return found


def route_permission(route: Any) -> str | None:
    """The permission a route's dependencies require ("" when it needs a principal and no permission; None
    when it is public)."""
    found = {getattr(dep.call, "permission", None) for dep in route.dependant.dependencies} - {None}
    return found.pop() if found else None


def document_security(app: FastAPI, routes: list[Any]) -> None:
    """Generate the OpenAPI document with each protected operation's security requirement (the permission as
    the OAuth2 scope, or the session cookie) and the two schemes."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            for route in routes:
                permission = route_permission(route)
                if permission is None:
                    continue
                scopes = [permission] if permission else []
                for method in route.methods:
                    document["paths"][route.path_format][method.lower()]["security"] = [
                        {"oauth2": scopes}, {"session": scopes}]
            document.setdefault("components", {})["securitySchemes"] = {
                "oauth2": oauth2_scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True),
                "session": session_scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)}
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def check_facility(principal: Principal, facility_id: str | None, what: str) -> None:
    if not principal.sees_facility(facility_id):
        raise ForbiddenError(f"{what} belongs to a facility outside this {principal.kind}'s scope",
                             reason="facility_out_of_scope")


def facility_filter(principal: Principal) -> tuple[str, ...] | None:
    """The facilities a list query is limited to; None: every facility."""
    return None if principal.every_facility else principal.facilities


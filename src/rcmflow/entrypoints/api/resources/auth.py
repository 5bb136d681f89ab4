"""Authentication endpoints: the OAuth2 token endpoint (client credentials), the JWKS of the verifying
keys, web sessions for people, and who the caller is."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal, grantable_scopes
from rcmflow.entrypoints.api.deps import WriteConn, audit
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import SESSION_COOKIE, current_principal
from rcmflow.errors import ForbiddenError, InputError, UnauthenticatedError

router = APIRouter(prefix="/v1", tags=["authentication"], route_class=OneHopRoute)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PrincipalOut(BaseModel):
    id: str
    kind: str
    name: str
    roles: list[str]
    permissions: list[str]
    facilities: list[str]


def _principal_out(principal: Principal) -> dict[str, Any]:
    return {"id": principal.id, "kind": principal.kind, "name": principal.name, "roles": list(principal.roles),
            "permissions": sorted(principal.permissions), "facilities": list(principal.facilities)}


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise UnauthenticatedError("the Basic credentials are not base64 of client_id:client_secret") from exc
    return client_id, secret


_TOKEN_FORM = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["grant_type"],
    "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                   "client_id": {"type": "string"}, "client_secret": {"type": "string"},
                   "scope": {"type": "string", "description": "Space-separated permissions wanted."}}}}}}}


@router.post("/oauth/token", response_model=TokenResponse, openapi_extra=_TOKEN_FORM,
             responses={401: {"description": "Unknown client or wrong secret."}})
async def token(request: Request) -> Any:
    """OAuth2 client credentials grant (RFC 6749 section 4.4): credentials in the form or as HTTP Basic."""
    from starlette.concurrency import run_in_threadpool

    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise InputError(detail="the token request is a application/x-www-form-urlencoded form")
    # Parsed here rather than with FastAPI's Form(): that needs python-multipart, a dependency for one
    # urlencoded form of four fields.
    try:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(), strict_parsing=False).items()}
    except UnicodeDecodeError as exc:
        raise InputError(detail="the form is not UTF-8") from exc
    if form.get("grant_type") != "client_credentials":
        raise InputError(detail="grant_type must be client_credentials (unsupported_grant_type)")
    credentials = _basic_credentials(request) or (form.get("client_id", ""), form.get("client_secret", ""))
    return await run_in_threadpool(_issue, request, credentials, form.get("scope"))


def _issue(request: Request, credentials: tuple[str, str], scope: str | None) -> dict[str, Any]:
    from rcmflow.services.principals import authenticate
    from rcmflow.services.tokens import issue_token

    settings = request.app.state.settings
    with request.app.state.engine.begin() as conn:
        record = authenticate(conn, "client", *credentials)
        if record is None:
            raise UnauthenticatedError("unknown client or wrong secret (invalid_client)")
        try:
            scopes = grantable_scopes(scope, record.principal().permissions)
        except PermissionError as exc:
            raise ForbiddenError(f"{exc} (invalid_scope)", reason="scope_not_granted") from exc
        principal = record.principal(scopes)
        access_token = issue_token(conn, principal, now=utc_now(), ttl=settings.api_token_ttl)
    return {"access_token": access_token, "token_type": "Bearer",
            "expires_in": int(settings.api_token_ttl.total_seconds()), "scope": " ".join(sorted(scopes))}


@router.get("/oauth/jwks")
def jwks(request: Request) -> dict[str, Any]:
    """The public keys that verify access tokens (JSON Web Key Set)."""
    return request.app.state.keys.public_jwks()


@router.post("/session", response_model=PrincipalOut, responses={401: {"description": "Wrong username or password."}})
def login(request: Request, response: Response, body: LoginRequest, conn: WriteConn) -> dict[str, Any]:
    """Log a person in: sets an HttpOnly, SameSite=Strict session cookie."""
    from rcmflow.services.principals import authenticate
    from rcmflow.services.sessions import DEFAULT_SESSION_TTL, open_session

    record = authenticate(conn, "user", body.username, body.password)
    if record is None:
        raise UnauthenticatedError("wrong username or password")
    session = open_session(conn, record.id, now=utc_now())
    principal = record.principal()
    audit(conn, request, principal, "log in", "principal", principal.id)
    response.set_cookie(SESSION_COOKIE, session, max_age=int(DEFAULT_SESSION_TTL.total_seconds()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return _principal_out(principal)


@router.delete("/session", status_code=204)
def logout(request: Request, conn: WriteConn) -> Response:
    """End the caller's session (the cookie is cleared whether or not one was open)."""
    from rcmflow.services.sessions import close_session

    token = request.cookies.get(SESSION_COOKIE)
    if token:
        close_session(conn, token, now=utc_now())
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=PrincipalOut)
def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    """The caller: its roles, the permissions of this credential, the facilities in scope."""
    return _principal_out(principal)

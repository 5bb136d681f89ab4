"""Request ids and the access log: a pure ASGI middleware (no BaseHTTPMiddleware: no extra task or body copy).

Each HTTP request gets an id: the caller's ``X-Request-ID`` when it is sane (1-64 of ``[A-Za-z0-9._-]``, so
it cannot forge log lines or carry much), else a fresh uuid4 hex. The id is bound in structlog's context
variables for the whole request (every log line of the request carries it), put in
``scope["state"]["request_id"]`` (``request.state.request_id`` in handlers), and returned in the
``X-Request-ID`` response header. One access line per request records method, route template, status,
duration and principal, never the raw path or query string, which may hold identifiers.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Final

import structlog
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER: Final = "X-Request-ID"
_HEADER_KEY: Final = HEADER.lower().encode("latin-1")
_SANE_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")

# A stdlib logger: its fields reach the JSON through the formatter's ExtraAdder, and before configure_logging
# has run it stays as quiet as any other library logger.
access_log = logging.getLogger("rcmflow.access")


def request_id_from(headers: list[tuple[bytes, bytes]] | Any) -> str:
    """The caller's request id when it is sane, else a new one."""
    for name, value in headers:
        if name.lower() == _HEADER_KEY:
            candidate = value.decode("latin-1").strip()
            if _SANE_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_template(scope: Scope, root_path: str) -> str | None:
    """The matched route's path template (``/v1/claims/{claim_id}``), mount prefixes included; None when no
    route matched (a 404), since the raw path could name a patient's id."""
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return None
    mounted = scope.get("root_path", "")
    prefix = mounted[len(root_path):] if mounted.startswith(root_path) else ""
    if isinstance(route, Mount):  # a mounted app without routes of its own (static files): its prefix is the route
        return prefix or "/"
    return (prefix.rstrip("/") + path_format) or "/"


class RequestContextMiddleware:
    """The ASGI middleware behind :func:`install_request_context`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", ()))
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        root_path = scope.get("root_path", "")
        status = 500  # what the server answers when the app raises before starting a response
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(raw=list(message.get("headers", ())))
                headers[HEADER] = request_id
                message["headers"] = headers.raw
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            fields = {"method": scope["method"], "route": route_template(scope, root_path), "status": status,
                      "duration_ms": duration_ms, "principal_id": state.get("principal_id")}
            access_log.log(logging.ERROR if status >= 500 else logging.INFO, "http request", extra=fields)
            structlog.contextvars.reset_contextvars(**tokens)


def install_request_context(app: FastAPI) -> None:
    """Add the request-id and access-log middleware to ``app``.

    Install it last, so it is the outermost layer: every other middleware and handler then runs inside the
    request's context and sees ``request.state.request_id``."""
    app.add_middleware(RequestContextMiddleware)

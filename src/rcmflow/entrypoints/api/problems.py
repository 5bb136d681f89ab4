"""Every API error as an RFC 9457 problem document (``application/problem+json``), through one place.

A business error carries its stable ``code`` and HTTP status (``rcmflow.errors``); request validation
errors name each field at fault; an unknown route or method is a problem too. A bug of ours is a 500 whose
detail names nothing of the request (it may hold PHI): the log has the traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rcmflow.entrypoints.web.errors import error_page, is_page
from rcmflow.errors import ForbiddenError, RcmflowError, UnauthenticatedError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://rcmflow.dev/problems/"
log = logging.getLogger(__name__)


def problem(status: int, code: str, title: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "instance": instance,
            "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RcmflowError)
    async def rcmflow_error(request: Request, exc: RcmflowError) -> Response:
        if exc.http_status >= 500:  # the server's fault (a key missing, storage failing): operators must see it
            log.error("%s on %s %s: %s", exc.code, request.method, request.url.path, exc.message, exc_info=exc)
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if isinstance(exc, ForbiddenError):
            extra["reason"] = exc.reason
        elif exc.http_status == 403:  # a business rule refusing the principal (segregation of duties)
            extra["reason"] = exc.code
        if is_page(request):  # the web UI: a login redirect or an error page, not a problem document
            return error_page(request, exc.http_status, exc.code, exc.message, extra.get("reason"))
        if isinstance(exc, UnauthenticatedError):
            headers["WWW-Authenticate"] = 'Bearer realm="rcmflow"'
        response = problem(exc.http_status, exc.code, exc.code.replace("_", " "), exc.message, request.url.path,
                           **extra)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
                  for error in exc.errors()]
        if is_page(request):
            detail = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
            return error_page(request, 422, "invalid_request", detail)
        return problem(422, "invalid_request", "invalid request", "the request does not match the API's schema",
                       request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if is_page(request):
            return error_page(request, exc.status_code, code, str(exc.detail))
        return problem(exc.status_code, code, code.replace("_", " "), str(exc.detail), request.url.path)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        if is_page(request):
            return error_page(request, 500, "internal_error", "the server failed; the log has the details")
        return problem(500, "internal_error", "internal error", "the server failed; the log has the details",
                       request.url.path)

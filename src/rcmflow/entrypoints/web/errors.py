"""Refusals and failures on ``/ui`` pages: a person without a session goes to the login page; any other
error is a page that says what happened (the same codes and reasons as the API's problem documents)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

UI_PREFIX = "/ui"

# What a person is told for each refusal reason (the API's reason codes).
REASONS = {
    "missing_permission": "Your role does not allow this page or action.",
    "facility_out_of_scope": "This belongs to a facility outside the ones you may see.",
    "sod_maker": "Segregation of duties: the maker of a request never decides it.",
    "sod_repeat": "Segregation of duties: one person decides once per approval chain.",
    "not_in_role": "This approval level needs a role you do not hold (nor hold by delegation).",
    "form_token": "The form expired or came from elsewhere; reload the page and try again.",
}


def is_web_page(path: str) -> bool:
    """Whether ``path`` is the UI's (the root redirects to it)."""
    return path in ("/", UI_PREFIX) or path.startswith(UI_PREFIX + "/")


def is_page(request: Request) -> bool:
    return is_web_page(request.url.path)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path if request.method == "GET" else "/ui/"
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)


def error_page(request: Request, status: int, code: str, detail: str, reason: str | None = None) -> Response:
    from rcmflow.entrypoints.web.render import page

    if status == 401:
        return login_redirect(request)
    resolved = request.scope.get("state", {}).get("principal")
    from rcmflow.domain.access import Principal

    principal = resolved if isinstance(resolved, Principal) else None
    titles = {403: "Not allowed", 404: "Not found", 409: "Not possible now", 422: "Cannot accept this",
              500: "Something failed"}
    return page(request, "error.html", principal, status_code=status, title=titles.get(status, "Error"),
                status=status, code=code, detail=detail, explanation=REASONS.get(reason or ""))

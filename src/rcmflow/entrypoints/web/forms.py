"""HTML forms: reading an urlencoded body, and the per-session token every form carries.

The session cookie is SameSite=Strict, which already keeps other sites' forms from using it; the token is
the second lock (an old browser, a same-site page of another application on the host). It is an HMAC of the
session secret, so it needs no storage and changes with every login.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from fastapi import Request

from rcmflow.entrypoints.api.security import SESSION_COOKIE
from rcmflow.errors import ForbiddenError, InputError

MAX_FORM_BYTES = 64 * 1024  # a person's form: notes and reasons, never files


def csrf_token(request: Request) -> str:
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return ""
    return hmac.new(session.encode(), b"rcmflow-form", hashlib.sha256).hexdigest()


class Form:
    """The fields of a submitted form (every value a string; repeated names keep every value)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def all(self, name: str) -> list[str]:
        return [value.strip() for value in self.fields.get(name, []) if value.strip()]


async def read_form(request: Request) -> Form:
    """The posted form, unchecked: only the login form, which no session exists for yet, stops here."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise InputError(detail="the form must be sent as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InputError(detail=f"the form is larger than {MAX_FORM_BYTES} bytes")
    # Parsed here rather than with FastAPI's Form(): that needs python-multipart for plain urlencoded forms.
    try:
        form = Form(parse_qs(body.decode(), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise InputError(detail="the form is not UTF-8") from exc
    return form


async def submitted_form(request: Request) -> Form:
    """The posted form, its token checked (a dependency of every page that changes something)."""
    form = await read_form(request)
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(form.get("csrf"), expected):
        raise ForbiddenError("the form's token does not match this session; reload the page and try again",
                             reason="form_token")
    return form

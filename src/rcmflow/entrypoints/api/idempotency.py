"""``Idempotency-Key`` on POST: a repeat of a request gets the first response again instead of a second effect.

Keys are per principal. The first request with a key claims it (a row with status 0) before the route runs,
so a concurrent repeat gets 409 instead of running twice; the response is stored when the route finishes
(a 5xx is not stored: the client may retry it and should get a real attempt). The same key on a different
request (method, path, query or body) is refused with 422. Keys are kept for ``RETENTION``; an older key is
forgotten and may be used again. The token and login endpoints are excluded: their responses hold secrets
that must not be stored.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine, delete, select, update
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rcmflow.adapters.store.schema import idempotency_keys, utc_now
from rcmflow.adapters.store.sql import insert_ignoring_conflicts
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.problems import problem

HEADER = b"idempotency-key"
RETENTION = timedelta(hours=24)
EXCLUDED = frozenset({"/v1/oauth/token", "/v1/session"})
_IN_PROGRESS = 0


def _digest(scope: Scope, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


class IdempotencyKeys:
    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope)
        principal = scope.get("state", {}).get("principal") if key else None
        if key is None or not isinstance(principal, Principal):
            await self.app(scope, receive, send)  # no key, or the route will refuse the caller anyway
            return
        if not key or len(key) > 255:
            await problem(422, "invalid_idempotency_key", "invalid idempotency key",
                          "an Idempotency-Key is 1 to 255 characters", scope["path"])(scope, receive, send)
            return
        body = await _read_body(receive)
        digest = _digest(scope, body)
        claimed, stored = await anyio.to_thread.run_sync(self._claim, principal.id, key, digest)
        if not claimed:
            await self._answer_repeat(scope, receive, send, stored, digest)
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capturing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_body, capturing_send)
        except BaseException:
            await anyio.to_thread.run_sync(self._release, principal.id, key)
            raise
        if captured["status"] >= 500:
            await anyio.to_thread.run_sync(self._release, principal.id, key)
        else:
            content_type = next((v.decode("latin-1") for n, v in captured["headers"] if n == b"content-type"), None)
            await anyio.to_thread.run_sync(self._store, principal.id, key, captured["status"], content_type,
                                           bytes(captured["body"]))

    @staticmethod
    def _key(scope: Scope) -> str | None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] in EXCLUDED:
            return None
        for name, value in scope.get("headers", ()):
            if name == HEADER:
                return value.decode("latin-1").strip()
        return None

    def _claim(self, principal_id: str, key: str, digest: str) -> tuple[bool, Any]:
        now = utc_now()
        k = idempotency_keys.c
        with self.engine.begin() as conn:
            conn.execute(delete(idempotency_keys).where(k.principal_id == principal_id, k.key == key,
                                                        k.created_at < now - RETENTION))
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING.
            inserted = conn.execute(insert_ignoring_conflicts(conn, idempotency_keys, "principal_id", "key").values(
                principal_id=principal_id, key=key, request_digest=digest, status_code=_IN_PROGRESS,
                content_type=None, body=b"", created_at=now).returning(k.key)).first()
            if inserted is not None:
                return True, None
            return False, conn.execute(select(idempotency_keys).where(k.principal_id == principal_id,
                                                                      k.key == key)).first()

    def _store(self, principal_id: str, key: str, status: int, content_type: str | None, body: bytes) -> None:
        k = idempotency_keys.c
        with self.engine.begin() as conn:
            conn.execute(update(idempotency_keys).where(k.principal_id == principal_id, k.key == key)
                         .values(status_code=status, content_type=content_type, body=body))

    def _release(self, principal_id: str, key: str) -> None:
        k = idempotency_keys.c
        with self.engine.begin() as conn:
            conn.execute(delete(idempotency_keys).where(k.principal_id == principal_id, k.key == key))

    @staticmethod
    async def _answer_repeat(scope: Scope, receive: Receive, send: Send, stored: Any, digest: str) -> None:
        path = scope["path"]
        if stored is None or stored.request_digest != digest:
            response = problem(422, "idempotency_key_reused", "idempotency key reused",
                               "this Idempotency-Key was used for a different request", path)
        elif stored.status_code == _IN_PROGRESS:
            response = problem(409, "idempotency_key_in_progress", "request in progress",
                               "the first request with this Idempotency-Key is still running", path)
            response.headers["Retry-After"] = "1"
        else:
            headers = [(b"idempotent-replayed", b"true")]
            if stored.content_type:
                headers.append((b"content-type", stored.content_type.encode("latin-1")))
            body = bytes(stored.body)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": stored.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)

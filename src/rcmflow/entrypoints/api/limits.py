"""Request hygiene before any route runs: a cap on body size (413) and a rate limit per caller (429).

Both are pure ASGI middleware: they must answer before a handler starts and cost next to nothing on the
hot path. The rate limit is a token bucket per principal (per client address for calls without valid
credentials, such as the token endpoint), held in the process: with ``--workers N`` each worker process
keeps its own buckets, so the effective limit is N times the configured one (documented in the README).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.problems import problem


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses bodies over ``max_bytes``: at once by Content-Length, else while the body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, send)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        response = problem(413, "payload_too_large", "payload too large",
                           f"the request body is larger than {self.max_bytes} bytes", scope["path"])
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``rate`` requests per second per key, with bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._clock = clock or time.monotonic

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one would."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 100_000:  # forget idle callers rather than grow without bound
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class RateLimit:
    """429 with Retry-After when a caller exceeds its rate; runs after authentication (needs the principal)."""

    def __init__(self, app: ASGIApp, principal_buckets: TokenBuckets, anonymous_buckets: TokenBuckets) -> None:
        self.app = app
        self.principal_buckets = principal_buckets
        self.anonymous_buckets = anonymous_buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        principal = scope.get("state", {}).get("principal")
        if isinstance(principal, Principal):
            wait = self.principal_buckets.take(principal.id)
        else:
            client = scope.get("client")
            wait = self.anonymous_buckets.take(client[0] if client else "unknown")
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            response = problem(429, "rate_limited", "too many requests",
                               f"the rate limit is exceeded; retry after {retry_after} s", scope["path"])
            response.headers["Retry-After"] = retry_after
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ConcurrencyLimit:
    """At most ``limit`` requests inside the app at once per process; the rest wait here, in the event loop.

    Routes run in threads and each holds one pooled database connection: bounding the requests in flight by
    the pool size means no request ever waits for a connection while holding a thread (or times out in the
    pool under a burst); they queue in arrival order instead."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # created in the serving event loop
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)

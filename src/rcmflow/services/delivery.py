"""Delivery of outbox messages: destination handlers, the webhook handler, retry and circuit-breaker policy,
and the idempotent-receiver helper.

A handler takes one ``OutboxMessageView`` and either returns (delivered) or raises
``TemporaryDeliveryError`` (retry later) or ``PermanentDeliveryError`` (retrying cannot help: dead
letter). Any other exception counts as temporary. Delivery is at least once; receivers get the
idempotency key and apply each key once (``apply_once``), which makes the effect exactly once.

A destination with no registered handler is never dropped: the relay leaves its messages pending,
with ``last_error`` saying so, until a handler is configured.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection
from tenacity import RetryCallState, wait_exponential, wait_random

from rcmflow.adapters.store.schema import processed_messages, utc_now
from rcmflow.adapters.store.sql import insert_ignoring_conflicts
from rcmflow.errors import RcmflowError

DEFAULT_WEBHOOK_TIMEOUT = 10.0  # seconds; a receiver slower than this is treated as down for this attempt


class DeliveryError(RcmflowError):
    """Delivering an outbox message failed."""

    code = "delivery_failed"
    http_status = 502


class TemporaryDeliveryError(DeliveryError):
    """The destination is unavailable or overloaded: the same message may succeed later."""

    code = "delivery_temporary"


class PermanentDeliveryError(DeliveryError):
    """The destination refused the message itself: retrying it unchanged cannot succeed."""

    code = "delivery_permanent"


@dataclass(frozen=True, slots=True)
class OutboxMessageView:
    """What a handler sees of one outbox message."""

    id: int
    destination: str
    payload: Mapping[str, Any]
    idempotency_key: str
    attempts: int  # this delivery is attempt number ``attempts``
    organisation_id: str


Handler = Callable[[OutboxMessageView], None]
Resolver = Callable[[str], Handler | None]  # destination -> its handler, None when it has none


class HandlerRegistry:
    """Destination name -> the handler that delivers messages for it."""

    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._resolvers: dict[str, Resolver] = {}

    def register(self, destination: str, handler: Handler) -> None:
        """Deliver messages for ``destination`` through ``handler`` (replaces any earlier one)."""
        if not destination:
            raise ValueError("destination must not be empty")
        self._handlers[destination] = handler

    def register_prefix(self, prefix: str, resolver: Resolver) -> None:
        """Resolve destinations starting with ``prefix`` through ``resolver``, at delivery time: for
        destinations created while the relay runs (webhook subscriptions). Exact registrations win."""
        if not prefix:
            raise ValueError("prefix must not be empty")
        self._resolvers[prefix] = resolver

    def get(self, destination: str) -> Handler | None:
        """The handler for ``destination``, or None when none is configured."""
        handler = self._handlers.get(destination)
        if handler is None:
            for prefix, resolver in self._resolvers.items():
                if destination.startswith(prefix):
                    return resolver(destination)
        return handler

    def items(self) -> list[tuple[str, Handler]]:
        """(destination, handler) pairs."""
        return list(self._handlers.items())

    def destinations(self) -> frozenset[str]:
        """Every destination with a handler."""
        return frozenset(self._handlers)

    def close(self) -> None:
        """Close handlers that hold resources (HTTP connection pools)."""
        for handler in [*self._handlers.values(), *self._resolvers.values()]:
            close = getattr(handler, "close", None)
            if callable(close):
                close()


class WebhookHandler:
    """POST the payload as JSON to ``url`` with the message's ``Idempotency-Key`` header.

    2xx is delivered; 408, 429, 5xx and network errors are temporary; any other status is permanent.
    One pooled client per handler (thread-safe), so a relay delivering in threads reuses connections.
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_WEBHOOK_TIMEOUT,
                 headers: Mapping[str, str] | None = None, max_connections: int = 32) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self.url = url
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), headers=dict(headers or {}), limits=limits)

    def __call__(self, message: OutboxMessageView) -> None:
        headers = {"Idempotency-Key": message.idempotency_key, "X-Rcmflow-Destination": message.destination,
                   "X-Rcmflow-Attempt": str(message.attempts)}
        post_webhook(self._client, self.url, json=dict(message.payload), headers=headers)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def post_webhook(client: httpx.Client, url: str, *, headers: Mapping[str, str], json: Any = None,
                 content: bytes | None = None) -> None:
    """POST to a webhook receiver and classify the answer: return on 2xx; raise ``TemporaryDeliveryError``
    on 408, 429, 5xx and network errors; ``PermanentDeliveryError`` on any other status."""
    try:
        response = client.post(url, json=json, content=content, headers=dict(headers))
    except httpx.TransportError as exc:  # connect/read/write errors and timeouts
        raise TemporaryDeliveryError(f"{type(exc).__name__} posting to {url}: {exc}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return
    # Only the status line: a receiver's error body may echo the payload, which can carry PHI.
    detail = f"{url} answered HTTP {status} {response.reason_phrase}"
    if status in (408, 429) or status >= 500:
        raise TemporaryDeliveryError(detail)
    raise PermanentDeliveryError(detail)


def webhook_handlers(urls: Mapping[str, str], *, timeout: float = DEFAULT_WEBHOOK_TIMEOUT) -> HandlerRegistry:
    """A registry with one ``WebhookHandler`` per configured destination (e.g. settings.outbox_webhooks)."""
    return HandlerRegistry({destination: WebhookHandler(url, timeout=timeout) for destination, url in urls.items()})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter between attempts (tenacity's strategy), and a dead-letter limit.

    Retries happen across relay or worker runs, not by sleeping in-process, so only the delay is used.
    """

    max_attempts: int = 8
    initial: float = 2.0  # seconds before the 2nd attempt; doubles each time
    maximum: float = 3_600.0
    jitter: float = 2.0  # up to this many seconds added at random, so a failed batch does not retry in step

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt."""
        # initial * 2**(attempts-1), plus uniform jitter, capped: wait_exponential_jitter, spelt in the parts
        # every supported tenacity has (its ``initial`` argument is deprecated in newer releases).
        wait = wait_exponential(multiplier=self.initial, max=self.maximum) + wait_random(0, self.jitter)
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]  # only attempt_number is read
        state.attempt_number = max(1, attempts)
        return timedelta(seconds=min(self.maximum, wait(state)))


@dataclass
class _Circuit:
    failures: int = 0
    state: str = "closed"  # closed | open | half_open
    open_until: datetime | None = None


@dataclass
class CircuitBreaker:
    """Per-destination circuit breaker, kept in memory by one relay.

    Closed: deliver. After ``threshold`` consecutive temporary failures the circuit opens: nothing is
    sent to that destination for ``cool_down``. Then it is half-open: exactly one probe message goes;
    success closes the circuit, failure opens it for another ``cool_down``. Permanent errors (a
    message the destination refused) say nothing about its health and do not count. The state is
    per process: each relay process learns a destination's health on its own.
    """

    threshold: int = 5
    cool_down: timedelta = timedelta(seconds=30)
    _circuits: dict[str, _Circuit] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self, destination: str, now: datetime) -> bool:
        """True if a message may be sent to ``destination`` now (claims the probe when half-open)."""
        with self._lock:
            circuit = self._circuits.get(destination)
            if circuit is None or circuit.state == "closed":
                return True
            if circuit.state == "open" and circuit.open_until is not None and now >= circuit.open_until:
                circuit.state = "half_open"  # this caller carries the one probe
                return True
            return False

    def blocked(self, now: datetime) -> frozenset[str]:
        """Destinations not to claim messages for now (open and still cooling down, or probing)."""
        with self._lock:
            return frozenset(
                name for name, c in self._circuits.items()
                if c.state == "half_open" or (c.state == "open" and c.open_until is not None and now < c.open_until))

    def state(self, destination: str, now: datetime) -> str:
        """The circuit of ``destination`` as seen at ``now``: "closed", "open" or "half_open"."""
        with self._lock:
            circuit = self._circuits.get(destination)
            if circuit is None:
                return "closed"
            if circuit.state == "open" and circuit.open_until is not None and now >= circuit.open_until:
                return "half_open"
            return circuit.state

    def record_success(self, destination: str) -> None:
        """A delivery succeeded: close the circuit."""
        with self._lock:
            self._circuits.pop(destination, None)

    def record_failure(self, destination: str, now: datetime) -> None:
        """A temporary failure: count it, and open the circuit at the threshold or after a failed probe."""
        with self._lock:
            circuit = self._circuits.setdefault(destination, _Circuit())
            circuit.failures += 1
            if circuit.state == "half_open" or (circuit.state == "closed" and circuit.failures >= self.threshold):
                circuit.state = "open"
                circuit.open_until = now + self.cool_down


def apply_once(conn: Connection, consumer: str, idempotency_key: str, *, now: datetime | None = None) -> bool:
    """Record that ``consumer`` applies ``idempotency_key``: True the first time, False ever after.

    Call it in the receiver's own transaction, before applying the effect, and apply only on True: if
    that transaction rolls back, the key is not recorded either, so a redelivery applies it then.
    """
    return idempotency_key in apply_once_many(conn, consumer, [idempotency_key], now=now)


def apply_once_many(conn: Connection, consumer: str, idempotency_keys: Iterable[str], *,
                    now: datetime | None = None) -> set[str]:
    """``apply_once`` for many keys in bulk: return the keys seen for the first time (to apply now)."""
    when = now or utc_now()
    rows = [{"consumer": consumer, "idempotency_key": key, "processed_at": when}
            for key in dict.fromkeys(idempotency_keys)]
    if not rows:
        return set()
    # ON CONFLICT DO NOTHING: of two concurrent receivers of one key, one inserts and one sees nothing.
    # executemany + RETURNING is batched into multi-row INSERTs and returns only the rows inserted.
    stmt = insert_ignoring_conflicts(conn, processed_messages, "consumer", "idempotency_key")
    return set(conn.execute(stmt.returning(processed_messages.c.idempotency_key), rows).scalars())

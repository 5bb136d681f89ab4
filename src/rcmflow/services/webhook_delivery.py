"""Delivery of webhook-subscription messages: sign at send time, POST, classify the answer.

The relay asks a ``HandlerRegistry`` for the handler of ``webhook:<id>``; ``register_subscription_handlers``
answers every such destination through one ``SubscriptionWebhooks`` resolver, so subscriptions made while a
worker runs are delivered without a restart. The timestamp is the send time (a retry hours later is signed
afresh and passes the receiver's freshness check); the body is the payload as compact JSON, signed byte for
byte as sent. Subscription URLs and secrets are cached briefly: one lookup per subscription per ``refresh``,
not one per message.

A message whose subscription was removed is dead-lettered (permanent): the receiver no longer wants it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
from sqlalchemy import Engine

from rcmflow.services.delivery import (
    DEFAULT_WEBHOOK_TIMEOUT,
    Handler,
    HandlerRegistry,
    OutboxMessageView,
    PermanentDeliveryError,
    post_webhook,
)
from rcmflow.services.webhooks import DESTINATION_PREFIX, delivery_target, subscription_id_of
from rcmflow.webhook_signature import (
    CONTENT_TYPE,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)

USER_AGENT = "rcmflow-webhooks/1"
DEFAULT_REFRESH = timedelta(seconds=30)  # how stale a cached URL or secret may get (after an edit or rotation)


@dataclass(frozen=True, slots=True)
class _Target:
    url: str | None  # None: the subscription does not exist or is inactive
    secrets: tuple[str, ...]
    fetched_at: float


class SubscriptionWebhooks:
    """Resolves ``webhook:<id>`` destinations to handlers that sign with the subscription's secrets."""

    def __init__(self, engine: Engine, *, timeout: float = DEFAULT_WEBHOOK_TIMEOUT,
                 refresh: timedelta = DEFAULT_REFRESH, clock: Callable[[], float] = time.time,
                 max_connections: int = 32) -> None:
        self.engine, self.refresh, self.clock = engine, refresh.total_seconds(), clock
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        # One pool for every subscription: receivers come and go, connections are reused per host.
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), limits=limits,
                                    headers={"User-Agent": USER_AGENT})
        self._targets: dict[int, _Target] = {}
        self._lock = threading.Lock()

    def __call__(self, destination: str) -> Handler | None:
        """The handler of ``destination``; None (message left pending) when it names no subscription id."""
        subscription_id = subscription_id_of(destination)
        return None if subscription_id is None else partial(self.deliver, subscription_id)

    def _target(self, subscription_id: int, now: float) -> _Target:
        with self._lock:
            cached = self._targets.get(subscription_id)
        if cached is not None and now - cached.fetched_at < self.refresh:
            return cached
        with self.engine.connect() as conn:
            target = delivery_target(conn, subscription_id, now=datetime.fromtimestamp(now, UTC))
        found = _Target(target.url if target is not None and target.active else None,
                        target.secrets if target is not None else (), now)
        with self._lock:
            self._targets[subscription_id] = found
        return found

    def deliver(self, subscription_id: int, message: OutboxMessageView) -> None:
        """Sign ``message`` now and POST it to the subscription's URL."""
        now = self.clock()
        target = self._target(subscription_id, now)
        if target.url is None:
            raise PermanentDeliveryError(f"webhook subscription {subscription_id} was removed")
        body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        timestamp = int(now)
        headers = {SIGNATURE_HEADER: signature_header(target.secrets, timestamp, body),
                   EVENT_ID_HEADER: str(message.payload.get("id", "")),
                   EVENT_TYPE_HEADER: str(message.payload.get("type", "")),
                   IDEMPOTENCY_HEADER: message.idempotency_key, "Content-Type": CONTENT_TYPE}
        post_webhook(self._client, target.url, content=body, headers=headers)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def register_subscription_handlers(handlers: HandlerRegistry, engine: Engine, *,
                                   timeout: float = DEFAULT_WEBHOOK_TIMEOUT) -> None:
    """Deliver every ``webhook:<id>`` destination (active subscriptions, now and later) through ``handlers``."""
    handlers.register_prefix(DESTINATION_PREFIX, SubscriptionWebhooks(engine, timeout=timeout))

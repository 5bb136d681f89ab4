"""Webhook subscriptions, and the fan-out that turns new events into signed deliveries through the outbox.

An event type is ``<object_type>.<to_state>`` of an event-log row, lower-case with spaces as underscores
(``claim.denied``, ``work_item.resolved``, ``remittance.posted``). The known types come from the state
machines (and the document lifecycle); ``"*"`` subscribes to all of them. Internal plumbing (outbox and job
events) has no type, so a webhook's own delivery outcomes never fan out into more webhooks.

Fan-out reads the event log after each active subscription's read position (``last_event_id``), enqueues one
outbox message per (subscription, matching event), with destination ``webhook:<id>`` and idempotency key
``webhook:<id>:<event id>``, and advances the position in the same transaction: a re-run, or a run killed
halfway, enqueues nothing twice and skips nothing. The relay then delivers, signing at send time
(``services.webhook_delivery``).

Reading by id is only safe below ids that no open transaction can still commit. On PostgreSQL ids come
from a sequence at insert time but transactions commit in any order, so a reader could move past id 100
while the transaction holding id 99 is still open, and miss it for good. ``event_horizon`` therefore waits
out the transactions writing to the event log (a SHARE lock, released at once) and takes the highest id
then: every id up to it is final. SQLite has one writer, and fan-out takes the write lock before reading.

Secrets: ``rotate_secret`` keeps the previous secret in force for an overlap (default 24 hours), and during
it requests carry a signature under each secret, so receivers can switch at their own pace. The column
stores ``"<current>"`` or ``"<current> <previous> <previous expires, unix seconds>"``.
"""

from __future__ import annotations

import logging
import secrets as random_secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, Row, func, select, text, tuple_, update
from sqlalchemy.exc import OperationalError

from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, DOCUMENT_STATUSES, event_log, webhook_subscriptions
from rcmflow.domain.states import MACHINES
from rcmflow.errors import DomainRuleError, InputError, NotFoundError
from rcmflow.services.audit import AuditEntry, append_audit
from rcmflow.services.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

ALL_EVENTS = "*"
DESTINATION_PREFIX = "webhook:"
OBJECT_TYPE = "webhook subscription"  # in the audit trail
DEFAULT_BATCH = 1_000  # events read per subscription per transaction
DEFAULT_SECRET_OVERLAP = timedelta(hours=24)
HORIZON_LOCK_TIMEOUT = timedelta(seconds=2)  # writers queue behind a waiting SHARE lock: keep the wait short
_SECRET_PREFIX = "whsec_"


# -- event types ---------------------------------------------------------------------------------------------

def _normalise(name: str) -> str:
    return "_".join(name.strip().lower().split())


def event_type(object_type: str, to_state: str) -> str:
    """The webhook event type of an event-log row: ``claim`` + ``partially paid`` -> ``claim.partially_paid``."""
    return f"{_normalise(object_type)}.{_normalise(to_state)}"


@cache
def _sources() -> dict[str, tuple[tuple[str, str], ...]]:
    """Event type -> the (object_type, to_state) pairs of the event log that carry it."""
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    lifecycles = [(m.object_type, m.states) for m in MACHINES.values()]
    lifecycles.append(("document", frozenset(DOCUMENT_STATUSES)))
    for object_type, states in lifecycles:
        for state in sorted(states):
            pairs[event_type(object_type, state)].append((object_type, state))
    return {name: tuple(found) for name, found in sorted(pairs.items())}


def known_event_types() -> list[str]:
    """Every event type a subscription can name, sorted."""
    return list(_sources())


def _checked_event_types(event_types: Iterable[str]) -> list[str]:
    wanted = sorted({_normalise(t) for t in event_types if t.strip()})
    if not wanted:
        raise InputError(detail="a webhook subscription needs at least one event type (or '*' for all)")
    if ALL_EVENTS in wanted:
        if len(wanted) > 1:
            raise InputError(detail="'*' already means every event type: give it alone")
        return wanted
    unknown = [t for t in wanted if t not in _sources()]
    if unknown:
        raise InputError(detail=f"unknown event type(s) {', '.join(unknown)}; "
                                "`rcmflow webhooks event-types` lists the known ones")
    return wanted


def _checked_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(detail=f"webhook URL must be an absolute http:// or https:// URL, got {url!r}")
    if parts.username or parts.password:
        # Listings show the URL; the signature, not URL credentials, proves the sender.
        raise InputError(detail="webhook URL must not contain credentials: receivers verify the signature")
    if parts.fragment:
        raise InputError(detail="webhook URL must not have a #fragment")
    if len(url) > webhook_subscriptions.c.url.type.length:
        raise InputError(detail="webhook URL is too long")
    return url


# -- secrets ---------------------------------------------------------------------------------------------------

def new_secret() -> str:
    """A fresh signing secret: 256 random bits, URL-safe text."""
    return _SECRET_PREFIX + random_secrets.token_urlsafe(32)


def secrets_in_force(stored: str, now: datetime) -> tuple[str, ...]:
    """The secrets to sign with at ``now``: the current one, and the previous one until its overlap ends."""
    current, *rest = stored.split()
    if len(rest) == 2 and rest[1].isdigit() and now.timestamp() < int(rest[1]):
        return current, rest[0]
    return (current,)


# -- subscriptions ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Subscription:
    """A receiver of webhooks (the secret is not part of it: it is shown once, when made or rotated)."""

    id: int
    organisation_id: str
    url: str
    event_types: tuple[str, ...]
    active: bool
    created_at: datetime
    created_by: str
    last_event_id: int  # events up to this id have been turned into deliveries

    @property
    def destination(self) -> str:
        """The outbox destination of this subscription's deliveries."""
        return f"{DESTINATION_PREFIX}{self.id}"


def subscription_id_of(destination: str) -> int | None:
    """The subscription id of an outbox destination ``webhook:<id>``; None for any other destination."""
    suffix = destination.removeprefix(DESTINATION_PREFIX)
    return int(suffix) if suffix != destination and suffix.isdigit() else None


_COLUMNS = [webhook_subscriptions.c[f.name] for f in fields(Subscription)]


def _subscription(row: Row[Any]) -> Subscription:
    values = row._asdict()
    return Subscription(**{**values, "event_types": tuple(values["event_types"])})


def _audit(conn: Connection, action: str, subscription: Subscription, actor: str, now: datetime) -> None:
    append_audit(conn, [AuditEntry(actor, action, OBJECT_TYPE, str(subscription.id), now,
                                   organisation_id=subscription.organisation_id)])


def _last_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(event_log.c.id), 0))).scalar_one())


def create_subscription(conn: Connection, *, url: str, event_types: Sequence[str], actor: str, now: datetime,
                        organisation_id: str = DEFAULT_ORGANISATION) -> tuple[Subscription, str]:
    """Subscribe ``url`` to ``event_types`` (or ``["*"]``); return the subscription and its secret.

    The secret is returned only here (and by ``rotate_secret``): show it once. Deliveries start with events
    logged from now on, not the history.
    """
    if not actor:
        raise InputError(detail="creating a webhook subscription needs the actor who creates it")
    values = {"organisation_id": organisation_id, "url": _checked_url(url),
              "event_types": _checked_event_types(event_types), "secret": new_secret(), "active": True,
              "created_at": now, "created_by": actor, "last_event_id": _last_event_id(conn)}
    row = conn.execute(webhook_subscriptions.insert().values(values).returning(*_COLUMNS)).one()
    subscription = _subscription(row)
    _audit(conn, "create webhook subscription", subscription, actor, now)
    return subscription, values["secret"]


def list_subscriptions(conn: Connection, *, organisation_id: str | None = None,
                       include_inactive: bool = False) -> list[Subscription]:
    """Subscriptions in id order: active ones, or all with ``include_inactive``."""
    query = select(*_COLUMNS).order_by(webhook_subscriptions.c.id)
    if organisation_id is not None:
        query = query.where(webhook_subscriptions.c.organisation_id == organisation_id)
    if not include_inactive:
        query = query.where(webhook_subscriptions.c.active.is_(True))
    return [_subscription(row) for row in conn.execute(query)]


def get_subscription(conn: Connection, subscription_id: int, *,
                     organisation_id: str | None = None) -> Subscription:
    """One subscription (active or not), or ``NotFoundError``; with ``organisation_id``, only of that one."""
    query = select(*_COLUMNS).where(webhook_subscriptions.c.id == subscription_id)
    if organisation_id is not None:
        query = query.where(webhook_subscriptions.c.organisation_id == organisation_id)
    row = conn.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(kind="Webhook subscription", key=subscription_id)
    return _subscription(row)


def deactivate_subscription(conn: Connection, subscription_id: int, *, actor: str, now: datetime,
                            organisation_id: str | None = None) -> Subscription:
    """Stop fanning events out to a subscription (idempotent). Deliveries already queued for it are
    dead-lettered by the relay, so ``rcmflow outbox status`` shows what was not sent."""
    subscription = get_subscription(conn, subscription_id, organisation_id=organisation_id)
    if not subscription.active:
        return subscription
    conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription.id)
                 .values(active=False))
    subscription = get_subscription(conn, subscription.id)
    _audit(conn, "deactivate webhook subscription", subscription, actor, now)
    return subscription


def rotate_secret(conn: Connection, subscription_id: int, *, actor: str, now: datetime,
                  overlap: timedelta = DEFAULT_SECRET_OVERLAP, organisation_id: str | None = None) -> str:
    """Give a subscription a new secret and return it (show it once). Requests are signed with the previous
    secret as well until ``overlap`` has passed; ``overlap=timedelta(0)`` drops the previous one at once."""
    subscription = get_subscription(conn, subscription_id, organisation_id=organisation_id)
    if not subscription.active:
        raise DomainRuleError(detail=f"webhook subscription {subscription.id} is not active")
    stored = conn.execute(select(webhook_subscriptions.c.secret)
                          .where(webhook_subscriptions.c.id == subscription.id)).scalar_one()
    secret = new_secret()
    value = secret
    if overlap > timedelta(0):
        value = f"{secret} {stored.split()[0]} {int((now + overlap).timestamp())}"
    conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription.id)
                 .values(secret=value))
    _audit(conn, "rotate webhook secret", subscription, actor, now)
    return secret


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """What the delivery handler needs of a subscription at send time."""

    url: str
    secrets: tuple[str, ...]
    active: bool


def delivery_target(conn: Connection, subscription_id: int, *, now: datetime) -> DeliveryTarget | None:
    """Where and with which secrets to send a subscription's deliveries; None if it does not exist."""
    row = conn.execute(select(webhook_subscriptions.c.url, webhook_subscriptions.c.secret,
                              webhook_subscriptions.c.active)
                       .where(webhook_subscriptions.c.id == subscription_id)).one_or_none()
    if row is None:
        return None
    return DeliveryTarget(url=row.url, secrets=secrets_in_force(row.secret, now), active=row.active)


# -- fan-out ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FanOutResult:
    """What one fan-out did."""

    subscriptions: int = 0  # active subscriptions read for
    events: int = 0  # matching events read
    enqueued: int = 0  # outbox messages created (fewer than events only if some already existed)
    more: bool = False  # a subscription read a full batch: more events are waiting

    def __add__(self, other: FanOutResult) -> FanOutResult:
        return FanOutResult(self.subscriptions + other.subscriptions, self.events + other.events,
                            self.enqueued + other.enqueued, self.more or other.more)


def _lock_event_log(conn: Connection) -> None:
    table = conn.dialect.identifier_preparer.format_table(event_log)
    conn.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))


def event_horizon(engine: Engine, *, lock_timeout: timedelta = HORIZON_LOCK_TIMEOUT) -> int | None:
    """The highest event id below which no transaction can still commit an event; None when the event log's
    writers did not finish within ``lock_timeout`` (try again later)."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            if conn.dialect.name == "postgresql":
                milliseconds = max(1, int(lock_timeout.total_seconds() * 1_000))
                conn.execute(text(f"SET LOCAL lock_timeout = '{milliseconds}ms'"))
                _lock_event_log(conn)
            horizon = _last_event_id(conn)
        except OperationalError as exc:
            transaction.rollback()
            log.info("webhooks: event log writers still busy after %s; fan-out waits for the next run (%s)",
                     lock_timeout, type(exc.orig).__name__)
            return None
        transaction.commit()  # releases the lock at once: writers were held only while we waited
        return horizon


def _active_subscriptions(conn: Connection, horizon: int) -> list[Row[Any]]:
    s = webhook_subscriptions
    # SKIP LOCKED: a concurrent fan-out already serves those subscriptions.
    return list(conn.execute(
        select(s.c.id, s.c.organisation_id, s.c.event_types, s.c.last_event_id)
        .where(s.c.active.is_(True), s.c.last_event_id < horizon).order_by(s.c.id)
        .with_for_update(skip_locked=True)))


def _payload(row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "type": event_type(row.object_type, row.to_state),
            "occurred_at": row.occurred_at.isoformat(), "object_type": row.object_type, "object_id": row.object_id,
            "from_state": row.from_state, "to_state": row.to_state, "activity": row.activity, "actor": row.actor,
            "facility_id": row.facility_id, "payer_id": row.payer_id, "attributes": row.attributes}


def fan_out(conn: Connection, *, now: datetime, batch: int = DEFAULT_BATCH, horizon: int | None = None) -> FanOutResult:
    """Enqueue deliveries of new matching events for every active subscription, in the caller's transaction.

    Reads at most ``batch`` events per subscription, up to ``horizon`` (from ``event_horizon``). Without
    one, PostgreSQL holds a SHARE lock on the event log until the caller commits: prefer ``fan_out_pending``.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if conn.dialect.name == "sqlite":
        # Take SQLite's write lock before reading, so no other writer commits between our read and write.
        conn.exec_driver_sql("UPDATE webhook_subscriptions SET id = id WHERE 0")
    if horizon is None:
        if conn.dialect.name == "postgresql":
            _lock_event_log(conn)
        horizon = _last_event_id(conn)
    sources = _sources()
    result = FanOutResult()
    for sub in _active_subscriptions(conn, horizon):
        types = list(sources) if ALL_EVENTS in sub.event_types else [t for t in sub.event_types if t in sources]
        pairs = [pair for t in types for pair in sources[t]]
        rows = list(conn.execute(
            select(event_log)
            .where(event_log.c.id > sub.last_event_id, event_log.c.id <= horizon,
                   event_log.c.organisation_id == sub.organisation_id,
                   tuple_(event_log.c.object_type, event_log.c.to_state).in_(pairs))
            .order_by(event_log.c.id).limit(batch))) if pairs else []
        full = len(rows) == batch
        destination = f"{DESTINATION_PREFIX}{sub.id}"
        enqueued = enqueue(conn, [OutboxMessage(destination, _payload(row), f"{destination}:{row.id}",
                                                organisation_id=sub.organisation_id) for row in rows], now=now)
        # A full batch stops at its last event; otherwise everything up to the horizon has been seen.
        conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == sub.id)
                     .values(last_event_id=rows[-1].id if full else horizon))
        result += FanOutResult(1, len(rows), enqueued, full)
    return result


def fan_out_pending(engine: Engine, *, now: datetime, batch: int = DEFAULT_BATCH,
                    max_rounds: int = 100) -> FanOutResult:
    """Fan out every event committed so far, one transaction per batch (the worker's schedule)."""
    with engine.connect() as conn:
        idle = conn.execute(select(webhook_subscriptions.c.id)
                            .where(webhook_subscriptions.c.active.is_(True)).limit(1)).first() is None
    if idle:  # no subscriber: no lock on the event log at all
        return FanOutResult()
    horizon = event_horizon(engine)
    if horizon is None:
        return FanOutResult()
    total = FanOutResult()
    for _ in range(max_rounds):
        with engine.begin() as conn:
            result = fan_out(conn, now=now, batch=batch, horizon=horizon)
        total = replace(total + result, more=result.more)  # "more" is whether events are still waiting now
        if not result.more:
            break
    if total.enqueued:
        log.info("webhooks: %d deliveries enqueued for %d subscription(s)", total.enqueued, total.subscriptions)
    return total

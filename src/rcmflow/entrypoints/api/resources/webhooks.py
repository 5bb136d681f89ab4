"""Webhook subscriptions: receivers subscribe to event types; deliveries are signed (HMAC-SHA256 over
timestamp and body) and sent through the outbox (``docs/webhooks.md``). The secret is returned once, when a
subscription is created or its secret rotated. The service records each change in the audit trail."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import Id, ReadConn, WriteConn
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import require

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=OneHopRoute)
Manager = Annotated[Principal, Depends(require("webhooks:manage"))]


class SubscriptionRequest(BaseModel):
    url: str = Field(min_length=8, max_length=2048, description="The receiver's http(s) URL.")
    event_types: list[str] = Field(min_length=1, max_length=200,
                                   description='Event types (GET /v1/webhooks/event-types), or ["*"].')


class SecretRotation(BaseModel):
    overlap_hours: float = Field(default=24, ge=0, le=24 * 30, description="How long payloads are also signed "
                                 "with the previous secret, so the receiver can switch without losing any.")


def _plain(subscription: Any) -> dict[str, Any]:
    return {**asdict(subscription), "destination": subscription.destination}


@router.get("/event-types")
def event_types_route(principal: Manager) -> dict[str, Any]:
    """The event types a subscription may name."""
    from rcmflow.services.webhooks import known_event_types

    return {"event_types": known_event_types()}


@router.get("")
def list_route(conn: ReadConn, principal: Manager) -> dict[str, Any]:
    """Active subscriptions (never their secrets)."""
    from rcmflow.services.webhooks import list_subscriptions

    return {"items": [_plain(s) for s in list_subscriptions(conn, organisation_id=principal.organisation_id)]}


@router.post("", status_code=201)
def create_route(body: SubscriptionRequest, conn: WriteConn, principal: Manager) -> dict[str, Any]:
    """Subscribe a receiver; the answer carries the signing secret, shown this once."""
    from rcmflow.services.webhooks import create_subscription

    subscription, secret = create_subscription(conn, url=body.url, event_types=body.event_types,
                                               actor=principal.actor, now=utc_now(),
                                               organisation_id=principal.organisation_id)
    return {**_plain(subscription), "secret": secret}


@router.post("/{subscription_id}/rotate-secret")
def rotate_route(subscription_id: Id, body: SecretRotation, conn: WriteConn, principal: Manager) -> dict[str, Any]:
    """A new signing secret (shown this once); the previous one keeps signing during the overlap."""
    from datetime import timedelta

    from rcmflow.services.webhooks import rotate_secret

    secret = rotate_secret(conn, subscription_id, actor=principal.actor, now=utc_now(),
                           overlap=timedelta(hours=body.overlap_hours), organisation_id=principal.organisation_id)
    return {"id": subscription_id, "secret": secret}


@router.delete("/{subscription_id}")
def delete_route(subscription_id: Id, conn: WriteConn, principal: Manager) -> dict[str, Any]:
    """Stop a subscription; deliveries already queued for it are dead-lettered (visible in the outbox)."""
    from rcmflow.services.webhooks import deactivate_subscription

    return _plain(deactivate_subscription(conn, subscription_id, actor=principal.actor, now=utc_now(),
                                          organisation_id=principal.organisation_id))

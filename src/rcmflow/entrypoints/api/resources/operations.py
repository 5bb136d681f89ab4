"""Integration operations: outbound delivery status per destination, and replaying failed deliveries."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from rcmflow.adapters.store.schema import utc_now
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import ReadConn, WriteConn, audit
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import require

router = APIRouter(prefix="/v1/outbox", tags=["outbox"], route_class=OneHopRoute)


class ReplayRequest(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(default=None, max_length=10_000,
                                                                    description="These messages...")
    destination: str | None = Field(default=None, max_length=64, description="...or every one of a destination.")
    include_failed: bool = Field(default=False, description="Also failed messages waiting for a retry, not "
                                 "only dead ones.")

    @model_validator(mode="after")
    def _something(self) -> ReplayRequest:
        if self.ids is None and self.destination is None:
            raise ValueError("name the messages (ids) or a destination")
        return self


@router.get("")
def outbox_route(conn: ReadConn, principal: Annotated[Principal, Depends(require("outbox:read"))]) -> dict[str, Any]:
    """Per destination: messages by status, the oldest undelivered one's lag, the last error."""
    from rcmflow.services.outbox import outbox_status

    destinations = []
    for status in outbox_status(conn, now=utc_now()):
        body = asdict(status)
        body["lag_seconds"] = None if status.lag is None else round(status.lag.total_seconds(), 3)
        del body["lag"]
        destinations.append(body)
    return {"destinations": destinations}


@router.post("/replay")
def replay_route(request: Request, body: ReplayRequest, conn: WriteConn,
                 principal: Annotated[Principal, Depends(require("outbox:replay"))]) -> dict[str, Any]:
    """Send dead (and optionally failed) messages again; each replay is an event and an audit row."""
    from rcmflow.services.outbox import replay

    replayed = replay(conn, ids=body.ids, destination=body.destination, dead_only=not body.include_failed,
                      actor=principal.actor, now=utc_now())
    if replayed:
        audit(conn, request, principal, "replay outbox message", "outbox message", [str(i) for i in replayed])
    return {"replayed": replayed}

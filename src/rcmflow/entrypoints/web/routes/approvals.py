"""Approvals: what the person may decide now, every request by state, and one request with its chain, its
decisions and whether segregation of duties lets this person decide. The page explains a refusal before the
person tries; the workflow core (``services.approvals``) enforces it whatever the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from rcmflow.adapters.store.schema import approval_requests
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import Id, ReadConn, audit
from rcmflow.entrypoints.api.routes_shared import approval_body
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import facility_filter, require
from rcmflow.entrypoints.web.filters import period, refuse_unknown_filters
from rcmflow.entrypoints.web.forms import Form, submitted_form
from rcmflow.entrypoints.web.render import now, page, when
from rcmflow.errors import InputError

router = APIRouter(prefix="/ui/approvals", include_in_schema=False, route_class=OneHopRoute)
Reader = Annotated[Principal, Depends(require("approvals:read"))]
Decider = Annotated[Principal, Depends(require("approvals:decide"))]
Submitted = Annotated[Form, Depends(submitted_form)]
_MESSAGES = {"approved": "Approved.", "rejected": "Rejected."}
LIMIT = 200  # requests shown in the list (newest first)


@dataclass(frozen=True)
class Standing:
    """Whether this person may decide the request now, and if not, why (the reason code the core would give)."""

    may_decide: bool
    reason: str | None
    explanation: str


def standing(request: Any, principal: Principal) -> Standing:
    from rcmflow.services.approvals import normalise_person

    me = normalise_person(principal.actor)
    if request.state != "pending":
        return Standing(False, "closed", f"The request is {request.state}.")
    if me == request.maker:
        return Standing(False, "sod_maker", "You made this request: segregation of duties keeps the maker from "
                                            "deciding it. Another approver must.")
    if any(me in (d.approver, d.on_behalf_of) for d in request.decisions):
        return Standing(False, "sod_repeat", "You already decided in this chain: one person decides once.")
    role = request.chain[request.current_level].role
    if role not in principal.roles:
        return Standing(False, "not_in_role", f"This level needs the {role} role (or a delegation of it); "
                                              f"you hold {', '.join(principal.roles)}.")
    return Standing(True, None, f"You may decide level {request.current_level + 1} as {role}.")


@router.get("")
def approvals_list(request: Request, conn: ReadConn, principal: Reader,
                   state: Annotated[str, Query(pattern="^(pending|approved|rejected|cancelled|decided|all)$")]
                   = "pending", window: Annotated[str | None, Query(max_length=8)] = None,
                   as_of: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """``state=decided`` with ``window`` and ``as_of``: the requests approved or rejected in the window, within the
    person's facilities, which the control tower's approval cycle time measures."""
    from rcmflow.services.approval_search import decided_requests
    from rcmflow.services.approvals import list_requests, pending_for

    refuse_unknown_filters(request)
    span = period(as_of, window, now(request))
    if (span.days is not None or span.given_as_of) and state != "decided":
        raise InputError(detail="window and as_of apply to decided requests (state=decided): those decided in it")
    mine = pending_for(conn, set(principal.roles), principal.actor, now(request),
                       organisation_id=principal.organisation_id) if principal.may("approvals:decide") else []
    if state == "decided" and span.days is not None:
        requests, total = decided_requests(conn, principal.organisation_id, as_of=span.as_of, window_days=span.days,
                                           facilities=facility_filter(principal), limit=LIMIT)
    else:
        states = {"all": None, "decided": ("approved", "rejected")}.get(state, (state,))
        conditions = [] if states is None else [approval_requests.c.state.in_(states)]
        requests = list_requests(conn, organisation_id=principal.organisation_id, limit=LIMIT, conditions=conditions)
        total = None
    described = (f"approved or rejected in the {span.days} days to {when(span.as_of)}"
                 if span.days is not None else None)
    return page(request, "approvals.html", principal, title="Approvals", mine=mine, requests=requests, state=state,
                total=total, described=described, limit=LIMIT)


@router.get("/{request_id}")
def approval(request: Request, request_id: Id, conn: ReadConn, principal: Reader,
             message: str | None = None) -> Response:
    from rcmflow.services.approvals import request_detail
    from rcmflow.services.events import events_for

    detail = request_detail(conn, request_id)
    history = events_for(conn, "approval request", str(request_id), organisation_id=principal.organisation_id)
    return page(request, "approval.html", principal, title=f"Approval request {request_id}", request_=detail,
                history=history, standing=standing(detail, principal), may_decide=principal.may("approvals:decide"),
                message=_MESSAGES.get(message or ""))


def _decide(request: Request, principal: Principal, request_id: int, action: str, decide: Any) -> Response:
    from rcmflow.services.approvals import request_detail

    with request.app.state.engine.begin() as conn:
        before = approval_body(request_detail(conn, request_id))
        decide(conn)
        after = approval_body(request_detail(conn, request_id))
        audit(conn, request, principal, action, "approval request", str(request_id), before=before, after=after)
    return RedirectResponse(f"/ui/approvals/{request_id}?message={action}d", status_code=303)


@router.post("/{request_id}/approve")
def approve_route(request: Request, request_id: Id, principal: Decider, form: Submitted) -> Response:
    from rcmflow.services.approvals import approve

    return _decide(request, principal, request_id, "approve", lambda conn: approve(
        conn, request_id, principal.actor, set(principal.roles), now=now(request), reason=form.get("reason") or None))


@router.post("/{request_id}/reject")
def reject_route(request: Request, request_id: Id, principal: Decider, form: Submitted) -> Response:
    from rcmflow.services.approvals import reject

    return _decide(request, principal, request_id, "reject", lambda conn: reject(
        conn, request_id, principal.actor, set(principal.roles), reason=form.get("reason"), now=now(request)))

"""Claims: a filtered, sorted list in cursor pages (the control tower's claim figures drill down here), and one
claim with everything a biller or denial specialist looks at: its facts, lines, scrubber findings with rule
versions, eligibility on file, acknowledgments, payments and adjustments with CARC/RARC meanings, work items,
appeals, timeline and the raw 837/835 segments. Opening a claim is a read of protected health information:
it is audited before the page is sent, as the API's claim read is."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rcmflow.adapters.store.schema import CLAIM_STATES
from rcmflow.domain.access import Principal
from rcmflow.domain.codes import CLAIM_FREQUENCY
from rcmflow.entrypoints.api.deps import Id, ReadConn, audit_read
from rcmflow.entrypoints.api.pagination import decode_cursor
from rcmflow.entrypoints.api.pagination import page as cursor_page
from rcmflow.entrypoints.api.security import check_facility, facility_filter, require
from rcmflow.entrypoints.web.render import now, page
from rcmflow.errors import InputError, NotFoundError

router = APIRouter(prefix="/ui/claims", include_in_schema=False)
PAGE_SIZE = 50
SORTS = {"-id": "Newest first", "id": "Oldest first", "-total_charge": "Largest charge first",
         "total_charge": "Smallest charge first"}
FILING_ORDER = {"P": "primary", "S": "secondary", "T": "tertiary"}
CLAIM_TYPE = {"P": "professional (837P)", "I": "institutional (837I)"}
Reader = Annotated[Principal, Depends(require("claims:read"))]
Text = Annotated[str | None, Query(max_length=64)]


@router.get("")
def claims_list(request: Request, conn: ReadConn, principal: Reader,
                state: Annotated[str | None, Query(max_length=24)] = None, payer_id: Text = None,
                facility_id: Text = None, age: Annotated[str | None, Query(max_length=8)] = None,
                sort: Annotated[str, Query(max_length=16)] = "-id",
                cursor: Annotated[str | None, Query(max_length=200)] = None,
                balance: Text = None, rework: Text = None, category: Text = None,
                payer: Text = None, facility: Text = None) -> Response:
    """``payer`` and ``facility``: the KPI slice names, accepted for ``payer_id`` and ``facility_id``."""
    from rcmflow.domain.kpis import AGING_BUCKETS, age_window
    from rcmflow.services.claim_search import search_claims, states_for

    payer_id, facility_id = payer_id or payer, facility_id or facility
    if sort not in SORTS:
        raise InputError(detail=f"sort is one of {', '.join(SORTS)}")
    if age and age not in AGING_BUCKETS:
        raise InputError(detail=f"age is one of {', '.join(AGING_BUCKETS)} (days since the claim was created)")
    scope = facility_filter(principal)
    facilities = scope
    if facility_id:  # a facility outside the person's scope lists nothing, it does not widen the scope
        facilities = (facility_id,) if scope is None or facility_id in scope else ()
    created_after, created_until = age_window(age, now(request)) if age else (None, None)
    rows = search_claims(conn, principal.organisation_id, states=states_for(state), payer_id=payer_id or None,
                         facilities=facilities, created_after=created_after, created_until=created_until, sort=sort,
                         after=decode_cursor(cursor, sort), limit=PAGE_SIZE + 1)
    listing = cursor_page(rows, PAGE_SIZE, sort)
    # Control-tower drill-downs this list cannot apply: named on the page and kept in its links, never dropped.
    drill = {"balance": balance, "rework": rework, "category": category}
    filters = {key: value for key, value in {"state": state, "payer_id": payer_id, "facility_id": facility_id,
                                             "age": age, "sort": sort, **drill}.items() if value}
    return page(request, "claims.html", principal, title="Claims", claims=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, sorts=SORTS, states=("open", *CLAIM_STATES),
                ages=AGING_BUCKETS, scope=scope, unapplied={key: value for key, value in drill.items() if value},
                first_page=not cursor)


@router.get("/{claim_id}")
def claim_page(request: Request, claim_id: Id, conn: ReadConn, principal: Reader) -> Response:
    from rcmflow.formats.x12.excerpt import mask_identifier
    from rcmflow.services import claim_record as record
    from rcmflow.services.claim_views import claim_detail
    from rcmflow.services.claims import CLAIM_OBJECT
    from rcmflow.services.events import events_for

    detail = claim_detail(conn, claim_id)
    facts = record.claim_facts(conn, claim_id)
    if facts["organisation_id"] != principal.organisation_id:
        raise NotFoundError(kind="claim", key=claim_id)
    check_facility(principal, detail["claim"]["facility_id"], f"claim {claim_id}")  # before anything leaves
    audit_read(request, principal, "read claim", "claim", str(claim_id))
    claim: dict[str, Any] = detail["claim"]
    member_id = claim["member_id"]
    events = events_for(conn, CLAIM_OBJECT, str(claim_id), organisation_id=principal.organisation_id)
    submission = record.submission_of(conn, facts["submission_id"])
    payments = record.claim_payments_of(conn, claim_id)
    return page(request, "claim.html", principal, title=f"Claim {claim['patient_control_number']}",
                claim={**claim, "member_id": mask_identifier(member_id) if member_id else None}, facts=facts,
                lines=detail["lines"], findings=detail["findings"], events=events,
                eligibility=record.eligibility_answers(conn, principal.organisation_id, claim["payer_id"], member_id),
                submission=submission, acknowledgments=record.acknowledgments(events), payments=payments,
                work_items=record.work_items_about(conn, CLAIM_OBJECT, claim_id), appeals=record.appeals_of(
                    conn, claim_id), billed=record.billed_segments(conn, claim, submission),
                paid=record.paid_segments(conn, payments), filing_orders=FILING_ORDER, claim_types=CLAIM_TYPE,
                frequencies=CLAIM_FREQUENCY)

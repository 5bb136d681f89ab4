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
from rcmflow.domain.kpis import AGING_BUCKETS
from rcmflow.entrypoints.api.deps import Id, ReadConn, audit_read
from rcmflow.entrypoints.api.pagination import decode_cursor
from rcmflow.entrypoints.api.pagination import page as cursor_page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import check_facility, facility_filter, require
from rcmflow.entrypoints.web.filters import choice, period, refuse_unknown_filters
from rcmflow.entrypoints.web.render import now, page, when
from rcmflow.errors import InputError, NotFoundError

router = APIRouter(prefix="/ui/claims", include_in_schema=False, route_class=OneHopRoute)
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
                balance: Text = None, rework: Text = None, category: Text = None, captured: Text = None,
                first_scrub: Text = None, front_end: Text = None, window: Text = None, as_of: Text = None,
                payer: Text = None, facility: Text = None) -> Response:
    """``payer`` and ``facility``: the KPI slice names, accepted for ``payer_id`` and ``facility_id``. The
    control tower's figures drill down here with ``balance``, ``captured``, ``first_scrub``, ``front_end``,
    ``rework`` and ``category``, and ``window`` and ``as_of`` for the period they cover."""
    from rcmflow.services.claim_search import ClaimFilters, claim_totals, search_claims, states_for

    refuse_unknown_filters(request)
    payer_id, facility_id = payer_id or payer, facility_id or facility
    if sort not in SORTS:
        raise InputError(detail=f"sort is one of {', '.join(SORTS)}")
    scope = facility_filter(principal)
    facilities = scope
    if facility_id:  # a facility outside the person's scope lists nothing, it does not widen the scope
        facilities = (facility_id,) if scope is None or facility_id in scope else ()
    span = period(as_of, window, now(request))
    selection = ClaimFilters(
        as_of=span.as_of, states=states_for(state), payer_id=payer_id or None, facilities=facilities,
        created_by_as_of=span.given_as_of, age=age or None, balance=choice(balance, "balance", ("open",)) is not None,
        captured=choice(captured, "captured", ("ehr",)) is not None, first_scrub=first_scrub or None,
        front_end=front_end or None, rework=choice(rework, "rework", ("true",)) is not None,
        category=category or None, window_days=span.days)
    rows = search_claims(conn, principal.organisation_id, selection, sort=sort, after=decode_cursor(cursor, sort),
                         limit=PAGE_SIZE + 1)
    listing = cursor_page(rows, PAGE_SIZE, sort)
    # The control tower's drill-down filters: kept in the form and the links, and said in words on the page.
    drill = {"balance": balance, "captured": captured, "first_scrub": first_scrub, "front_end": front_end,
             "rework": rework, "category": category, **span.query()}
    drill = {key: value for key, value in drill.items() if value}
    filters = {key: value for key, value in {"state": state, "payer_id": payer_id, "facility_id": facility_id,
                                             "age": age, "sort": sort, **drill}.items() if value}
    return page(request, "claims.html", principal, title="Claims", claims=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, sorts=SORTS, states=("open", *CLAIM_STATES),
                ages=AGING_BUCKETS, scope=scope, drill=drill, first_page=not cursor,
                totals=claim_totals(conn, principal.organisation_id, selection),
                described=_described(selection))


def _described(f: Any) -> list[str]:
    """The drill-down filters of ``f`` (``ClaimFilters``) in words, for the page."""
    window = f"in the {f.window_days or 30} days to {when(f.as_of)}"
    said = []
    if f.balance:
        said.append(f"with an insurance A/R balance at {when(f.as_of)}"
                    + (f", charges posted {f.age} days before" if f.age else ""))
    if f.captured:
        said.append("captured from the EHRs" + (f" {window}" if f.window_days is not None else ""))
    if f.first_scrub:
        said.append("clean at their first scrub" if f.first_scrub == "clean" else
                    "with scrubber findings at their first scrub (not clean)")
    if f.front_end:
        said.append({"answered": "first answered at the front end (999, 277CA)",
                     "accepted": "accepted at the first pass (277CA, never rejected)",
                     "rejected": "first answered, and rejected at the front end (999 or 277CA)"}[f.front_end]
                    + f" {window}")
    if f.rework:
        said.append(f"that re-entered a state they had been in before, {window}")
    if f.category:
        said.append(f"denied for a reason of category {f.category} on a claim payment received {window}")
    return said


@router.get("/{claim_id}")
def claim_page(request: Request, claim_id: Id, conn: ReadConn, principal: Reader) -> Response:
    from rcmflow.formats.x12.excerpt import mask_identifier
    from rcmflow.services import claim_record as record
    from rcmflow.services.claim_views import claim_detail
    from rcmflow.services.claims import CLAIM_OBJECT
    from rcmflow.services.events import events_for

    detail = claim_detail(conn, claim_id, timeline=False)  # the page reads the events itself (events_for)
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

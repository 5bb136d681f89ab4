"""Claim payments: the 835 claim payments one by one (a remittance page shows them per ERA), filtered by state,
payer, denial, human touch, CARC category and a window on the ERA's receipt or the posting, in cursor pages; each
row leads to its claim and its remittance. The control tower's denial, straight-through posting and posting
latency figures drill down here. Claim payments of claims outside the person's facilities are left out (and so
are unmatched ones for a person limited to some facilities), as the KPIs leave them out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rcmflow.adapters.store.schema import CLAIM_PAYMENT_STATES
from rcmflow.domain.access import Principal
from rcmflow.domain.carc import CATEGORIES
from rcmflow.entrypoints.api.deps import ReadConn
from rcmflow.entrypoints.api.pagination import decode_cursor
from rcmflow.entrypoints.api.pagination import page as cursor_page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import facility_filter, require
from rcmflow.entrypoints.web.filters import choice, flag, period, refuse_unknown_filters
from rcmflow.entrypoints.web.render import now, page, when
from rcmflow.errors import InputError

router = APIRouter(prefix="/ui/claim-payments", include_in_schema=False, route_class=OneHopRoute)
PAGE_SIZE = 50
ORDER = "-id"  # newest first
Reader = Annotated[Principal, Depends(require("remittances:read"))]
Text = Annotated[str | None, Query(max_length=64)]


@router.get("")
def claim_payments_list(request: Request, conn: ReadConn, principal: Reader, state: Text = None,
                        payer_id: Text = None, payer: Text = None, denied: Text = None, touched: Text = None,
                        reversal: Text = None, category: Text = None, dated: Text = None, window: Text = None,
                        as_of: Annotated[str | None, Query(max_length=64)] = None,
                        cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """``payer``: the KPI slice name, accepted for ``payer_id``."""
    from rcmflow.services.claim_payment_search import (
        DATED,
        PaymentFilters,
        claim_payment_totals,
        search_claim_payments,
    )

    refuse_unknown_filters(request)
    payer_id = payer_id or payer
    span = period(as_of, window, now(request))
    if span.days is None and (dated or span.given_as_of):
        raise InputError(detail="dated and as_of place a window: give window (days) with them")
    selection = PaymentFilters(
        as_of=span.as_of, window_days=span.days, dated=choice(dated, "dated", DATED) or "received",
        states=None if not state or state == "all" else (choice(state, "state", CLAIM_PAYMENT_STATES),),
        payer_id=payer_id or None, facilities=facility_filter(principal), reversal=flag(reversal, "reversal"),
        denied=flag(denied, "denied"), touched=flag(touched, "touched"),
        category=choice(category, "category", CATEGORIES))
    rows = search_claim_payments(conn, principal.organisation_id, selection, after=decode_cursor(cursor, ORDER),
                                 limit=PAGE_SIZE + 1)
    listing = cursor_page(rows, PAGE_SIZE, ORDER)
    filters = {key: value for key, value in {
        "state": state, "payer_id": payer_id, "denied": denied, "touched": touched, "reversal": reversal,
        "category": category, "dated": dated, **span.query()}.items() if value}
    return page(request, "claim_payments.html", principal, title="Claim payments", payments=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, states=CLAIM_PAYMENT_STATES,
                categories=CATEGORIES, first_page=not cursor, described=_described(selection),
                totals=claim_payment_totals(conn, principal.organisation_id, selection))


def _described(f: Any) -> list[str]:
    """The filters of ``f`` (``PaymentFilters``) in words, for the page."""
    said = []
    if f.window_days is not None:
        said.append(f"{'on ERAs received' if f.dated == 'received' else 'posted'} in the {f.window_days} days to "
                    f"{when(f.as_of)}")
    for wanted, yes, no in ((f.reversal, "reversals (CLP02 22)", "reversals (CLP02 22) excluded"),
                            (f.denied, "that denied the claim in full or in part", "that denied nothing"),
                            (f.touched, "that a person worked on (a work item about or linked to them)",
                             "posted straight through (no work item ever)")):
        if wanted is not None:
            said.append(yes if wanted else no)
    if f.category:
        said.append(f"with a denial of category {f.category}")
    return said

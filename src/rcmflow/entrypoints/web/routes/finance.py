"""Remittances and deposits: the 835 payments with their matched claims, contract variances, PLB amounts, journals
and the deposits that brought the money; the bank deposits with the reconciliation summary and each deposit's
matches to remittances and its open reconciliation work. Reads only, within the person's organisation; claim
payments of claims outside the person's facilities are left out, as the API leaves them out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rcmflow.adapters.store.schema import DEPOSIT_STATES, REMITTANCE_STATES, deposits, remittances
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import Id, ReadConn
from rcmflow.entrypoints.api.pagination import decode_cursor
from rcmflow.entrypoints.api.pagination import page as cursor_page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import facility_filter, require
from rcmflow.entrypoints.web.filters import choice, period, refuse_unknown_filters
from rcmflow.entrypoints.web.render import now, page, when
from rcmflow.errors import InputError

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=OneHopRoute)
PAGE_SIZE = 50
ORDER = "-id"  # newest first, as the API lists them
RemittanceReader = Annotated[Principal, Depends(require("remittances:read"))]
DepositReader = Annotated[Principal, Depends(require("deposits:read"))]
Cursor = Annotated[str | None, Query(max_length=200)]
Text = Annotated[str | None, Query(max_length=64)]


def _state(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if not value or value == "all":
        return None
    if value not in allowed:
        raise InputError(detail=f"{what} state is one of {', '.join(allowed)}")
    return value


@router.get("/remittances")
def remittances_list(request: Request, conn: ReadConn, principal: RemittanceReader, state: Text = None,
                     payer_id: Text = None, cursor: Cursor = None, cash: Text = None, window: Text = None,
                     as_of: Text = None) -> Response:
    """``cash=posted`` with ``window`` and ``as_of``: the remittances whose ERA cash was posted in the window, each
    with that amount (the control tower's cash posted). Single claim payments are listed at /ui/claim-payments."""
    from rcmflow.services.cash_search import era_cash_by_remittance, era_cash_total
    from rcmflow.services.finance_views import list_remittances
    from rcmflow.services.kpis import kpi_scope

    refuse_unknown_filters(request)
    span = period(as_of, window, now(request))
    posted = choice(cash, "cash", ("posted",)) is not None
    if (span.days is not None or span.given_as_of) != posted:
        raise InputError(detail="cash=posted needs window (days) and as_of takes a window: the ERA cash posted in it")
    scope = kpi_scope(conn, as_of=span.as_of, window_days=span.days or 1, organisation_id=principal.organisation_id)
    state, payer_id = _state(state, REMITTANCE_STATES, "remittance"), payer_id or None
    rows = list_remittances(conn, principal.organisation_id, state=state, payer_id=payer_id,
                            after=decode_cursor(cursor, ORDER), limit=PAGE_SIZE + 1,
                            cash=era_cash_by_remittance(scope) if posted else None)
    for row in rows:
        if posted:
            row["cash_posted"] = scope.money(row["cash_posted"])
    listing = cursor_page(rows, PAGE_SIZE, ORDER)
    filters = {key: value for key, value in {"state": state, "payer_id": payer_id, "cash": cash,
                                             **span.query()}.items() if value}
    totals = None
    if posted:
        r = remittances.c
        count, traced, untraced = era_cash_total(conn, scope, [r.organisation_id == principal.organisation_id,
                                                               *([r.state == state] if state else []),
                                                               *([r.payer_id == payer_id] if payer_id else [])])
        totals = {"count": count, "amount": traced, "untraced": untraced,
                  "described": f"ERA cash posted in the {span.days} days to {when(span.as_of)}"}
    return page(request, "remittances.html", principal, title="Remittances", remittances=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, states=REMITTANCE_STATES, totals=totals,
                first_page=not cursor)


@router.get("/remittances/{remittance_id}")
def remittance_page(request: Request, remittance_id: Id, conn: ReadConn, principal: RemittanceReader) -> Response:
    from rcmflow.services.finance_records import remittance_record
    from rcmflow.services.finance_views import remittance_detail

    detail = remittance_detail(conn, principal.organisation_id, remittance_id, facility_filter(principal))
    record = remittance_record(conn, principal.organisation_id, detail)
    return page(request, "remittance.html", principal, title=f"Remittance {detail['trace_number']}",
                remittance=detail, **record, may_ledger=principal.may("ledger:read"),
                may_deposits=principal.may("deposits:read"))


@router.get("/deposits")
def deposits_list(request: Request, conn: ReadConn, principal: DepositReader, state: Text = None,
                  cursor: Cursor = None, window: Text = None, as_of: Text = None) -> Response:
    """``window`` and ``as_of``: the deposits with a value date in the window (the control tower's cash deposited),
    with their net amount."""
    from rcmflow.services.cash_search import deposit_total, deposits_in_window
    from rcmflow.services.finance_views import list_deposits
    from rcmflow.services.kpis import kpi_scope
    from rcmflow.services.reconciliation import reconciliation_status

    refuse_unknown_filters(request)
    span = period(as_of, window, now(request))
    if span.given_as_of and span.days is None:
        raise InputError(detail="as_of ends a window: give window (days) with it")
    scope = kpi_scope(conn, as_of=span.as_of, window_days=span.days or 1, organisation_id=principal.organisation_id)
    conditions = deposits_in_window(scope) if span.days is not None else []
    state = _state(state, DEPOSIT_STATES, "deposit")
    rows = list_deposits(conn, principal.organisation_id, state=state,
                         after=decode_cursor(cursor, ORDER), limit=PAGE_SIZE + 1, conditions=conditions)
    listing = cursor_page(rows, PAGE_SIZE, ORDER)
    filters = {key: value for key, value in {"state": state, **span.query()}.items() if value}
    totals = None
    if span.days is not None:
        count, net = deposit_total(conn, scope, [deposits.c.state == state] if state else [])
        totals = {"count": count, "amount": net,
                  "described": f"with a value date in the {span.days} days to {when(span.as_of)}"}
    return page(request, "deposits.html", principal, title="Deposits", deposits=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, states=DEPOSIT_STATES, first_page=not cursor,
                status=reconciliation_status(conn, organisation_id=principal.organisation_id), totals=totals)


@router.get("/deposits/{deposit_id}")
def deposit_page(request: Request, deposit_id: Id, conn: ReadConn, principal: DepositReader) -> Response:
    from rcmflow.services.finance_records import deposit_record

    record = deposit_record(conn, principal.organisation_id, deposit_id)
    return page(request, "deposit.html", principal, title=f"Deposit {deposit_id}", **record,
                may_ledger=principal.may("ledger:read"), may_remittances=principal.may("remittances:read"))

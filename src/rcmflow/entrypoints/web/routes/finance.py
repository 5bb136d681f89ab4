"""Remittances and deposits: the 835 payments with their matched claims, contract variances, PLB amounts, journals
and the deposits that brought the money; the bank deposits with the reconciliation summary and each deposit's
matches to remittances and its open reconciliation work. Reads only, within the person's organisation; claim
payments of claims outside the person's facilities are left out, as the API leaves them out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rcmflow.adapters.store.schema import DEPOSIT_STATES, REMITTANCE_STATES
from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import Id, ReadConn
from rcmflow.entrypoints.api.pagination import decode_cursor
from rcmflow.entrypoints.api.pagination import page as cursor_page
from rcmflow.entrypoints.api.security import facility_filter, require
from rcmflow.entrypoints.web.render import page
from rcmflow.errors import InputError

router = APIRouter(prefix="/ui", include_in_schema=False)
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
                     payer_id: Text = None, cursor: Cursor = None, denied: Text = None,
                     touched: Text = None) -> Response:
    from rcmflow.services.finance_views import list_remittances

    rows = list_remittances(conn, principal.organisation_id, state=_state(state, REMITTANCE_STATES, "remittance"),
                            payer_id=payer_id or None, after=decode_cursor(cursor, ORDER), limit=PAGE_SIZE + 1)
    listing = cursor_page(rows, PAGE_SIZE, ORDER)
    unapplied = {key: value for key, value in (("denied", denied), ("touched", touched)) if value}
    filters = {key: value for key, value in {"state": state, "payer_id": payer_id, **unapplied}.items() if value}
    return page(request, "remittances.html", principal, title="Remittances", remittances=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, states=REMITTANCE_STATES, unapplied=unapplied,
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
                  cursor: Cursor = None) -> Response:
    from rcmflow.services.finance_views import list_deposits
    from rcmflow.services.reconciliation import reconciliation_status

    rows = list_deposits(conn, principal.organisation_id, state=_state(state, DEPOSIT_STATES, "deposit"),
                         after=decode_cursor(cursor, ORDER), limit=PAGE_SIZE + 1)
    listing = cursor_page(rows, PAGE_SIZE, ORDER)
    filters = {"state": state} if state else {}
    return page(request, "deposits.html", principal, title="Deposits", deposits=listing["items"],
                next_cursor=listing["next_cursor"], filters=filters, states=DEPOSIT_STATES, first_page=not cursor,
                status=reconciliation_status(conn, organisation_id=principal.organisation_id))


@router.get("/deposits/{deposit_id}")
def deposit_page(request: Request, deposit_id: Id, conn: ReadConn, principal: DepositReader) -> Response:
    from rcmflow.services.finance_records import deposit_record

    record = deposit_record(conn, principal.organisation_id, deposit_id)
    return page(request, "deposit.html", principal, title=f"Deposit {deposit_id}", **record,
                may_ledger=principal.may("ledger:read"), may_remittances=principal.may("remittances:read"))

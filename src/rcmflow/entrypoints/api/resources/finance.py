"""Money: remittances with their claim payments and deposits, bank deposits, journal entries, the trial
balance, the operational summary and the KPIs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import BoundedReadConn, Cursor, Id, Limit, ReadConn
from rcmflow.entrypoints.api.pagination import decode_cursor, page
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.schemas import KpiReportOut
from rcmflow.entrypoints.api.security import facility_filter, require

router = APIRouter(prefix="/v1", route_class=OneHopRoute)
_REMITTANCE_STATE = "^(received|matched|held|rejected|posted|reconciled|reversed)$"
_DEPOSIT_STATE = "^(received|matched|unmatched|reconciled|written off)$"


@router.get("/remittances", tags=["remittances"])
def list_remittances_route(conn: BoundedReadConn, principal: Annotated[Principal, Depends(require("remittances:read"))],
                           state: Annotated[str | None, Query(pattern=_REMITTANCE_STATE)] = None,
                           payer_id: Annotated[str | None, Query(max_length=64)] = None,
                           limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """Remittances (835 payments), newest first."""
    from rcmflow.services.finance_views import list_remittances

    rows = list_remittances(conn, principal.organisation_id, state=state, payer_id=payer_id,
                            after=decode_cursor(cursor, "-id"), limit=limit + 1)
    return page(rows, limit, "-id")


@router.get("/remittances/{remittance_id}", tags=["remittances"])
def remittance_route(remittance_id: Id, conn: ReadConn,
                     principal: Annotated[Principal, Depends(require("remittances:read"))]) -> dict[str, Any]:
    """One remittance, its claim payments (of the caller's facilities) and the deposits that paid it."""
    from rcmflow.services.finance_views import remittance_detail

    return remittance_detail(conn, principal.organisation_id, remittance_id, facility_filter(principal))


@router.get("/deposits", tags=["deposits"])
def list_deposits_route(conn: BoundedReadConn, principal: Annotated[Principal, Depends(require("deposits:read"))],
                        state: Annotated[str | None, Query(pattern=_DEPOSIT_STATE)] = None,
                        limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """Bank deposits (BAI2, lockbox), newest first, with their reconciliation state."""
    from rcmflow.services.finance_views import list_deposits

    rows = list_deposits(conn, principal.organisation_id, state=state, after=decode_cursor(cursor, "-id"),
                         limit=limit + 1)
    return page(rows, limit, "-id")


@router.get("/ledger/entries", tags=["ledger"])
def journal_entries_route(conn: BoundedReadConn, principal: Annotated[Principal, Depends(require("ledger:read"))],
                          journal: Annotated[str | None, Query(max_length=32)] = None,
                          source_type: Annotated[str | None, Query(max_length=64)] = None,
                          source_id: Annotated[str | None, Query(max_length=128)] = None,
                          limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """Journal entries with their lines, newest first, filtered by journal or by source object."""
    from rcmflow.services.finance_views import list_journal_entries

    rows = list_journal_entries(conn, principal.organisation_id, journal=journal, source_type=source_type,
                                source_id=source_id, after=decode_cursor(cursor, "-id"), limit=limit + 1)
    return page(rows, limit, "-id")


@router.get("/ledger/trial-balance", tags=["ledger"])
def trial_balance_route(conn: ReadConn, principal: Annotated[Principal, Depends(require("ledger:read"))],
                        as_of: date | None = None) -> dict[str, Any]:
    """Debits, credits and balance per account up to ``as_of``; the totals agree when the ledger balances."""
    from rcmflow.services.ledger import trial_balance

    return trial_balance(conn, as_of=as_of, organisation_id=principal.organisation_id).to_json()


@router.get("/reports/summary", tags=["reports"])
def summary_route(conn: ReadConn, principal: Annotated[Principal, Depends(require("reports:read"))]) -> dict[str, Any]:
    """The operational summary (the keys of ``rcmflow report summary --json``)."""
    from rcmflow.services.reports import summary

    return summary(conn, principal.organisation_id)


@router.get("/reports/kpis", tags=["reports"], response_model=KpiReportOut)
def kpis_route(conn: ReadConn, principal: Annotated[Principal, Depends(require("reports:read"))],
               by: Annotated[str | None, Query(pattern="^(facility|payer|department|queue|exception_type)$",
                                               description="Slice every KPI that supports it by this dimension.")]
               = None,
               window_days: Annotated[int, Query(ge=1, le=366, description="Days the rates and latencies cover.")]
               = 30) -> dict[str, Any]:
    """The KPIs now (docs/kpis.md), in total and per group of ``by``, limited to the caller's facilities."""
    from rcmflow.adapters.store.schema import utc_now
    from rcmflow.services.kpis import compute_kpis

    return compute_kpis(conn, as_of=utc_now(), window_days=window_days, by=by, facilities=facility_filter(principal),
                        organisation_id=principal.organisation_id).to_dict()

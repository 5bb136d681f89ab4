"""The claims list of the web UI: ``claim_views.list_claims`` with what the control tower's drill-downs ask for
besides (several states at once, the open ones, an age window on creation), the facility of each claim, and
the scrub counts computed for the page's claims only, so a page costs the same on a million claims as on ten."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from rcmflow.adapters.store.schema import CLAIM_STATES, claims, scrub_findings
from rcmflow.adapters.store.sql import keyset_page
from rcmflow.errors import InputError
from rcmflow.services.claim_views import CLAIM_SORTS
from rcmflow.services.kpis import CLAIM_OPEN_STATES  # "open" as the control tower's backlog counts it

_COLUMNS = (claims.c.id, claims.c.source_id, claims.c.patient_control_number, claims.c.claim_type,
            claims.c.payer_id, claims.c.payer_name, claims.c.facility_id, claims.c.filing_order, claims.c.service_from,
            claims.c.service_to, claims.c.total_charge, claims.c.state, claims.c.frequency, claims.c.created_at)


def states_for(state: str | None) -> tuple[str, ...] | None:
    """The claim states a ``state`` filter means: one state, "open" (every state not yet done), or None: all."""
    if not state or state == "all":
        return None
    if state == "open":
        return CLAIM_OPEN_STATES
    if state not in CLAIM_STATES:
        raise InputError(detail=f"claim state is one of open, {', '.join(CLAIM_STATES)}")
    return (state,)


def search_claims(conn: Connection, organisation_id: str, *, states: Sequence[str] | None = None,
                  payer_id: str | None = None, facilities: Sequence[str] | None = None,
                  created_after: datetime | None = None, created_until: datetime | None = None, sort: str = "-id",
                  after: tuple[Any, int] | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Claims of the organisation in ``sort`` order (a column of ``CLAIM_SORTS``, "-" for descending),
    continued after ``after`` = (sort value, id), filtered by state, payer, facility (None: every one) and
    creation time in ``(created_after, created_until]``; each with its latest scrub's error and warning counts."""
    column = sort.lstrip("-")
    if column not in CLAIM_SORTS:
        raise InputError(detail=f"claims sort by one of {', '.join(CLAIM_SORTS)} (prefix - for descending)")
    query = select(*_COLUMNS).where(claims.c.organisation_id == organisation_id)
    if states is not None:
        query = query.where(claims.c.state.in_(list(states)))
    if payer_id is not None:
        query = query.where(claims.c.payer_id == payer_id)
    if facilities is not None:
        query = query.where(claims.c.facility_id.in_(list(facilities)))
    if created_after is not None:
        query = query.where(claims.c.created_at > created_after)
    if created_until is not None:
        query = query.where(claims.c.created_at <= created_until)
    query = keyset_page(query, claims.c[column], claims.c.id, descending=sort.startswith("-"), after=after,
                        limit=limit)
    rows = [dict(row._mapping) for row in conn.execute(query)]
    counts = _scrub_counts(conn, [row["id"] for row in rows])
    return [{**row, "total_charge": str(row["total_charge"]), **counts.get(row["id"], {"errors": 0, "warnings": 0})}
            for row in rows]


def _scrub_counts(conn: Connection, claim_ids: list[int]) -> dict[int, dict[str, int]]:
    if not claim_ids:
        return {}
    f = scrub_findings.c
    latest = (select(f.claim_id, func.max(f.scrub_number).label("number"))
              .where(f.claim_id.in_(claim_ids)).group_by(f.claim_id).subquery())
    query = (select(f.claim_id, func.sum(case((f.severity == "error", 1), else_=0)).label("errors"),
                    func.sum(case((f.severity == "warning", 1), else_=0)).label("warnings"))
             .join(latest, and_(latest.c.claim_id == f.claim_id, latest.c.number == f.scrub_number))
             .group_by(f.claim_id))
    return {row.claim_id: {"errors": int(row.errors), "warnings": int(row.warnings)} for row in conn.execute(query)}

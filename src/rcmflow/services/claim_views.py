"""Read-only views of stored claims for the CLI and the API: lists with their scrub outcome, one claim with
its lines, latest findings and event timeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, select

from rcmflow.adapters.store.schema import claim_lines, claims, scrub_findings
from rcmflow.adapters.store.sql import keyset_page
from rcmflow.errors import InputError, NotFoundError
from rcmflow.services.charge_claims import findings_of
from rcmflow.services.claims import CLAIM_OBJECT
from rcmflow.services.events import timeline_of

_SUMMARY_COLUMNS = (claims.c.id, claims.c.source_id, claims.c.patient_control_number, claims.c.claim_type,
                    claims.c.payer_id, claims.c.payer_name, claims.c.service_from, claims.c.service_to,
                    claims.c.total_charge, claims.c.state, claims.c.frequency, claims.c.created_at)


CLAIM_SORTS = ("id", "created_at", "total_charge")


def list_claims(conn: Connection, *, state: str | None = None, payer_id: str | None = None,
                facilities: Sequence[str] | None = None, limit: int = 50, sort: str = "-id",
                after: tuple[Any, int] | None = None) -> list[dict[str, Any]]:
    """Claims in ``sort`` order (a column of ``CLAIM_SORTS``, "-" for descending; newest first by default),
    continued after the row ``after`` = (sort value, id) for cursor pages, each with the error and warning
    counts of its latest scrub. ``facilities``: only claims billed by these (None: every facility)."""
    latest = (select(scrub_findings.c.claim_id, func.max(scrub_findings.c.scrub_number).label("number"))
              .group_by(scrub_findings.c.claim_id).subquery())
    counts = (select(scrub_findings.c.claim_id,
                     func.sum(case((scrub_findings.c.severity == "error", 1), else_=0)).label("errors"),
                     func.sum(case((scrub_findings.c.severity == "warning", 1), else_=0)).label("warnings"))
              .join(latest, and_(latest.c.claim_id == scrub_findings.c.claim_id,
                                 latest.c.number == scrub_findings.c.scrub_number))
              .group_by(scrub_findings.c.claim_id).subquery())
    query = (select(*_SUMMARY_COLUMNS, func.coalesce(counts.c.errors, 0).label("errors"),
                    func.coalesce(counts.c.warnings, 0).label("warnings"))
             .outerjoin(counts, counts.c.claim_id == claims.c.id))
    if state is not None:
        query = query.where(claims.c.state == state)
    if payer_id is not None:
        query = query.where(claims.c.payer_id == payer_id)
    if facilities is not None:
        query = query.where(claims.c.facility_id.in_(list(facilities)))
    column = sort.lstrip("-")
    if column not in CLAIM_SORTS:
        raise InputError(detail=f"claims sort by one of {', '.join(CLAIM_SORTS)} (prefix - for descending)")
    query = keyset_page(query, claims.c[column], claims.c.id, descending=sort.startswith("-"), after=after,
                        limit=limit)
    return [{**row._mapping, "total_charge": str(row.total_charge)} for row in conn.execute(query)]


# One claim's detail is the API's most frequent read: its statements are built once, with bound parameters, so
# a request neither rebuilds them nor recomputes SQLAlchemy's cache keys (together more than the queries cost).
_CLAIM = select(*_SUMMARY_COLUMNS, claims.c.member_id, claims.c.facility_id, claims.c.payer_claim_number,
                claims.c.document_id).where(claims.c.id == bindparam("claim_id"))
_LINES = (select(claim_lines.c.line_number, claim_lines.c.procedure_code, claim_lines.c.modifiers,
                 claim_lines.c.revenue_code, claim_lines.c.units, claim_lines.c.charge, claim_lines.c.service_date,
                 claim_lines.c.line_item_control_number)
          .where(claim_lines.c.claim_id == bindparam("claim_id")).order_by(claim_lines.c.line_number))


def claim_detail(conn: Connection, claim_id: int, *, timeline: bool = True) -> dict[str, Any]:
    """One claim, its lines, the findings of its latest scrub and (unless not ``timeline``: a caller that reads the
    events itself, or needs none) its timeline from the event log."""
    row = conn.execute(_CLAIM, {"claim_id": claim_id}).one_or_none()
    if row is None:
        raise NotFoundError(kind="claim", key=claim_id)
    lines = [{**line._mapping, "charge": str(line.charge), "units": None if line.units is None else str(line.units)}
             for line in conn.execute(_LINES, {"claim_id": claim_id})]
    detail = {"claim": {**row._mapping, "total_charge": str(row.total_charge)}, "lines": lines,
              "findings": findings_of(conn, claim_id)}
    if timeline:
        detail["events"] = timeline_of(conn, CLAIM_OBJECT, str(claim_id))
    return detail

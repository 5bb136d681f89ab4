"""What the claim page shows beyond the lines, findings and timeline of ``claim_views.claim_detail``: the claim's
billing facts, the eligibility on file for its member and payer, its acknowledgments, the payments and
adjustments of the remittances that paid it, its work items and appeals, and the raw X12 it was billed and paid
with. Read-only; member identifiers leave here masked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from rcmflow.adapters.crypto import blind_index
from rcmflow.adapters.store.schema import (
    WORK_ITEM_ACTIVE_STATES,
    appeals,
    claim_contents,
    claim_payments,
    claims,
    documents,
    eligibility_responses,
    payment_adjustments,
    remittances,
    service_payments,
    submissions,
    work_item_links,
    work_items,
)
from rcmflow.domain.acknowledgment import ACK_STATUS
from rcmflow.domain.carc import carc_meaning, denial_category, is_denial
from rcmflow.domain.claim_status import STATUS_CATEGORY
from rcmflow.domain.codes import CLAIM_STATUS
from rcmflow.domain.rarc import rarc_meaning
from rcmflow.formats.x12.excerpt import Excerpt, claim_loop, claim_payment_loops, mask_identifier
from rcmflow.services.acknowledgments import ACTIVITY_ACCEPT_277, ACTIVITY_REJECT_277, ACTIVITY_REJECT_999
from rcmflow.services.events import Event
from rcmflow.services.work_items import SUMMARY_COLUMNS

ACK_ACTIVITIES = (ACTIVITY_REJECT_999, ACTIVITY_ACCEPT_277, ACTIVITY_REJECT_277)
ELIGIBILITY_ANSWERS_SHOWN = 5


def claim_facts(conn: Connection, claim_id: int) -> dict[str, Any]:
    """What ``claim_detail`` leaves out: organisation, filing order, submission, coordination of benefits (the
    primary claim of a secondary one, the secondary claims billed after this one)."""
    c = claims.c
    row = conn.execute(select(c.organisation_id, c.filing_order, c.submission_id, c.secondary_billing,
                              c.primary_claim_id, c.department_id, c.line_count)
                       .where(c.id == claim_id)).one()
    secondaries = list(conn.execute(select(c.id).where(c.primary_claim_id == claim_id).order_by(c.id)).scalars())
    return {**row._mapping, "secondary_claims": secondaries}


def submission_of(conn: Connection, submission_id: int | None) -> dict[str, Any] | None:
    """The 837 that carried the claim, and what its 999 said."""
    if submission_id is None:
        return None
    s = submissions.c
    row = conn.execute(select(s.id, s.partner_id, s.file_name, s.created_at, s.claim_count,
                              s.interchange_control_number, s.group_control_number, s.transaction_control_number,
                              s.ack_status, s.acknowledged_at).where(s.id == submission_id)).one_or_none()
    if row is None:
        return None
    meaning = ACK_STATUS.get(row.ack_status or "", "") if row.ack_status else "no 999 yet"
    return {**row._mapping, "ack_meaning": meaning}


def acknowledgments(events: Sequence[Event]) -> list[dict[str, Any]]:
    """The 999 rejections and 277CA answers of the claim's timeline, with their status codes' meanings."""
    found = []
    for event in events:
        if event.activity not in ACK_ACTIVITIES:
            continue
        attributes = event.attributes or {}
        codes = [str(code) for code in attributes.get("stc", ())]
        found.append({"occurred_at": event.occurred_at, "activity": event.activity, "to_state": event.to_state,
                      "reason": event.reason, "reasons": list(attributes.get("reasons", ())),
                      "codes": [(code, STATUS_CATEGORY.get(code.split(":")[0], "")) for code in codes]})
    return found


def eligibility_answers(conn: Connection, organisation_id: str, payer_id: str, member_id: str | None,
                        limit: int = ELIGIBILITY_ANSWERS_SHOWN) -> list[dict[str, Any]]:
    """The stored 271 answers for this payer and member, newest first, the member id masked."""
    index = blind_index(member_id) if member_id else None
    if index is None:
        return []
    e = eligibility_responses.c
    rows = conn.execute(select(e.id, e.member_id, e.status, e.plan_begin, e.plan_end, e.copay, e.coinsurance,
                               e.deductible_remaining, e.out_of_pocket_remaining, e.reject_reasons, e.trace_number,
                               e.responded_on, e.created_at)
                        .where(e.organisation_id == organisation_id, e.payer_id == payer_id,
                               e.member_id_index == index)
                        .order_by(e.id.desc()).limit(limit * 4))
    # The blind index narrows; the decrypted id decides (two ids may normalise alike).
    answers = [{**row._mapping, "member_id": mask_identifier(row.member_id)} for row in rows
               if row.member_id == member_id]
    return answers[:limit]


def _allowed(charge: Decimal, lines: list[dict[str, Any]], adjustments: list[dict[str, Any]]) -> tuple[Decimal, str]:
    """The payer's allowed amount: the lines' AMT*B6 when every line reports one, else the charge less the
    contractual reductions (CO, sequestration aside), as posting judges the contract variance."""
    if lines and all(line["allowed"] is not None for line in lines):
        return sum((line["allowed"] for line in lines), Decimal("0.00")), "AMT*B6"
    contractual = sum((a["amount"] for a in adjustments if a["group_code"] == "CO" and a["reason_code"] != "253"),
                      Decimal("0.00"))
    return charge - contractual, "charge less CO adjustments"


def _remarks(remarks: Sequence[dict[str, str]] | None) -> list[tuple[str, str]]:
    return [(remark.get("code", ""), rarc_meaning(remark.get("code", "")) if remark.get("qualifier", "HE") == "HE"
             else "NCPDP reject/payment code") for remark in remarks or ()]


def claim_payments_of(conn: Connection, claim_id: int) -> list[dict[str, Any]]:
    """The claim's payments (835 CLP), oldest first, each with its remittance, its service lines, its adjustments
    (CAS: group, CARC, meaning, denial category) and remarks (RARC with meanings)."""
    cp, r = claim_payments.c, remittances.c
    rows = conn.execute(select(cp.id, cp.remittance_id, cp.patient_control_number, cp.status, cp.charge, cp.paid,
                               cp.patient_responsibility, cp.payer_claim_control_number, cp.state, cp.remarks,
                               cp.match_method, cp.match_confidence, cp.expected_allowed, cp.variance, cp.posted_at,
                               cp.crossover_payer, r.payer_id, r.payer_name, r.trace_number, r.payment_date,
                               r.control_number, r.document_id)
                        .join(remittances, r.id == cp.remittance_id)
                        .where(cp.claim_id == claim_id).order_by(cp.id)).all()
    ids = [row.id for row in rows]
    if not ids:
        return []
    sp, pa = service_payments.c, payment_adjustments.c
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in conn.execute(select(sp.id, sp.claim_payment_id, sp.procedure_code, sp.modifiers, sp.revenue_code,
                                    sp.charge, sp.paid, sp.allowed, sp.units, sp.service_date,
                                    sp.line_item_control_number, sp.remarks)
                             .where(sp.claim_payment_id.in_(ids)).order_by(sp.id)):
        lines[line.claim_payment_id].append({**line._mapping, "remarks": _remarks(line.remarks),
                                             "number": len(lines[line.claim_payment_id]) + 1})
    numbers = {line["id"]: line["number"] for found in lines.values() for line in found}
    adjustments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for adjustment in conn.execute(select(pa.claim_payment_id, pa.service_payment_id, pa.group_code,
                                          pa.reason_code, pa.amount, pa.quantity)
                                   .where(pa.claim_payment_id.in_(ids)).order_by(pa.id)):
        denial = is_denial(adjustment.group_code, adjustment.reason_code)
        adjustments[adjustment.claim_payment_id].append({
            **adjustment._mapping, "line": numbers.get(adjustment.service_payment_id),
            "meaning": carc_meaning(adjustment.reason_code), "denial": denial,
            "category": denial_category(adjustment.reason_code) if denial else None})
    found = []
    for row in rows:
        allowed, allowed_source = _allowed(row.charge, lines[row.id], adjustments[row.id])
        found.append({**row._mapping, "status_meaning": CLAIM_STATUS.get(row.status, ""),
                      "remarks": _remarks(row.remarks), "lines": lines[row.id], "adjustments": adjustments[row.id],
                      "allowed": allowed, "allowed_source": allowed_source})
    return found


def work_items_about(conn: Connection, object_type: str, object_id: int | str, *,
                     active_only: bool = False) -> list[dict[str, Any]]:
    """Every work item about an object or linked to it (only the active ones with ``active_only``), newest
    first."""
    w = work_items.c
    linked = select(work_item_links.c.work_item_id).where(work_item_links.c.object_type == object_type,
                                                          work_item_links.c.object_id == str(object_id))
    query = (select(*SUMMARY_COLUMNS)
             .where(or_(and_(w.object_type == object_type, w.object_id == str(object_id)), w.id.in_(linked)))
             .order_by(w.id.desc()))
    if active_only:
        query = query.where(w.state.in_(WORK_ITEM_ACTIVE_STATES))
    return [dict(row._mapping) for row in conn.execute(query)]


def appeals_of(conn: Connection, claim_id: int) -> list[dict[str, Any]]:
    """The claim's appeals, first level first (the reason is free text: PHI, shown on the audited claim page)."""
    a = appeals.c
    return [dict(row._mapping) for row in conn.execute(
        select(a.id, a.level, a.state, a.reason, a.denial_codes, a.created_at, a.submitted_at, a.decided_at)
        .where(a.claim_id == claim_id).order_by(a.level, a.id))]


def _lines(excerpt: Excerpt | None) -> list[str]:
    return excerpt.lines() if excerpt is not None else []


def billed_segments(conn: Connection, claim: dict[str, Any], submission: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The claim's CLM loop as rcmflow holds it: the 837 it built (a secondary claim), the 837 that was
    submitted, and the 837 it was received in (when it came as X12)."""
    pcn = claim["patient_control_number"]
    found = []
    built = conn.execute(select(claim_contents.c.content).where(
        claim_contents.c.claim_id == claim["id"])).scalar_one_or_none()
    if built is not None:
        found.append({"label": "837 built by rcmflow", "lines": _lines(claim_loop(bytes(built), pcn))})
    if submission is not None:
        content = conn.execute(select(submissions.c.content).where(
            submissions.c.id == submission["id"])).scalar_one()
        found.append({"label": f"837 as submitted ({submission['file_name']})",
                      "lines": _lines(claim_loop(bytes(content), pcn))})
    if claim.get("document_id") is not None:
        document = conn.execute(select(documents.c.detected_type, documents.c.content).where(
            documents.c.id == claim["document_id"])).one_or_none()
        if document is not None and document.detected_type.startswith("837"):
            found.append({"label": f"837 as received (document {claim['document_id']})",
                          "lines": _lines(claim_loop(bytes(document.content), pcn))})
    return found


def paid_segments(conn: Connection, payments: Sequence[dict[str, Any]]) -> dict[int, list[str]]:
    """The CLP loop of each claim payment (by id), from its remittance's raw 835: the claim payments of a
    remittance are stored in file order, so a payment's rank among them is its CLP loop's rank."""
    found: dict[int, list[str]] = {}
    by_remittance: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for payment in payments:
        if payment["document_id"] is not None:
            by_remittance[payment["remittance_id"]].append(payment)
    for remittance_id, paid in by_remittance.items():
        content = conn.execute(select(documents.c.content).where(
            documents.c.id == paid[0]["document_id"])).scalar_one_or_none()
        if content is None:
            continue
        loops = claim_payment_loops(bytes(content), trace_number=paid[0]["trace_number"],
                                    control_number=paid[0]["control_number"])
        order = list(conn.execute(select(claim_payments.c.id).where(
            claim_payments.c.remittance_id == remittance_id).order_by(claim_payments.c.id)).scalars())
        for payment in paid:
            rank = order.index(payment["id"])
            loop = loops[rank] if rank < len(loops) else None
            # The rank is trusted only when the loop names the same claim: a file that does not hold what was
            # stored shows nothing rather than another patient's claim.
            if loop is not None and loop.segments[0][1:2] == (payment["patient_control_number"],):
                found[payment["id"]] = loop.lines()
    return found

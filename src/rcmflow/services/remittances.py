"""ERA intake: store parsed 835 remittances (payment, claim payments, service payments, adjustments, PLB).

A remittance is identified by its payer and trace number (TRN02). The same pair arriving again is either a
true duplicate (same content digest: nothing is stored, so nothing can be posted twice) or a conflict
(different digest). The unique key allows one row per pair, so a conflict leaves the stored remittance
unchanged and opens a "conflicting remittance" work item on it for a person to decide.

Storage is set-based: one multi-row INSERT per table per call, whatever the number of claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Connection, case, func, select, tuple_

from rcmflow.adapters.crypto import blind_index
from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    claim_payments,
    payment_adjustments,
    provider_adjustments,
    remittances,
    service_payments,
)
from rcmflow.adapters.store.sql import (
    bulk_insert,
    bulk_insert_values,
    insert_ignoring_conflicts,
    reserve_ids,
    sum_money,
    summed_money,
)
from rcmflow.domain.remittance import ClaimPayment, Remark, Remittance
from rcmflow.domain.states import CLAIM_PAYMENT, REMITTANCE
from rcmflow.formats.x12.digest import segments_digest
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS
from rcmflow.formats.x12.ts835_write import write_835
from rcmflow.services.events import Event, append_events
from rcmflow.services.transitions import StateTable, register_state_table
from rcmflow.services.work_items import WorkItemSpec, open_items

REMITTANCE_OBJECT = "remittance"
CLAIM_PAYMENT_OBJECT = "claim payment"
ACTIVITY_RECEIVE = "receive remittance"
ACTIVITY_RECEIVE_CLAIM_PAYMENT = "receive claim payment"
POSTING_QUEUE = "posting_exceptions"
CONFLICT_ITEM_TYPE = "conflicting remittance"
_PAYER_ID_LENGTH = 64  # remittances.payer_id, event_log.payer_id

register_state_table(REMITTANCE_OBJECT, StateTable(remittances))
register_state_table(CLAIM_PAYMENT_OBJECT, StateTable(claim_payments))


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What one store call did: ids of new remittances, and of stored ones the input duplicated or
    conflicted with (one entry per input remittance that was not stored)."""

    stored: tuple[int, ...]
    duplicates: tuple[int, ...]
    conflicts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RemittanceSummary:
    """Counts and totals of stored remittances, for reports."""

    remittances: int
    by_state: dict[str, int]
    payment_total: Decimal  # BPR02 of every remittance not rejected or reversed
    claim_payments: int
    claim_paid_total: Decimal
    service_payments: int
    provider_adjustment_total: Decimal


def payer_key(remittance: Remittance) -> str:
    """The payer half of a remittance's identity: the N1*PR identifier, else its name, else TRN03."""
    payer = remittance.payer
    key = (payer.id or payer.name) if payer is not None else ""
    return (key or remittance.originator_id)[:_PAYER_ID_LENGTH]


def content_digest(remittance: Remittance) -> str:
    """The content digest of a remittance known only as a record (built in code, not read from a file): the
    digest of the segments the 835 writer gives it, so that it equals the digest of the same remittance read
    from X12 (``ParsedTransaction.digest``, which intake uses). ST02 is envelope, not content."""
    return segments_digest(write_835(remittance, "0001"), DEFAULT_DELIMITERS)


def _remarks(remarks: Sequence[Remark]) -> list[dict[str, str]] | None:
    return [{"code": remark.code, "qualifier": remark.qualifier} for remark in remarks] or None


def register_remittances(
    conn: Connection,
    document_id: int | None,
    items: Sequence[Remittance],
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
    digests: Sequence[str] = (),
) -> tuple[StoreResult, list[tuple[int, Remittance]]]:
    """Insert the remittance rows (not their claim payments) in the caller's transaction, with their "receive"
    events; skip duplicates and open a work item per conflict. Returns the result and the new (id, record)
    pairs, whose claim payments the caller stores (``store_remittances``) or posts at once
    (``services.posting.receive_and_post``). ``digests``: each item's content digest, one per item, when the
    caller has them (computed where the file was read); else ``content_digest`` of each record."""
    if not items:
        return StoreResult((), (), ()), []
    if not digests:
        digests = [content_digest(item) for item in items]
    keyed = [((payer_key(item), item.trace_number), digest, item) for item, digest in zip(items, digests, strict=True)]
    first: dict[tuple[str, str], tuple[str, Remittance]] = {}
    for key, digest, item in keyed:
        first.setdefault(key, (digest, item))  # the same pair twice in one file: the first is the candidate

    inserted = _insert_remittances(conn, document_id, first, now, organisation_id)
    missing = [key for key in first if key not in inserted]
    existing = _existing(conn, missing, organisation_id) if missing else {}
    known = {key: (row_id, first[key][0]) for key, row_id in inserted.items()} | existing

    stored: list[int] = []
    duplicates: list[int] = []
    conflicts: list[int] = []
    conflict_specs: list[WorkItemSpec] = []
    for index, (key, digest, item) in enumerate(keyed):
        row_id, stored_digest = known[key]
        if key in inserted and first[key][1] is item:
            stored.append(row_id)
        elif digest == stored_digest:
            duplicates.append(row_id)
        else:
            conflicts.append(row_id)
            conflict_specs.append(WorkItemSpec(
                queue=POSTING_QUEUE, item_type=CONFLICT_ITEM_TYPE, object_type=REMITTANCE_OBJECT,
                object_id=str(row_id), title=f"Remittance {key[1]} from {key[0]} arrived again with different content",
                exception_code=key[1], organisation_id=organisation_id, payer_id=key[0],
                details={"document_id": document_id, "content_digest": digest, "stored_digest": stored_digest,
                         "position": index},
            ))

    new = [(inserted[key], first[key][1]) for key in first if key in inserted]
    append_events(conn, [
        Event(REMITTANCE_OBJECT, str(row_id), REMITTANCE.initial, ACTIVITY_RECEIVE, actor, occurred_at=now,
              organisation_id=organisation_id, payer_id=payer_key(item),
              attributes={"document_id": document_id, "trace_number": item.trace_number,
                          "payment_amount": str(item.payment_amount), "claims": len(item.claims)})
        for row_id, item in new
    ])
    if conflict_specs:
        open_items(conn, conflict_specs, actor=actor, now=now)
    return StoreResult(tuple(stored), tuple(duplicates), tuple(conflicts)), new


def store_remittances(
    conn: Connection,
    document_id: int | None,
    items: Sequence[Remittance],
    *,
    actor: str,
    now: datetime,
    organisation_id: str = DEFAULT_ORGANISATION,
    digests: Sequence[str] = (),
) -> StoreResult:
    """Store remittances with their claims, lines and adjustments in the caller's transaction, their claim
    payments "received" for posting to pick up; skip duplicates and open a work item per conflict (the stored
    remittance stays as it is)."""
    result, new = register_remittances(conn, document_id, items, actor=actor, now=now,
                                       organisation_id=organisation_id, digests=digests)
    append_events(conn, [
        Event(CLAIM_PAYMENT_OBJECT, str(claim_id), CLAIM_PAYMENT.initial, ACTIVITY_RECEIVE_CLAIM_PAYMENT, actor,
              occurred_at=now, organisation_id=organisation_id, payer_id=payer)
        for claim_id, payer in _insert_children(conn, new, organisation_id)
    ])
    return result


def _insert_remittances(conn: Connection, document_id: int | None,
                        candidates: dict[tuple[str, str], tuple[str, Remittance]], now: datetime,
                        organisation_id: str) -> dict[tuple[str, str], int]:
    """Insert the candidates, skipping pairs already stored (also by a concurrent intake); return new ids."""
    rows = []
    for (payer_id, trace), (digest, item) in candidates.items():
        payee = item.payee
        rows.append({
            "organisation_id": organisation_id, "document_id": document_id, "payer_id": payer_id,
            "payer_name": item.payer.name if item.payer is not None else None,
            "payee_id": payee.id if payee is not None and payee.id else None, "trace_number": trace,
            "originator_id": item.originator_id[:80] or None,
            "payment_amount": item.payment_amount, "credit_debit": item.credit_debit,
            "payment_method": item.payment_method, "payment_date": item.payment_date,
            "production_date": item.production_date, "control_number": item.control_number,
            "state": REMITTANCE.initial, "content_digest": digest, "claim_count": len(item.claims),
            "created_at": now,
        })
    statement = insert_ignoring_conflicts(
        conn, remittances, "organisation_id", "payer_id", "trace_number",
    ).returning(remittances.c.id, remittances.c.payer_id, remittances.c.trace_number)
    return {(row.payer_id, row.trace_number): row.id for row in conn.execute(statement, rows)}


def _existing(conn: Connection, keys: Sequence[tuple[str, str]],
              organisation_id: str) -> dict[tuple[str, str], tuple[int, str]]:
    query = select(remittances.c.id, remittances.c.payer_id, remittances.c.trace_number,
                   remittances.c.content_digest).where(
        remittances.c.organisation_id == organisation_id,
        tuple_(remittances.c.payer_id, remittances.c.trace_number).in_(keys),
    )
    return {(row.payer_id, row.trace_number): (row.id, row.content_digest) for row in conn.execute(query)}


# The service payment and adjustment columns ``PaymentRows`` holds values of, in this order.
SERVICE_PAYMENT_COLUMNS = ("id", "organisation_id", "claim_payment_id", "procedure_qualifier", "procedure_code",
                           "modifiers", "revenue_code", "charge", "paid", "allowed", "units", "service_date",
                           "line_item_control_number", "remarks", "claim_line_id")
ADJUSTMENT_COLUMNS = ("organisation_id", "claim_payment_id", "service_payment_id", "group_code", "reason_code",
                      "amount", "quantity")


class PaymentRows(NamedTuple):
    """The rows one claim payment is stored as, ids included: its claim payment row, its service payment rows
    (in SVC order, ``SERVICE_PAYMENT_COLUMNS`` values, the billed line last and None until posting pairs it) and
    its CAS rows (``ADJUSTMENT_COLUMNS`` values, claim level first, then each line's). Lines and CAS are tuples:
    a million lines are built and inserted per run, and a tuple is a third of the cost of a dict."""

    claim: dict[str, Any]
    lines: list[tuple[Any, ...]]
    adjustments: list[tuple[Any, ...]]


def payment_rows(organisation_id: str, remittance_id: int, claim: ClaimPayment, claim_id: int,
                 line_ids: Sequence[int]) -> PaymentRows:
    """The rows of one claim payment, "received", with the ids it will have (``line_ids``: one per service
    payment); posting at intake completes them before they are inserted."""
    claim_row = {
        "id": claim_id, "organisation_id": organisation_id, "remittance_id": remittance_id,
        "patient_control_number": claim.patient_control_number, "status": claim.status,
        "charge": claim.charge, "paid": claim.paid, "patient_responsibility": claim.patient_responsibility,
        "filing_indicator": claim.filing_indicator or None,
        "payer_claim_control_number": claim.payer_claim_control_number or None,
        "state": CLAIM_PAYMENT.initial, "remarks": _remarks(claim.remarks),
        **_matching_facts(claim),
        # Set by posting: the claim, how it was found, the contract variance, when it was posted.
        "claim_id": None, "match_method": None, "match_confidence": None, "expected_allowed": None, "variance": None,
        "posted_at": None,
    }
    adjustments = [(organisation_id, claim_id, None, a.group, a.reason, a.amount, a.quantity)
                   for a in claim.adjustments]
    lines: list[tuple[Any, ...]] = []
    for line_id, line in zip(line_ids, claim.service_payments, strict=True):
        procedure = line.procedure
        lines.append((line_id, organisation_id, claim_id, procedure.qualifier or None, procedure.code or None,
                      ":".join(procedure.modifiers) or None, line.revenue_code or None, line.charge, line.paid,
                      line.amount("B6"), line.units_paid, line.service_date, line.line_item_control_number or None,
                      _remarks(line.remarks) if line.remarks else None, None))
        if line.adjustments:
            adjustments += [(organisation_id, claim_id, line_id, a.group, a.reason, a.amount, a.quantity)
                            for a in line.adjustments]
    return PaymentRows(claim_row, lines, adjustments)


def insert_payment_rows(conn: Connection, rows: Sequence[PaymentRows]) -> None:
    """Insert claim payments with their lines and CAS, one bulk statement per table (ids already assigned)."""
    bulk_insert(conn, claim_payments, [item.claim for item in rows])
    bulk_insert_values(conn, service_payments, SERVICE_PAYMENT_COLUMNS, [line for item in rows for line in item.lines])
    bulk_insert_values(conn, payment_adjustments, ADJUSTMENT_COLUMNS,
                       [adjustment for item in rows for adjustment in item.adjustments])


def new_payment_rows(conn: Connection, new: Sequence[tuple[int, Remittance]],
                     organisation_id: str) -> list[tuple[str, ClaimPayment, PaymentRows]]:
    """(payer, record, rows) of every claim payment of the new remittances, in file order, with the ids of
    their claim payment and service payment rows reserved in this transaction (nothing is inserted yet)."""
    return build_payment_rows(new, organisation_id, *reserve_payment_ids(conn, new))


def reserve_payment_ids(conn: Connection, new: Sequence[tuple[int, Remittance]]) -> tuple[list[int], list[int]]:
    """Ids for the claim payments and the service payments of the new remittances, in file order."""
    claims = [claim for _, item in new for claim in item.claims]
    return (reserve_ids(conn, claim_payments, len(claims)),
            reserve_ids(conn, service_payments, sum(len(claim.service_payments) for claim in claims)))


def build_payment_rows(new: Sequence[tuple[int, Remittance]], organisation_id: str, claim_ids: Sequence[int],
                       line_ids: Sequence[int]) -> list[tuple[str, ClaimPayment, PaymentRows]]:
    """``new_payment_rows`` with the ids given (``reserve_payment_ids``): reads nothing."""
    claims = [(remittance_id, payer_key(item), claim) for remittance_id, item in new for claim in item.claims]
    built: list[tuple[str, ClaimPayment, PaymentRows]] = []
    position = 0
    for claim_id, (remittance_id, payer, claim) in zip(claim_ids, claims, strict=True):
        ids = line_ids[position:position + len(claim.service_payments)]
        position += len(ids)
        built.append((payer, claim, payment_rows(organisation_id, remittance_id, claim, claim_id, ids)))
    return built


def _insert_children(conn: Connection, new: Sequence[tuple[int, Remittance]],
                     organisation_id: str) -> list[tuple[int, str]]:
    """Insert claim payments ("received"), service payments, CAS and PLB rows of the new remittances, one
    statement per table; return each claim payment's (id, payer)."""
    insert_provider_adjustments(conn, new, organisation_id)
    built = new_payment_rows(conn, new, organisation_id)
    insert_payment_rows(conn, [rows for _, _, rows in built])
    return [(rows.claim["id"], payer) for payer, _, rows in built]


def insert_provider_adjustments(conn: Connection, new: Sequence[tuple[int, Remittance]],
                                organisation_id: str) -> None:
    """The PLB rows of the new remittances."""
    bulk_insert(conn, provider_adjustments, [{
        "organisation_id": organisation_id, "remittance_id": remittance_id, "provider_id": plb.provider_id,
        "fiscal_period_date": plb.fiscal_period_date, "reason_code": plb.reason,
        "reference": plb.reference or None, "amount": plb.amount,
    } for remittance_id, item in new for plb in item.provider_adjustments])


def _matching_facts(claim: ClaimPayment) -> dict[str, Any]:
    """What matching and secondary billing read besides CLP: member id, service period, crossover payer."""
    patient = claim.entity("QC") or claim.entity("IL")
    member = patient.id if patient is not None and patient.id else None
    start = end = None
    for item in claim.dates:
        if item.qualifier == "232":
            start = item.value
        elif item.qualifier == "233":
            end = item.value
    if start is None:
        days = [line.service_date for line in claim.service_payments if line.service_date is not None]
        if days:
            start, end = min(days), end or max(days)
    crossover = claim.entity("TT")
    member = member[:80] if member else None
    return {"member_id": member, "member_id_index": blind_index(member), "service_from": start,
            "service_to": end or start,
            "crossover_payer": ((crossover.id or crossover.name or "")[:128] or None) if crossover else None}


def remittance_summary(conn: Connection, organisation_id: str | None = None) -> RemittanceSummary:
    """Counts and totals of the stored remittances (of one organisation, or all)."""
    def scoped(query: Any, table: Any) -> Any:
        return query if organisation_id is None else query.where(table.c.organisation_id == organisation_id)

    accepted = remittances.c.state.not_in(("rejected", "reversed"))
    by_state = {row.state: row.n for row in conn.execute(scoped(
        select(remittances.c.state, func.count().label("n")).group_by(remittances.c.state), remittances))}
    payment_total = conn.execute(scoped(select(sum_money(
        conn, case((accepted, remittances.c.payment_amount), else_=0))), remittances)).scalar_one()
    claims = conn.execute(scoped(select(func.count(), sum_money(conn, claim_payments.c.paid)),
                                 claim_payments)).one()
    lines = conn.execute(scoped(select(func.count()).select_from(service_payments), service_payments)).scalar_one()
    plb_total = conn.execute(scoped(select(sum_money(conn, provider_adjustments.c.amount)),
                                    provider_adjustments)).scalar_one()
    return RemittanceSummary(
        remittances=sum(by_state.values()), by_state=by_state, payment_total=summed_money(conn, payment_total),
        claim_payments=claims[0], claim_paid_total=summed_money(conn, claims[1]), service_payments=lines,
        provider_adjustment_total=summed_money(conn, plb_total),
    )

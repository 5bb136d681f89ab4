"""Coordination of benefits: once the primary payer has paid, the claim is billed to the next payer with what
the primary did (837 loops 2320/2330: its CAS, AMT*D paid, AMT*EAF patient liability, DTP*573; 2430 per
line: SVD paid, CAS, DTP*573).

A claim captured with another coverage carries ``secondary_billing = "pending"``. When its primary payment
has posted (the claim is paid or partially paid), the secondary claim is built from the posted payment rows,
kept as its own 837 content (no source document holds it), scrubbed like any claim and routed (ready, or
held). If the primary's 835 says it forwarded the claim itself (CLP02 19, 20, 21: processed and forwarded to
the next payer, a crossover), nothing is built: the next payer will pay from the crossover, and billing it
again would be a duplicate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import Connection, select, update

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    claim_contents,
    claim_lines,
    claim_payments,
    claims,
    payment_adjustments,
    remittances,
    service_payments,
)
from rcmflow.adapters.store.sql import bulk_insert
from rcmflow.domain.charges import OtherCoverage, SourceClaim
from rcmflow.domain.claim import (
    Adjustment,
    Claim,
    ClaimBatch,
    LineAdjudication,
    OtherPayer,
    QualifiedAmount,
    QualifiedDate,
)
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import Procedure
from rcmflow.formats.x12.ts837_write import write_837_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as InterchangeParty
from rcmflow.services.charge_claims import (
    CAPTURE_PATH,
    CAPTURED_STATE,
    ChargeStoreResult,
    load_source_claims,
    record_and_route,
)
from rcmflow.services.claims import CLAIM_OBJECT, claim_digest, claim_row, line_rows
from rcmflow.services.eligibility import eligibility_on_file
from rcmflow.services.events import append_events
from rcmflow.services.scrubbing import Scrubber
from rcmflow.services.transitions import creation_events

PAID_STATES = ("paid", "partially paid")
CROSSOVER_STATUSES = frozenset({"19", "20", "21"})  # processed as primary/secondary/tertiary, forwarded
RESPONSIBILITY = {"P": "S", "S": "T"}


class PrimaryLine(NamedTuple):
    paid: Decimal
    procedure: Procedure | None
    units: Decimal | None
    adjustments: tuple[Adjustment, ...]


class PrimaryPayment(NamedTuple):
    """What the primary payer did with the claim, from its posted 835 rows."""

    status: str  # CLP02
    paid: Decimal
    patient_responsibility: Decimal | None
    payer_claim_number: str
    adjudicated_on: date | None
    adjustments: tuple[Adjustment, ...]  # claim-level CAS
    lines: dict[int, PrimaryLine]  # by billed line number


@dataclass
class SecondaryResult:
    created: list[int] = field(default_factory=list)  # the secondary claims' ids
    crossover: list[int] = field(default_factory=list)  # primary claims the payer forwarded itself
    routing: ChargeStoreResult = field(default_factory=ChargeStoreResult)


def secondary_claim(primary: Claim, next_payer: OtherCoverage, payment: PrimaryPayment) -> Claim:
    """The claim to the next payer: the same services, its subscriber and payer, and the primary's
    adjudication in loops 2320/2330 and 2430."""
    dates = (QualifiedDate("573", payment.adjudicated_on),) if payment.adjudicated_on else ()
    amounts = [QualifiedAmount("D", payment.paid)]
    if payment.patient_responsibility is not None:
        amounts.append(QualifiedAmount("EAF", payment.patient_responsibility))
    primary_payer = primary.payer._replace(
        references=(Reference("F8", payment.payer_claim_number),) if payment.payer_claim_number else ())
    other = OtherPayer(primary.subscriber._replace(payer_responsibility=primary.subscriber.payer_responsibility or "P"),
                       primary_payer, payment.adjustments, tuple(amounts), "Y", "P", "Y",
                       adjudication_date=payment.adjudicated_on)
    lines = []
    for line in primary.service_lines:
        adjudicated = payment.lines.get(line.line_number)
        if adjudicated is not None:
            line = line._replace(adjudications=(LineAdjudication(
                primary.payer.id, adjudicated.paid, adjudicated.procedure or line.procedure, units=adjudicated.units,
                adjustments=adjudicated.adjustments, dates=dates),))
        lines.append(line)
    return primary._replace(
        frequency="1", subscriber=next_payer.subscriber, payer=next_payer.payer, patient=next_payer.patient,
        other_payers=(other, *primary.other_payers), service_lines=tuple(lines),
        # The primary's payer claim number is the primary's business (2330B REF*F8), not a replacement's REF*F8.
        references=tuple(ref for ref in primary.references if ref.qualifier != "F8"))


def _primary_payments(conn: Connection, claim_ids: Sequence[int]) -> dict[int, PrimaryPayment]:
    """The latest posted, non-reversal payment of each claim, with its adjustments and line payments."""
    rows = conn.execute(select(
        claim_payments.c.id, claim_payments.c.claim_id, claim_payments.c.status, claim_payments.c.paid,
        claim_payments.c.patient_responsibility, claim_payments.c.payer_claim_control_number,
        claim_payments.c.crossover_payer, remittances.c.payment_date)
        .join(remittances, remittances.c.id == claim_payments.c.remittance_id)
        .where(claim_payments.c.claim_id.in_(list(claim_ids)), claim_payments.c.state == "posted",
               claim_payments.c.status != "22")
        .order_by(claim_payments.c.id)).all()
    latest = {row.claim_id: row for row in rows}  # ordered by id: the last one wins
    by_payment = {row.id: row for row in latest.values()}
    if not by_payment:
        return {}
    adjustments: dict[int, list[tuple[int | None, Adjustment]]] = defaultdict(list)
    for row in conn.execute(select(payment_adjustments).where(
            payment_adjustments.c.claim_payment_id.in_(list(by_payment))).order_by(payment_adjustments.c.id)):
        adjustments[row.claim_payment_id].append(
            (row.service_payment_id, Adjustment(row.group_code, row.reason_code, row.amount, row.quantity)))
    lines: dict[int, dict[int, PrimaryLine]] = defaultdict(dict)
    for row in conn.execute(select(
            service_payments.c.id, service_payments.c.claim_payment_id, service_payments.c.procedure_qualifier,
            service_payments.c.procedure_code, service_payments.c.modifiers, service_payments.c.paid,
            service_payments.c.units, claim_lines.c.line_number)
            .join(claim_lines, claim_lines.c.id == service_payments.c.claim_line_id)
            .where(service_payments.c.claim_payment_id.in_(list(by_payment)))):
        procedure = Procedure(row.procedure_qualifier or "HC", row.procedure_code,
                              tuple(row.modifiers.split(":")) if row.modifiers else ()) if row.procedure_code else None
        line_adjustments = tuple(adj for owner, adj in adjustments[row.claim_payment_id] if owner == row.id)
        lines[row.claim_payment_id][row.line_number] = PrimaryLine(row.paid, procedure, row.units, line_adjustments)
    return {claim_id: PrimaryPayment(
        row.status if not row.crossover_payer else (row.status if row.status in CROSSOVER_STATUSES else "19"),
        row.paid, row.patient_responsibility, row.payer_claim_control_number or "", row.payment_date,
        tuple(adj for owner, adj in adjustments[row.id] if owner is None), lines[row.id])
        for claim_id, row in latest.items()}


def _content(claim: Claim) -> bytes:
    """The claim as a one-claim 837 (the form it is kept in and read back from)."""
    batch = ClaimBatch("0001", claim.claim_type, "005010X222A1" if claim.claim_type == "P" else "005010X223A2",
                       "00", "SECONDARY", None, "", "CH", Party("41", "RCMFLOW", entity_type="2", id_qualifier="46",
                                                                 id="RCMFLOW"),
                       Party("40", claim.payer.name or "PAYER", entity_type="2", id_qualifier="46",
                             id=claim.payer.id or "PAYER"), (claim,))
    return write_837_interchange([batch], InterchangeParty("RCMFLOW"), InterchangeParty("PAYER"),
                                 CountingControlNumbers(), created=datetime(2000, 1, 1)).encode("ascii")


def bill_secondary(conn: Connection, *, scrubber: Scrubber, today: date, actor: str, now: datetime,
                   organisation_id: str = DEFAULT_ORGANISATION) -> SecondaryResult:
    """Build, scrub and route the secondary claim of every paid primary claim with another coverage pending."""
    result = SecondaryResult()
    pending = list(conn.execute(select(claims.c.id).where(
        claims.c.organisation_id == organisation_id, claims.c.secondary_billing == "pending",
        claims.c.state.in_(PAID_STATES)).order_by(claims.c.id)).scalars())
    if not pending:
        return result
    payments = _primary_payments(conn, pending)
    sources = dict(load_source_claims(conn, [claim_id for claim_id in pending if claim_id in payments]))
    built: list[tuple[int, SourceClaim]] = []
    for claim_id in pending:
        payment, source = payments.get(claim_id), sources.get(claim_id)
        if payment is None or source is None or not source.other_coverage:
            continue
        if payment.status in CROSSOVER_STATUSES:
            result.crossover.append(claim_id)
            continue
        claim = secondary_claim(source.claim, source.other_coverage[0], payment)
        built.append((claim_id, SourceClaim(f"{source.source_id}/{claim.subscriber.payer_responsibility or 'S'}",
                                            claim, None, f"secondary of claim {claim_id}", None,
                                            source.other_coverage[1:])))
    _mark(conn, result.crossover, "crossover")
    if not built:
        return result
    rows = []
    for primary_id, source in built:
        row = claim_row(source.claim, claim_digest(source.claim), document_id=None, state=CAPTURED_STATE, now=now,
                        organisation_id=organisation_id)
        row.update(source_id=source.source_id[:128], primary_claim_id=primary_id,
                   secondary_billing="pending" if source.other_coverage else None)
        rows.append(row)
    ids = bulk_insert(conn, claims, rows, with_ids=True)
    bulk_insert(conn, claim_lines, [line for claim_id, (_, source) in zip(ids, built, strict=True)
                                    for line in line_rows(claim_id, source.claim, organisation_id)])
    bulk_insert(conn, claim_contents, [{"claim_id": claim_id, "format": "x12-837", "content": _content(source.claim)}
                                       for claim_id, (_, source) in zip(ids, built, strict=True)])
    append_events(conn, [event for claim_id, row in zip(ids, rows, strict=True)
                         for event in creation_events(CLAIM_OBJECT, claim_id, CAPTURE_PATH, actor=actor, at=now,
                                                      organisation_id=organisation_id, facility_id=row["facility_id"],
                                                      payer_id=row["payer_id"])])
    _mark(conn, [primary_id for primary_id, _ in built], "billed")
    pairs = [(claim_id, source) for claim_id, (_, source) in zip(ids, built, strict=True)]
    sources_now = [source for _, source in pairs]
    scrubbed = scrubber.scrub(sources_now, today=today,
                              eligibility=eligibility_on_file(conn, sources_now, organisation_id))
    record_and_route(conn, pairs, scrubbed, result.routing, scrubber=scrubber, actor=actor, now=now,
                      organisation_id=organisation_id, from_state=CAPTURED_STATE)
    result.created = list(ids)
    return result


def _mark(conn: Connection, claim_ids: Sequence[int], status: str) -> None:
    if claim_ids:
        conn.execute(update(claims).where(claims.c.id.in_(list(claim_ids))).values(secondary_billing=status))

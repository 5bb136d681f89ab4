"""Write canonical ``ClaimBatch``es as 837 professional (005010X222A1) or institutional (005010X223A2) sets.

The hierarchy is rebuilt from the flat claims: consecutive claims with the same billing provider
(and pay-to, currency) share one billing provider level (HL 20); within it, consecutive claims with
the same subscriber and payer share one subscriber level (HL 22); claims whose patient is not the
subscriber go under a patient level (HL 23) per consecutive patient. HL ids count from 1 and each
names its parent, so reading the output gives back the same claims in the same order.

Every service line gets a line item control number (REF*6R): payers echo it in the 835, and it is
what lets a payment be posted to the right line. Lines without one get
"<patient control number>-<line number>" (``domain.claim.assign_line_control_numbers``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import groupby

from rcmflow.domain.claim import (
    Claim,
    ClaimBatch,
    ExtraSegment,
    HealthCareCode,
    OtherPayer,
    Patient,
    ServiceLine,
    Subscriber,
    assign_line_control_numbers,
)
from rcmflow.domain.parties import Party
from rcmflow.domain.remittance import Adjustment, Procedure, QualifiedDate
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters
from rcmflow.formats.x12.ts837 import CLAIM_EXTRA_RANK, LINE_EXTRA_RANK
from rcmflow.formats.x12.writing import (
    ControlNumbers,
    FunctionalGroup,
    TransactionBuilder,
    Value,
    WriteError,
    build_interchange,
)
from rcmflow.formats.x12.writing import Party as InterchangeParty

# The implementation guide versions written (ST03 and GS08): the ones payers accept.
WRITE_IMPLEMENTATIONS = {"P": "005010X222A1", "I": "005010X223A2"}
# PRV01 provider code by the entity it qualifies: billing, performing (rendering), attending.
PROVIDER_CODES = {"85": "BI", "82": "PE", "71": "AT"}

_PROFESSIONAL_DIAGNOSES = frozenset({"ABK", "ABF", "BK", "BF"})
# Institutional HI segments that carry exactly one code; other kinds carry up to 12 of one family.
_SINGLE_CODE = frozenset({"ABK", "BK", "ABJ", "BJ", "DR", "BBR", "BR", "CAH"})
_FAMILIES = {"BF": "ABF", "PR": "APR", "BN": "ABN", "BQ": "BBQ", "BO": "BP"}
_MAX_PER_HI = {"APR": 3}


def write_837(batch: ClaimBatch, control_number: str | None = None,
              delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[str]:
    """The segments ST..SE of one 837 transaction set for ``batch``."""
    kind = batch.claim_type
    if kind not in WRITE_IMPLEMENTATIONS:
        raise WriteError(f"claim type {kind!r} is neither P nor I")
    b = TransactionBuilder("837", control_number or batch.control_number, WRITE_IMPLEMENTATIONS[kind], delimiters)
    b.add("BHT", "0019", batch.purpose, batch.reference, batch.created, batch.created_time, batch.transaction_type)
    _party(b, batch.submitter)
    _party(b, batch.receiver)
    hl = 0
    for (billing, pay_to, plan, currency), by_billing in groupby(batch.claims, key=_billing_key):
        hl += 1
        billing_hl = hl
        b.add("HL", hl, None, "20", "1")
        if billing.taxonomy:
            b.add("PRV", "BI", "PXC", billing.taxonomy)
        if currency:
            b.add("CUR", "85", currency)
        _party(b, billing, provider=False)
        for extra in (pay_to, plan):
            if extra is not None:
                _party(b, extra)
        for (subscriber, payer, has_patient), by_subscriber in groupby(by_billing, key=_subscriber_key):
            hl += 1
            subscriber_hl = hl
            b.add("HL", hl, billing_hl, "22", "1" if has_patient else "0")
            b.add("SBR", subscriber.payer_responsibility, subscriber.relationship, subscriber.group_number,
                  subscriber.group_name, subscriber.insurance_type, None, None, None, subscriber.filing_indicator)
            _patient_facts(b, "", subscriber)
            _party(b, subscriber.party, demographics=True)
            _party(b, payer)
            if not has_patient:
                for claim in by_subscriber:
                    _claim(b, claim, kind)
                continue
            for patient, by_patient in groupby(by_subscriber, key=_patient_key):
                hl += 1
                b.add("HL", hl, subscriber_hl, "23", "0")
                _patient_facts(b, patient.relationship, patient, always=True)
                _party(b, patient.party, demographics=True)
                for claim in by_patient:
                    _claim(b, claim, kind)
    return b.finish()


def write_837_interchange(
    batches: Iterable[ClaimBatch],
    sender: InterchangeParty,
    receiver: InterchangeParty,
    control_numbers: ControlNumbers,
    *,
    usage: str = "P",
    ack_requested: str = "0",
    created: datetime | None = None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
) -> str:
    """A complete interchange: one HC functional group per claim type, each batch a transaction set."""
    by_type: dict[str, list[list[str]]] = {}
    for batch in batches:
        control = f"{control_numbers.next_transaction():04d}"
        by_type.setdefault(batch.claim_type, []).append(write_837(batch, control, delimiters))
    groups = [FunctionalGroup("HC", WRITE_IMPLEMENTATIONS[kind], sets) for kind, sets in by_type.items()]
    return build_interchange(groups, sender, receiver, control_numbers, usage=usage, ack_requested=ack_requested,
                             created=created, delimiters=delimiters)


# ---- keys that rebuild the hierarchy ------------------------------------------------------------


def _billing_key(claim: Claim) -> tuple[Party, Party | None, Party | None, str]:
    return claim.billing_provider, claim.pay_to, claim.pay_to_plan, claim.currency


def _subscriber_key(claim: Claim) -> tuple[Subscriber, Party, bool]:
    return claim.subscriber, claim.payer, claim.patient is not None


def _patient_key(claim: Claim) -> Patient:
    assert claim.patient is not None  # only claims grouped as having a patient get here
    return claim.patient


# ---- parties -------------------------------------------------------------------------------------


def _party(b: TransactionBuilder, party: Party, *, provider: bool = True, demographics: bool = False,
           dates: Iterable[QualifiedDate] = ()) -> None:
    """NM1 with its PRV, N3, N4, DMG, DTP, REF and PER, in implementation guide order."""
    b.add("NM1", party.role, party.entity_type, party.name, party.first_name, party.middle_name, None,
          party.suffix, party.id_qualifier, party.id)
    if provider and party.taxonomy:
        b.add("PRV", PROVIDER_CODES.get(party.role, "PE"), "PXC", party.taxonomy)
    address = party.address
    if address is not None:
        if address.line1 or address.line2:
            b.add("N3", address.line1, address.line2)
        if address.city or address.state or address.postal_code or address.country:
            b.add("N4", address.city, address.state, address.postal_code, address.country)
    if demographics and (party.birth_date or party.gender):
        b.add("DMG", "D8" if party.birth_date else None, party.birth_date, party.gender)
    for item in dates:
        _dtp(b, item)
    for ref in party.references:
        b.add("REF", ref.qualifier, ref.value)
    for contact in party.contacts:
        b.add("PER", contact.function, contact.name, *[value for pair in contact.numbers for value in pair])


def _patient_facts(b: TransactionBuilder, relationship: str, facts: Subscriber | Patient,
                   always: bool = False) -> None:
    """PAT: relationship (2000C) and PAT05-PAT09 death date, weight, pregnancy."""
    death_date, weight = facts.death_date, facts.weight
    unit, pregnancy = facts.weight_unit, facts.pregnancy_indicator
    if always or death_date or weight is not None or unit or pregnancy:
        b.add("PAT", relationship, None, None, None, "D8" if death_date else None, death_date, unit, weight,
              pregnancy)


def _dtp(b: TransactionBuilder, item: QualifiedDate) -> None:
    if item.time:
        b.add("DTP", item.qualifier, "DT", item.value.strftime("%Y%m%d") + item.time)
    elif item.end is not None:
        b.add("DTP", item.qualifier, "RD8", f"{item.value:%Y%m%d}-{item.end:%Y%m%d}")
    else:
        b.add("DTP", item.qualifier, "D8", item.value)


def _procedure(procedure: Procedure | None) -> list[str]:
    if procedure is None:
        return []
    modifiers = list(procedure.modifiers)
    if procedure.description:
        modifiers += [""] * (4 - len(modifiers))
    return [procedure.qualifier, procedure.code, *modifiers, procedure.description]


def _extras(b: TransactionBuilder, extras: tuple[ExtraSegment, ...], rank: dict[str, int], low: int,
            high: int) -> None:
    """The kept-as-sent segments whose rank falls in [low, high] (unranked ones go with the last slot)."""
    for seg in extras:
        if low <= rank.get(seg.id, 99) <= high:
            b.add(seg.id, *seg.elements)


def _adjustments(b: TransactionBuilder, adjustments: tuple[Adjustment, ...]) -> None:
    """CAS segments: consecutive adjustments of one group share a segment, six at most."""
    for group, same in groupby(adjustments, key=lambda adj: adj.group):
        items = list(same)
        for start in range(0, len(items), 6):
            values: list[Value] = []
            for adj in items[start:start + 6]:
                values += [adj.reason, adj.amount, adj.quantity]
            b.add("CAS", group, *values)


# ---- claims --------------------------------------------------------------------------------------


def _claim(b: TransactionBuilder, claim: Claim, kind: str) -> None:
    claim = assign_line_control_numbers(claim)
    causes = list(claim.related_causes)
    if claim.accident_state or claim.accident_country:
        causes += [""] * (3 - len(causes)) + [claim.accident_state, claim.accident_country]
    b.add("CLM", claim.patient_control_number, claim.total_charge, None, None,
          [claim.facility_code, claim.facility_qualifier, claim.frequency], claim.provider_signature,
          claim.assignment, claim.benefits_assignment, claim.release_of_information,
          claim.patient_signature_source, causes, claim.special_program, *([None] * 7), claim.delay_reason)
    if claim.discharge_hour:
        b.add("DTP", "096", "TM", claim.discharge_hour)
    for item in claim.dates:
        _dtp(b, item)
    if kind == "I" and (claim.admission_type or claim.admission_source or claim.patient_status):
        b.add("CL1", claim.admission_type, claim.admission_source, claim.patient_status)
    extras = claim.extra_segments
    _extras(b, extras, CLAIM_EXTRA_RANK, 0, 1)  # PWK CN1
    for amount in claim.amounts:
        b.add("AMT", amount.qualifier, amount.value)
    for ref in claim.references:
        b.add("REF", ref.qualifier, ref.value)
    _extras(b, extras, CLAIM_EXTRA_RANK, 2, 2)  # K3
    for note in claim.notes:
        b.add("NTE", note.code, note.text)
    _extras(b, extras, CLAIM_EXTRA_RANK, 3, 5)  # CR1 CR2 CRC
    for codes in _hi_segments(claim.health_care_codes, kind):
        b.add("HI", *[_hi_composite(code) for code in codes])
    _extras(b, extras, CLAIM_EXTRA_RANK, 6, 99)  # HCP
    for party in claim.providers:
        _party(b, party)
    for other in claim.other_payers:
        _other_payer(b, other)
    for line in claim.service_lines:
        _line(b, line, kind)


def _hi_segments(codes: tuple[HealthCareCode, ...], kind: str) -> Iterator[list[HealthCareCode]]:
    """HI segments as the guides group them: professional diagnoses share one HI (12 at most);
    institutional principal/admitting diagnosis, DRG and principal procedure stand alone, other
    kinds fill HIs of one family."""
    current: list[HealthCareCode] = []
    current_key = ""
    for code in codes:
        qualifier = code.qualifier
        if kind == "P":
            key = "dx" if qualifier in _PROFESSIONAL_DIAGNOSES else _FAMILIES.get(qualifier, qualifier)
            limit = 12
        else:
            key = _FAMILIES.get(qualifier, qualifier)
            limit = 1 if qualifier in _SINGLE_CODE else _MAX_PER_HI.get(key, 12)
        if current and (key != current_key or len(current) >= limit):
            yield current
            current = []
        current.append(code)
        current_key = key
    if current:
        yield current


def _hi_composite(code: HealthCareCode) -> list[Value]:
    when = ""
    fmt = code.date_format
    if code.date is not None:
        fmt = fmt or ("RD8" if code.end_date is not None else "D8")
        when = f"{code.date:%Y%m%d}" + (f"-{code.end_date:%Y%m%d}" if code.end_date is not None else "")
    return [code.qualifier, code.code, fmt, when, code.amount, "", "", "", code.present_on_admission]


def _other_payer(b: TransactionBuilder, other: OtherPayer) -> None:
    """Loop 2320 with its 2330 loops."""
    sub = other.subscriber
    b.add("SBR", sub.payer_responsibility, sub.relationship, sub.group_number, sub.group_name, sub.insurance_type,
          None, None, None, sub.filing_indicator)
    _adjustments(b, other.adjustments)
    for amount in other.amounts:
        b.add("AMT", amount.qualifier, amount.value)
    if other.benefits_assignment or other.patient_signature_source or other.release_of_information:
        b.add("OI", None, None, other.benefits_assignment, other.patient_signature_source, None,
              other.release_of_information)
    if other.inpatient:
        b.add("MIA", *other.inpatient)
    if other.outpatient:
        b.add("MOA", *other.outpatient)
    _party(b, sub.party, provider=False)
    adjudicated = [QualifiedDate("573", other.adjudication_date)] if other.adjudication_date else []
    _party(b, other.payer, provider=False, dates=adjudicated)
    for party in other.providers:
        _party(b, party, provider=False)


def _line(b: TransactionBuilder, line: ServiceLine, kind: str) -> None:
    """Loop 2400 with its 2410, 2420, 2430 and 2440 loops."""
    b.add("LX", line.line_number)
    if kind == "P":
        b.add("SV1", _procedure(line.procedure), line.charge, line.unit_basis, line.units, line.place_of_service,
              None, list(line.diagnosis_pointers), None, line.emergency, None, line.epsdt, line.family_planning,
              None, None, line.copay_status)
    else:
        b.add("SV2", line.revenue_code, _procedure(line.procedure), line.charge, line.unit_basis, line.units,
              line.unit_rate, line.non_covered_charge)
    extras = line.extra_segments
    _extras(b, extras, LINE_EXTRA_RANK, 0, 4)  # SV5 PWK CR1 CR3 CRC
    for item in line.dates:
        _dtp(b, item)
    for quantity in line.quantities:
        b.add("QTY", quantity.qualifier, quantity.value)
    _extras(b, extras, LINE_EXTRA_RANK, 5, 6)  # MEA CN1
    if line.line_item_control_number:
        b.add("REF", "6R", line.line_item_control_number)
    for ref in line.references:
        b.add("REF", ref.qualifier, ref.value)
    for amount in line.amounts:
        b.add("AMT", amount.qualifier, amount.value)
    _extras(b, extras, LINE_EXTRA_RANK, 7, 7)  # K3
    for note in line.notes:
        b.add("NTE", note.code, note.text)
    _extras(b, extras, LINE_EXTRA_RANK, 8, 9)  # PS1 HCP
    drug = line.drug
    if drug is not None:
        b.add("LIN", None, drug.qualifier, drug.code)
        if drug.quantity is not None or drug.unit:
            b.add("CTP", None, None, None, drug.quantity, drug.unit)
        for ref in drug.references:
            b.add("REF", ref.qualifier, ref.value)
    for party in line.providers:
        _party(b, party)
    for adjudication in line.adjudications:
        b.add("SVD", adjudication.payer_id, adjudication.paid, _procedure(adjudication.procedure),
              adjudication.revenue_code, adjudication.units, adjudication.bundled_line_number)
        _adjustments(b, adjudication.adjustments)
        for item in adjudication.dates:
            _dtp(b, item)
        for amount in adjudication.amounts:
            b.add("AMT", amount.qualifier, amount.value)
    _extras(b, extras, LINE_EXTRA_RANK, 10, 99)  # LQ FRM

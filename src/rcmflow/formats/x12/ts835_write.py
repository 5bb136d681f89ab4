"""Write a canonical ``Remittance`` as an 835 health care claim payment/advice (005010X221A1).

The mirror of ``ts835.read_835``: everything the reader puts in a ``Remittance`` is written back
where the implementation guide places it, so that parse -> write -> parse gives the same
remittance (round trips in ``tests/formats/x12/test_ts835_write.py`` prove it on every sample and
on random balanced remittances). Segment order follows the guide:

    header     BPR TRN REF*EV REF*F2 DTM*405
    1000A      N1*PR N3 N4 REF PER
    1000B      N1*PE N3 N4 REF PER
    2000       LX TS3 TS2                   claims grouped by ClaimPayment.group_number
    2100       CLP CAS NM1 MIA MOA REF DTM PER AMT QTY
    2110       SVC DTM CAS REF REF*6R REF AMT QTY LQ
    summary    PLB

As payers do, adjustments of one group code share CAS segments (up to six triplets each) and provider
adjustments of one provider and fiscal period share PLB segments (up to six composites each).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from rcmflow.domain.parties import Contact, Party, Reference
from rcmflow.domain.remittance import (
    Adjustment,
    ClaimGroup,
    ClaimPayment,
    Procedure,
    ProviderAdjustment,
    QualifiedAmount,
    QualifiedDate,
    Remittance,
    ServicePayment,
    claim_imbalance,
    remittance_imbalance,
    service_imbalance,
)
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters
from rcmflow.formats.x12.writing import (
    ControlNumbers,
    FunctionalGroup,
    TransactionBuilder,
    Value,
    WriteError,
    build_interchange,
)
from rcmflow.formats.x12.writing import Party as EnvelopeParty

IMPLEMENTATION = "005010X221A1"
FUNCTIONAL_ID = "HP"  # health care claim payment/advice

CAS_TRIPLETS = 6
PLB_COMPOSITES = 6
MOA_REMARKS = 5  # MOA03-MOA07
MIA_REMARK_POSITIONS = (5, 20, 21, 22, 23)
MOA_REMARK_POSITIONS = (3, 4, 5, 6, 7)
SENDER_BANK_ELEMENTS = 6  # BPR06-BPR11
RECEIVER_BANK_ELEMENTS = 4  # BPR12-BPR15
# 2110 REF qualifiers of "service identification", which the guide places before REF*6R; the other
# line REFs (rendering provider, health care policy) come after it.
SERVICE_IDENTIFICATION = frozenset({"1S", "APC", "BB", "E9", "G1", "G3", "LU", "RB"})


class _Writer:
    """A ``TransactionBuilder`` that refuses amounts X12 cannot carry (NaN, Infinity)."""

    __slots__ = ("builder",)

    def __init__(self, control_number: str, delimiters: Delimiters) -> None:
        self.builder = TransactionBuilder("835", control_number, IMPLEMENTATION, delimiters)

    def add(self, seg_id: str, *values: Value) -> None:
        for value in values:
            if isinstance(value, Decimal) and not value.is_finite():
                raise WriteError(f"{seg_id}: {value} is not a finite amount")
        self.builder.add(seg_id, *values)


def write_835(remittance: Remittance, control_number: str | None = None, *,
              delimiters: Delimiters = DEFAULT_DELIMITERS, require_balanced: bool = False) -> list[str]:
    """The ST..SE segments of one remittance (ST02 = ``control_number`` or the remittance's own).

    With ``require_balanced`` a line, claim or payment that does not balance raises ``WriteError``
    instead of being written as it is.
    """
    control = remittance.control_number if control_number is None else control_number
    if not 4 <= len(control) <= 9:
        raise WriteError(f"ST02 control number {control!r} must have 4 to 9 characters")
    if require_balanced:
        check_balanced(remittance)
    out = _Writer(control, delimiters)
    _header(out, remittance)
    if remittance.payer is not None:
        _party(out, remittance.payer, "PR")
    if remittance.payee is not None:
        _party(out, remittance.payee, "PE")
    for group, claims in _grouped(remittance):
        if group is not None:
            out.add("LX", group.number)
            if group.provider_summary:
                out.add("TS3", *group.provider_summary)
            if group.supplemental_summary:
                out.add("TS2", *group.supplemental_summary)
        for claim in claims:
            _claim(out, claim)
    _provider_adjustments(out, remittance.provider_adjustments)
    return out.builder.finish()


def write_835_interchange(
    remittances: Iterable[Remittance],
    sender: EnvelopeParty,
    receiver: EnvelopeParty,
    control_numbers: ControlNumbers,
    *,
    usage: str = "P",
    created: datetime | None = None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = True,
    require_balanced: bool = False,
) -> str:
    """A whole 835 interchange: one HP functional group holding one transaction set per remittance,
    each numbered by ``control_numbers`` (ST02 as four or more digits)."""
    transactions = [
        write_835(remittance, f"{control_numbers.next_transaction():04d}", delimiters=delimiters,
                  require_balanced=require_balanced)
        for remittance in remittances
    ]
    group = FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, transactions)
    return build_interchange([group], sender, receiver, control_numbers, usage=usage, created=created,
                             delimiters=delimiters, line_breaks=line_breaks)


def check_balanced(remittance: Remittance) -> None:
    """Raise ``WriteError`` naming the first service line, claim or payment that does not balance."""
    for claim in remittance.claims:
        for line in claim.service_payments:
            difference = service_imbalance(line)
            if difference:
                raise WriteError(f"claim {claim.patient_control_number!r}: service line {line.procedure.code!r} "
                                 f"does not balance (charge - adjustments - paid = {difference})")
        difference = claim_imbalance(claim)
        if difference:
            raise WriteError(f"claim {claim.patient_control_number!r} does not balance "
                             f"(charge - adjustments - paid = {difference})")
    difference = remittance_imbalance(remittance)
    if difference:
        raise WriteError(f"payment {remittance.payment_amount} does not equal claim payments minus provider "
                         f"adjustments (difference {difference})")


def _header(out: _Writer, remittance: Remittance) -> None:
    sender = _padded(remittance.sender_bank, SENDER_BANK_ELEMENTS, "BPR06-BPR11 (sender bank)")
    receiver = _padded(remittance.receiver_bank, RECEIVER_BANK_ELEMENTS, "BPR12-BPR15 (receiver bank)")
    out.add("BPR", remittance.transaction_handling, remittance.payment_amount, remittance.credit_debit,
            remittance.payment_method, remittance.payment_format, *sender, *receiver, remittance.payment_date)
    out.add("TRN", remittance.trace_type, remittance.trace_number, remittance.originator_id,
            remittance.originator_supplemental)
    if remittance.receiver_id:
        out.add("REF", "EV", remittance.receiver_id)
    if remittance.version_id:
        out.add("REF", "F2", remittance.version_id)
    if remittance.production_date is not None:
        out.add("DTM", "405", remittance.production_date)


def _padded(values: tuple[str, ...], size: int, what: str) -> list[str]:
    if len(values) > size:
        raise WriteError(f"{what} holds {len(values)} elements; at most {size}")
    return [*values, *[""] * (size - len(values))]


def _party(out: _Writer, party: Party, role: str) -> None:
    """An N1 loop of the header (payer PR or payee PE)."""
    if party.role != role:
        raise WriteError(f"the {'payer' if role == 'PR' else 'payee'} must have role {role!r}, not {party.role!r}")
    out.add("N1", role, party.name, party.id_qualifier, party.id)
    address = party.address
    if address is not None:
        if address.line1 or address.line2:
            out.add("N3", address.line1, address.line2)
        if address.city or address.state or address.postal_code or address.country:
            out.add("N4", address.city, address.state, address.postal_code, address.country)
    _references(out, party.references)
    _contacts(out, party.contacts)


def _references(out: _Writer, references: Iterable[Reference]) -> None:
    for reference in references:
        out.add("REF", reference.qualifier, reference.value)


def _contacts(out: _Writer, contacts: Iterable[Contact]) -> None:
    for contact in contacts:
        if len(contact.numbers) > 3:
            raise WriteError(f"PER carries at most three communication numbers, not {len(contact.numbers)}")
        out.add("PER", contact.function, contact.name, *[part for pair in contact.numbers for part in pair])


def _dates(out: _Writer, dates: Iterable[QualifiedDate]) -> None:
    for item in dates:
        if item.end is not None or item.time:
            raise WriteError(f"DTM*{item.qualifier}: an 835 date carries neither an end date nor a time")
        out.add("DTM", item.qualifier, item.value)


def _quantities(out: _Writer, seg_id: str, items: Iterable[QualifiedAmount]) -> None:
    for item in items:
        out.add(seg_id, item.qualifier, item.value)


def _grouped(remittance: Remittance) -> list[tuple[ClaimGroup | None, list[ClaimPayment]]]:
    """Claims by their LX group, in ``groups`` order; claims read before any LX (group "") come first."""
    buckets: dict[str, list[ClaimPayment]] = {}
    for group in remittance.groups:
        if not group.number:
            raise WriteError("an LX header group needs its number (LX01)")
        buckets.setdefault(group.number, [])
    loose: list[ClaimPayment] = []
    for claim in remittance.claims:
        bucket = buckets.get(claim.group_number)
        if bucket is not None:
            bucket.append(claim)
        elif not claim.group_number:
            loose.append(claim)
        else:
            raise WriteError(f"claim {claim.patient_control_number!r} names LX group {claim.group_number!r}, "
                             "which the remittance's groups do not hold")
    result: list[tuple[ClaimGroup | None, list[ClaimPayment]]] = [(None, loose)] if loose else []
    written: set[str] = set()
    for group in remittance.groups:
        # A number sent twice keeps its claims under its first LX.
        result.append((group, [] if group.number in written else buckets[group.number]))
        written.add(group.number)
    return result


def _claim(out: _Writer, claim: ClaimPayment) -> None:
    """One 2100 loop with its 2110 service lines."""
    out.add("CLP", claim.patient_control_number, claim.status, claim.charge, claim.paid,
            claim.patient_responsibility, claim.filing_indicator, claim.payer_claim_control_number,
            claim.facility_type, claim.frequency, None, claim.drg_code, claim.drg_weight, claim.discharge_fraction)
    _adjustments(out, claim.adjustments)
    for party in claim.entities:
        out.add("NM1", party.role, party.entity_type, party.name, party.first_name, party.middle_name, None,
                party.suffix, party.id_qualifier, party.id)
    inpatient, outpatient = _adjudication(claim)
    if inpatient:
        out.add("MIA", *inpatient)
    if outpatient:
        out.add("MOA", *outpatient)
    _references(out, claim.references)
    _dates(out, claim.dates)
    _contacts(out, claim.contacts)
    _quantities(out, "AMT", claim.amounts)
    _quantities(out, "QTY", claim.quantities)
    for line in claim.service_payments:
        _service(out, line)


def _adjudication(claim: ClaimPayment) -> tuple[Sequence[str], Sequence[str]]:
    """MIA and MOA elements; the claim's remarks must be the ones they carry (that is where the 835 puts
    claim-level remark codes). Remarks without MIA/MOA are written in a MOA of their own."""
    inpatient, outpatient = claim.inpatient, claim.outpatient
    carried = [inpatient[p - 1] for p in MIA_REMARK_POSITIONS if p <= len(inpatient) and inpatient[p - 1]]
    carried += [outpatient[p - 1] for p in MOA_REMARK_POSITIONS if p <= len(outpatient) and outpatient[p - 1]]
    wanted = [remark.code for remark in claim.remarks]
    if wanted == carried and all(remark.qualifier == "HE" for remark in claim.remarks):
        return inpatient, outpatient
    if not inpatient and not outpatient and len(wanted) <= MOA_REMARKS and all(
            remark.qualifier == "HE" for remark in claim.remarks):
        return (), ("", "", *wanted)
    raise WriteError(f"claim {claim.patient_control_number!r}: remarks {wanted} are not the remark codes its "
                     f"MIA/MOA carry ({carried}); claim-level remarks live in MIA/MOA")


def _adjustments(out: _Writer, adjustments: Iterable[Adjustment]) -> None:
    """CAS segments: one per group code (in order of first appearance), six triplets each at most."""
    by_group: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        if not adjustment.reason:
            raise WriteError(f"CAS*{adjustment.group}: an adjustment needs its reason code")
        by_group.setdefault(adjustment.group, []).append(adjustment)
    for group, items in by_group.items():
        for start in range(0, len(items), CAS_TRIPLETS):
            values: list[Value] = []
            for adjustment in items[start : start + CAS_TRIPLETS]:
                values += [adjustment.reason, adjustment.amount, adjustment.quantity]
            out.add("CAS", group, *values)


def _composite(procedure: Procedure) -> list[str]:
    """C003: qualifier, code, up to four modifiers, description (C003-07)."""
    if len(procedure.modifiers) > 4:
        raise WriteError(f"procedure {procedure.code!r} has {len(procedure.modifiers)} modifiers; at most 4")
    parts = [procedure.qualifier, procedure.code, *procedure.modifiers]
    if procedure.description:
        parts += [""] * (6 - len(parts)) + [procedure.description]
    return parts


def _service(out: _Writer, line: ServicePayment) -> None:
    """One 2110 loop."""
    if any(ref.qualifier == "6R" for ref in line.references):
        raise WriteError("REF*6R is the line item control number: put it in line_item_control_number")
    original = _composite(line.original_procedure) if line.original_procedure is not None else None
    out.add("SVC", _composite(line.procedure), line.charge, line.paid, line.revenue_code, line.units_paid,
            original, line.original_units)
    _dates(out, line.dates)
    _adjustments(out, line.adjustments)
    _references(out, [ref for ref in line.references if ref.qualifier in SERVICE_IDENTIFICATION])
    if line.line_item_control_number:
        out.add("REF", "6R", line.line_item_control_number)
    _references(out, [ref for ref in line.references if ref.qualifier not in SERVICE_IDENTIFICATION])
    _quantities(out, "AMT", line.amounts)
    _quantities(out, "QTY", line.quantities)
    for remark in line.remarks:
        out.add("LQ", remark.qualifier, remark.code)


def _provider_adjustments(out: _Writer, adjustments: Iterable[ProviderAdjustment]) -> None:
    """PLB segments: one per provider and fiscal period (in order of first appearance), six composites each."""
    by_key: dict[tuple[str, date], list[ProviderAdjustment]] = {}
    for adjustment in adjustments:
        if not adjustment.reason:
            raise WriteError(f"PLB for {adjustment.provider_id!r}: an adjustment needs its reason code")
        by_key.setdefault((adjustment.provider_id, adjustment.fiscal_period_date), []).append(adjustment)
    for (provider_id, period), items in by_key.items():
        for start in range(0, len(items), PLB_COMPOSITES):
            values: list[Value] = []
            for adjustment in items[start : start + PLB_COMPOSITES]:
                values += [[adjustment.reason, adjustment.reference], adjustment.amount]
            out.add("PLB", provider_id, period, *values)

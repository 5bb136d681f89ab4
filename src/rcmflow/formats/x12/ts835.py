"""Read an 835 health care claim payment/advice (005010X221A1) into a canonical ``Remittance``.

Loop structure (explicit, from the implementation guide):

    header     BPR TRN CUR REF*EV REF*F2 DTM*405
    1000A      N1*PR N3 N4 REF PER             payer
    1000B      N1*PE N3 N4 REF RDM             payee
    2000       LX TS3 TS2                      header number (claim group)
    2100       CLP CAS NM1 MIA MOA REF DTM PER AMT QTY     claim payment
    2110       SVC DTM CAS REF AMT QTY LQ      service payment
    summary    PLB

The element tables for every segment are declared below with ``define``. The reading loop itself is
written out by hand, ordered by how often segments occur: an 835 of 100,000 claims has a million
segments, and a generic table interpreter would spend most of the time interpreting. Conversions
that fail raise inside the loop and are located afterwards against the tables (``bad_segment``).

Balancing is checked as the claims are read (running sums, no second pass): SVC02 - CAS = SVC03 per
line, CLP03 - CAS = CLP04 per claim, BPR02 = sum CLP04 - sum PLB per transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from rcmflow.domain.codes import ADJUSTMENT_GROUPS, CLAIM_STATUS
from rcmflow.domain.money import ZERO
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import (
    Adjustment,
    ClaimGroup,
    ClaimPayment,
    Procedure,
    ProviderAdjustment,
    QualifiedAmount,
    QualifiedDate,
    Remark,
    Remittance,
    ServicePayment,
)
from rcmflow.formats.x12.envelope import RawTransaction
from rcmflow.formats.x12.issues import ERROR, WARNING, ElementError
from rcmflow.formats.x12.reading import ReadContext, element, finite, to_amount, to_date
from rcmflow.formats.x12.registry import register
from rcmflow.formats.x12.segments import AN, DT, ID, N0, C, R, define, is_valid_date, is_valid_decimal

# BPR*I*1100*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*021000021*DA*987654321*20261101
define("BPR", "Financial information",
       ("transaction handling code", ID, True, 1, 2, "305", "CDHIPUX"),
       ("monetary amount", R, True, 1, 18, "782"),
       ("credit/debit flag code", ID, True, 1, 1, "478", "CD"),
       ("payment method code", ID, True, 3, 3, "591", ("ACH", "BOP", "CHK", "FWT", "NON")),
       ("payment format code", ID, False, 1, 10, "812"),
       ("dfi id number qualifier", ID, False, 2, 2, "506"),
       ("dfi identification number", AN, False, 3, 12, "507"),
       ("account number qualifier", ID, False, 1, 3, "569"),
       ("account number", AN, False, 1, 35, "508"),
       ("originating company identifier", AN, False, 10, 10, "509"),
       ("originating company supplemental code", AN, False, 9, 9, "510"),
       ("dfi id number qualifier", ID, False, 2, 2, "506"),
       ("dfi identification number", AN, False, 3, 12, "507"),
       ("account number qualifier", ID, False, 1, 3, "569"),
       ("account number", AN, False, 1, 35, "508"),
       ("date", DT, True, 8, 8, "373"))
# CUR*PR*USD
define("CUR", "Foreign currency information",
       ("entity identifier code", ID, True, 2, 3, "98"),
       ("currency code", ID, True, 3, 3, "100"))
# RDM*BM*JANE DOE*555-1234
define("RDM", "Remittance delivery method",
       ("report transmission code", ID, True, 1, 2, "756"),
       ("name", AN, False, 1, 60, "93"),
       ("communication number", AN, False, 1, 256, "364"))
# LX*1
define("LX", "Header number", ("assigned number", N0, True, 1, 6, "554"))
# TS3*1234567893*11*20261231*3*1200
define("TS3", "Provider summary information",
       ("reference identification", AN, True, 1, 50, "127"),
       ("facility code value", AN, True, 1, 2, "1331"),
       ("date", DT, True, 8, 8, "373"),
       ("quantity", R, True, 1, 15, "380"),
       ("monetary amount", R, True, 1, 18, "782"),
       *[(f"monetary amount {n}", R, False, 1, 18, "782") for n in range(6, 25)])
# TS2*1000*200
define("TS2", "Provider supplemental summary information",
       *[(f"monetary amount {n}", R, False, 1, 18, "782") for n in range(1, 20)])
# CLP*PCN0001*1*800*500*100*12*PAYERCTRL0001*11*1
define("CLP", "Claim payment information",
       ("claim submitter's identifier", AN, True, 1, 38, "1028"),
       ("claim status code", ID, True, 1, 2, "1029", tuple(CLAIM_STATUS)),
       ("total claim charge amount", R, True, 1, 18, "782"),
       ("claim payment amount", R, True, 1, 18, "782"),
       ("patient responsibility amount", R, False, 1, 18, "782"),
       ("claim filing indicator code", ID, False, 1, 2, "1032"),
       ("payer claim control number", AN, False, 1, 50, "127"),
       ("facility type code", AN, False, 1, 2, "1331"),
       ("claim frequency type code", ID, False, 1, 1, "1325"),
       ("patient status code", ID, False, 1, 2, "1352"),
       ("diagnosis related group code", ID, False, 1, 4, "1354"),
       ("drg weight", R, False, 1, 15, "380"),
       ("discharge fraction", R, False, 1, 10, "954"),
       ("yes/no condition or response code", ID, False, 1, 1, "1073"))
# CAS*CO*45*120**253*8.5
define("CAS", "Claims adjustment",
       ("claim adjustment group code", ID, True, 1, 2, "1033", tuple(ADJUSTMENT_GROUPS)),
       *[item for n in range(6) for item in (
           (f"claim adjustment reason code {n + 1}", ID, n == 0, 1, 5, "1034"),
           (f"monetary amount {n + 1}", R, n == 0, 1, 18, "782"),
           (f"quantity {n + 1}", R, False, 1, 15, "380"))])
# MIA*0***138.34  and  MOA***MA01
define("MIA", "Inpatient adjudication information",
       ("quantity", R, True, 1, 15, "380"),
       *[(f"element {n}", R if n not in (5, 20, 21, 22, 23) else AN, False, 1, 18, "")
         for n in range(2, 25)])
define("MOA", "Outpatient adjudication information",
       ("percentage as decimal", R, False, 1, 10, "954"),
       ("monetary amount", R, False, 1, 18, "782"),
       *[(f"reference identification {n}", AN, False, 1, 50, "127") for n in range(3, 8)],
       ("monetary amount", R, False, 1, 18, "782"),
       ("monetary amount", R, False, 1, 18, "782"))
# SVC*HC:99213:25*100*80**1
define("SVC", "Service payment information",
       ("composite medical procedure identifier", C, True, 1, 80, "C003"),
       ("line item charge amount", R, True, 1, 18, "782"),
       ("line item provider payment amount", R, True, 1, 18, "782"),
       ("national uniform billing committee revenue code", AN, False, 1, 48, "234"),
       ("units of service paid count", R, False, 1, 15, "380"),
       ("composite medical procedure identifier", C, False, 1, 80, "C003"),
       ("original units of service count", R, False, 1, 15, "380"))
# LQ*HE*M80
define("LQ", "Health care remark codes",
       ("code list qualifier code", ID, True, 1, 3, "1270"),
       ("industry code", AN, True, 1, 30, "1271"))
# PLB*1234567893*20261231*WO:CLAIM123*-50*L6*12.5
define("PLB", "Provider adjustment",
       ("reference identification", AN, True, 1, 50, "127"),
       ("date", DT, True, 8, 8, "373"),
       *[item for n in range(6) for item in (
           (f"adjustment identifier {n + 1}", C, n == 0, 1, 80, "C042"),
           (f"monetary amount {n + 1}", R, n == 0, 1, 18, "782"))])

KNOWN_835 = frozenset({
    "ST", "SE", "BPR", "TRN", "CUR", "REF", "DTM", "N1", "N3", "N4", "PER", "RDM", "LX", "TS3", "TS2",
    "CLP", "CAS", "NM1", "MIA", "MOA", "AMT", "QTY", "SVC", "LQ", "PLB",
})

# Where a context segment (REF, DTM, PER, N3, N4, AMT, QTY) attaches, by the loop it appears in.
HEADER, PAYER, PAYEE, GROUP, CLAIM, SERVICE, SUMMARY = range(7)
LOOP_NAMES = {
    HEADER: "the 835 header", PAYER: "loop 1000A (payer)", PAYEE: "loop 1000B (payee)",
    GROUP: "loop 2000 (header number)", CLAIM: "loop 2100 (claim payment)",
    SERVICE: "loop 2110 (service payment)", SUMMARY: "the 835 summary (after PLB)",
}


class _Entity:
    """A party being read (N1 with its N3/N4/REF/PER), frozen into a ``Party`` when its loop ends."""

    __slots__ = ("n1", "address", "refs", "contacts")

    def __init__(self, n1: list[str]) -> None:
        self.n1 = n1
        self.address: list[str] = []
        self.refs: list[Reference] = []
        self.contacts: list[Contact] = []

    def locate(self, el: list[str]) -> None:
        """Take N3 (street lines) or N4 (city, state, postal code, country)."""
        if not self.address:
            self.address = ["", ""]
        if el[0] == "N3":
            self.address[:2] = [element(el, 1), element(el, 2)]
        else:
            self.address[2:] = [element(el, 1), element(el, 2), element(el, 3), element(el, 4)]

    def freeze(self) -> Party:
        n1 = self.n1
        address = None
        if self.address:
            line1, line2, city, state, postal, country = (self.address + [""] * 6)[:6]
            address = Address(line1, line2, city, state, postal, country)
        return Party(role=n1[1], name=element(n1, 2), id_qualifier=element(n1, 3), id=element(n1, 4),
                     address=address, references=tuple(self.refs), contacts=tuple(self.contacts))


def _contact(el: list[str]) -> Contact:
    numbers = tuple((el[i], element(el, i + 1)) for i in range(3, len(el), 2) if el[i])
    return Contact(el[1], element(el, 2), numbers)


# Separators senders use for composites; some files declare one in ISA16 and use another.
_COMMON_COMPONENT_SEPARATORS = ">:^|\\!}"


def _procedure(composite: str, component: str, ctx: ReadContext, offset: int, position: int) -> Procedure:
    """A procedure composite (qualifier:code:modifiers...:description), read as leniently as is safe."""
    if component not in composite and len(composite) > 3 and composite[2] in _COMMON_COMPONENT_SEPARATORS:
        used = composite[2]
        ctx.issue(offset, "SVC", position, "bad_code",
                  f"composite {composite!r} uses {used!r} as component separator; ISA16 declares {component!r}",
                  severity=ERROR if ctx.strict else WARNING, value=composite)
        component = used
    parts = composite.split(component)
    if len(parts) < 2 or not parts[1]:
        ctx.issue(offset, "SVC", position, "missing_element",
                  f"procedure composite {composite!r} has no procedure code", value=composite)
    modifiers = tuple(m for m in parts[2:6] if m)
    return Procedure(parts[0], element(parts, 1), modifiers, parts[6] if len(parts) > 6 else "")


_PADS = tuple([""] * size for size in range(16))  # el += _PADS[k]: no slice to build
INTERN_LIMIT = 16_384  # entries per interning cache and transaction set
INTERN_PROBATION = 4_096  # adjustment lookups that may miss before interning is judged
_CAS, _AMT, _DTM = "CAS", "AMT", "DTM"  # kinds of interned service-line records
_CLOSERS = frozenset({"SVC", "CLP", "LX", "PLB", "N1", "SE"})


@register("835")
def read_835(raw: RawTransaction, ctx: ReadContext) -> Remittance:  # noqa: C901 - the hot loop, see module doc
    """Read one 835 transaction set; problems become issues in ``ctx``."""
    sep, component = ctx.element, ctx.component
    # Interning: the same amounts, codes, dates and adjustments recur on most lines of a remittance
    # (fee schedules, copays, CO-45 on the same codes). One shared immutable object per distinct text,
    # instead of millions of equal copies, cuts both work and memory traffic, which is what a big
    # remittance's reading time mostly is. Interning is a bet on repetition: once more than
    # INTERN_PROBATION adjustments were new and they make more than a quarter of the segments read, the
    # reader stops interning for the rest of the transaction set; the caches never grow past
    # INTERN_LIMIT entries.
    amounts: dict[str, Decimal] = {}
    interning = True
    misses = 0

    def D(text: str) -> Decimal:  # noqa: N802 - reads like the Decimal it stands for
        value = amounts.get(text)
        if value is None:
            value = Decimal(text)
            if len(amounts) < INTERN_LIMIT:
                amounts[text] = value
        return value

    # Records are built with tuple.__new__ and every field given: NamedTuple's own __new__ is a
    # Python-level function, and a frame per record adds up over a million records.
    new = tuple.__new__
    groups_allowed = ADJUSTMENT_GROUPS
    dtm_cache: dict[str, QualifiedDate] = {}
    procedures: dict[str, Procedure] = {}
    codes: dict[str, str] = {}
    interned: dict[str, tuple[str, Any]] = {}  # service-line CAS, AMT and DTM records by segment text

    loop = HEADER
    bpr: list[str] | None = None
    trn: list[str] | None = None
    header_refs: dict[str, str] = {}
    production_date: date | None = None
    payment_date: date | None = None
    payer: Party | None = None
    payee: Party | None = None
    entity: _Entity | None = None
    groups: list[ClaimGroup] = []
    group_number = ""
    claims: list[ClaimPayment] = []
    plbs: list[ProviderAdjustment] = []
    paid_total = ZERO

    # The claim being read (2100) and its open service line (2110), kept in plain locals for speed.
    clp: list[str] | None = None
    clp_offset = 0
    clp_charge = clp_paid = clp_adjusted = ZERO
    clp_patient: Decimal | None = None
    clp_weight: Decimal | None = None
    clp_fraction: Decimal | None = None
    # Children are gathered in tuples, not lists: most hold zero to three items, and a tuple needs
    # no conversion when the record is built (each ``tuple(list)`` costs as much as the append).
    clp_adj: tuple[Adjustment, ...] = ()
    clp_ent: tuple[Party, ...] = ()
    clp_ref: tuple[Reference, ...] = ()
    clp_dtm: tuple[QualifiedDate, ...] = ()
    clp_amt: tuple[QualifiedAmount, ...] = ()
    clp_qty: tuple[QualifiedAmount, ...] = ()
    clp_rem: tuple[Remark, ...] = ()
    clp_per: tuple[Contact, ...] = ()
    clp_mia: tuple[str, ...] = ()
    clp_moa: tuple[str, ...] = ()
    services: list[ServicePayment] = []
    svc: list[str] | None = None
    svc_offset = 0
    svc_proc = Procedure("", "")
    svc_original: Procedure | None = None
    svc_charge = svc_paid = svc_adjusted = ZERO
    svc_units: Decimal | None = None
    svc_original_units: Decimal | None = None
    svc_adj: tuple[Adjustment, ...] = ()
    svc_dtm: tuple[QualifiedDate, ...] = ()
    svc_ref: tuple[Reference, ...] = ()
    svc_amt: tuple[QualifiedAmount, ...] = ()
    svc_qty: tuple[QualifiedAmount, ...] = ()
    svc_rem: tuple[Remark, ...] = ()
    svc_lic = ""

    texts = raw.segments if raw.complete else [*raw.segments, "SE"]  # "SE" closes what is open
    for offset in range(1, len(texts)):
        text = texts[offset]
        if loop == SERVICE and interning:
            # A CAS, AMT or DTM of a service line whose exact text was read before is the same
            # immutable record again: no split, no conversion, no new object.
            hit = interned.get(text)
            if hit is not None:
                kind, record = hit
                if kind is _CAS:
                    svc_adj += record
                    svc_adjusted += record[0].amount
                elif kind is _AMT:
                    svc_amt += (record,)
                else:
                    svc_dtm += (record,)
                continue
        el = text.split(sep)
        sid = el[0]
        try:
            if sid == "CAS":
                group = el[1]
                if group not in groups_allowed:
                    raise ElementError(1, "bad_code", f"{group!r} is not an adjustment group code", group)
                if loop < CLAIM:
                    ctx.unexpected(offset, sid, "outside a claim or service payment")
                    continue
                if len(el) == 4:  # one triplet without quantity: by far the most common shape
                    added = D(el[3])
                    reason = el[2]
                    found = (new(Adjustment, (codes.setdefault(group, group), codes.setdefault(reason, reason),
                                              added, None)),)
                    if interning and loop == SERVICE:
                        misses += 1
                        if misses > INTERN_PROBATION and misses * 4 > offset:
                            interning, D = False, Decimal  # amounts do not repeat here: stop betting on it
                            interned.clear()
                            amounts.clear()
                        elif len(interned) < INTERN_LIMIT and added.is_finite():
                            interned[text] = (_CAS, found)
                else:
                    added = ZERO
                    found = ()
                    for i in range(2, len(el), 3):
                        reason = el[i]
                        if reason:
                            amount = D(el[i + 1])
                            quantity = el[i + 2] if i + 2 < len(el) else ""
                            units = D(quantity) if quantity else None
                            if units is not None and not units.is_finite():
                                raise ArithmeticError(f"CAS quantity {quantity!r} is not a finite number")
                            found += (Adjustment(group, reason, amount, units),)
                            added += amount
                # Decimal takes NaN and Infinity: stop them here, located, before they reach any sum.
                if not added.is_finite():
                    raise ArithmeticError("a CAS amount is not a finite number")
                if loop == SERVICE:
                    svc_adj += found
                    svc_adjusted += added
                else:
                    clp_adj += found
                    clp_adjusted += added
            elif sid == "DTM":
                key = el[2]
                item = dtm_cache.get(key)
                if item is None or item.qualifier != el[1]:
                    item = dtm_cache[key] = QualifiedDate(el[1], to_date(el[2], 2))
                if loop == SERVICE:
                    svc_dtm += (item,)
                    if interning and len(interned) < INTERN_LIMIT:
                        interned[text] = (_DTM, item)
                elif loop == CLAIM:
                    clp_dtm += (item,)
                elif loop == HEADER and el[1] == "405":
                    production_date = item.value
                else:
                    ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
            elif sid == "AMT":
                figure = el[2]
                value = D(figure) if figure.replace(".", "", 1).isdigit() else to_amount(figure, 2)
                amount_item = new(QualifiedAmount, (codes.setdefault(el[1], el[1]), value))
                if loop == SERVICE:
                    svc_amt += (amount_item,)
                    if interning and len(interned) < INTERN_LIMIT:
                        interned[text] = (_AMT, amount_item)
                elif loop == CLAIM:
                    clp_amt += (amount_item,)
                else:
                    ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
            elif sid == "NM1":
                if loop != CLAIM:
                    ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
                    continue
                if len(el) < 10:
                    el += _PADS[10 - len(el)]
                intern = codes.setdefault  # code-like fields only: names and ids rarely repeat
                clp_ent += (new(Party, (intern(el[1], el[1]), el[3], el[4], el[5], el[7], intern(el[2], el[2]),
                                        intern(el[8], el[8]), el[9], None, (), (), None, "", "")),)
            elif sid == "REF":
                ref = Reference(el[1], el[2] if len(el) > 2 else "")
                if loop == SERVICE:
                    if el[1] == "6R":
                        svc_lic = ref.value
                    else:
                        svc_ref += (ref,)
                elif loop == CLAIM:
                    clp_ref += (ref,)
                elif entity is not None:
                    entity.refs.append(ref)
                elif loop == HEADER:
                    header_refs[ref.qualifier] = ref.value
                else:
                    ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
            elif sid in _CLOSERS:
                # A new loop starts: freeze the service line, claim and party that are open.
                if svc is not None:
                    services.append(new(ServicePayment, (
                        svc_proc, svc_charge, svc_paid, svc[4] if len(svc) > 4 else "", svc_units, svc_original,
                        svc_original_units, svc_dtm, svc_adj, svc_lic, svc_ref, svc_amt, svc_qty, svc_rem,
                    )))
                    clp_adjusted += svc_adjusted
                    # A transaction cut short leaves its last line and claim incomplete: that is the
                    # truncation (reported by the envelope), not an imbalance.
                    complete = sid != "SE" or raw.complete
                    if complete and svc_charge - svc_adjusted - svc_paid:
                        _unbalanced(ctx, raw, svc_offset, "SVC", svc_charge, svc_adjusted, svc_paid,
                                    f"service line {svc_proc.code or '(no code)'}")
                    svc = None
                if sid != "SVC" and clp is not None:
                    claims.append(new(ClaimPayment, (
                        clp[1], codes.setdefault(clp[2], clp[2]), clp_charge, clp_paid, clp_patient,
                        codes.setdefault(clp[6], clp[6]), clp[7], codes.setdefault(clp[8], clp[8]), clp[9], clp[11],
                        clp_weight, clp_fraction, group_number, clp_ent, clp_mia, clp_moa, clp_adj, clp_rem,
                        clp_ref, clp_dtm, clp_per, clp_amt, clp_qty, tuple(services),
                    )))
                    paid_total += clp_paid
                    if (sid != "SE" or raw.complete) and clp_charge - clp_adjusted - clp_paid:
                        _unbalanced(ctx, raw, clp_offset, "CLP", clp_charge, clp_adjusted, clp_paid,
                                    f"claim {clp[1]!r}")
                    clp = None
                if entity is not None and sid != "SVC":
                    if entity.n1[1] == "PR":
                        payer = entity.freeze()
                    else:
                        payee = entity.freeze()
                    entity = None
                if sid == "SVC":
                    if loop < CLAIM or clp is None:
                        ctx.unexpected(offset, sid, "outside a claim payment (no CLP before it)")
                        continue
                    loop = CLAIM  # until the SVC is read: its CAS must not land on the previous line
                    composite = el[1]
                    proc = procedures.get(composite)
                    if proc is None:
                        proc = _procedure(composite, component, ctx, offset, 1)
                        if proc.code:  # only clean composites are cached, so each bad one is reported
                            procedures[composite] = proc
                    svc_charge = D(el[2])
                    svc_paid = D(el[3])
                    n = len(el)
                    svc_units = D(el[5]) if n > 5 and el[5] else None
                    svc_original = _procedure(el[6], component, ctx, offset, 6) if n > 6 and el[6] else None
                    svc_original_units = D(el[7]) if n > 7 and el[7] else None
                    if not (svc_charge.is_finite() and svc_paid.is_finite()
                            and (svc_units is None or svc_units.is_finite())
                            and (svc_original_units is None or svc_original_units.is_finite())):
                        raise ArithmeticError("an SVC number is not finite")  # located by bad_segment
                    svc, svc_offset, svc_proc, loop, svc_adjusted, svc_lic = el, offset, proc, SERVICE, ZERO, ""
                    svc_adj = svc_dtm = svc_ref = svc_amt = svc_qty = svc_rem = ()
                elif sid == "CLP":
                    if loop >= SUMMARY:
                        ctx.unexpected(offset, sid, "after the PLB summary")
                        continue
                    loop = CLAIM
                    clp_adj = clp_ent = clp_ref = clp_dtm = clp_amt = clp_qty = clp_rem = clp_per = ()
                    clp_mia = clp_moa = ()
                    services = []
                    clp_adjusted = ZERO
                    n = len(el)
                    if n < 5 or not el[1]:
                        raise ElementError(1 if n < 2 or not el[1] else n, "missing_element",
                                           "CLP01 to CLP04 (identifier, status, charge, payment) are required")
                    if el[2] not in CLAIM_STATUS:
                        raise ElementError(2, "bad_code", f"claim status code {el[2]!r} is not defined", el[2])
                    clp_charge = D(el[3])
                    clp_paid = D(el[4])
                    clp_patient = D(el[5]) if n > 5 and el[5] else None
                    clp_weight = D(el[12]) if n > 12 and el[12] else None
                    clp_fraction = D(el[13]) if n > 13 and el[13] else None
                    if not (clp_charge.is_finite() and clp_paid.is_finite()
                            and (clp_patient is None or clp_patient.is_finite())
                            and (clp_weight is None or clp_weight.is_finite())
                            and (clp_fraction is None or clp_fraction.is_finite())):
                        raise ArithmeticError("a CLP number is not finite")  # located by bad_segment
                    if n < 14:
                        el += _PADS[14 - n]
                    clp, clp_offset = el, offset
                elif sid == "LX":
                    if loop >= SUMMARY:
                        ctx.unexpected(offset, sid, "after the PLB summary")
                        continue
                    group_number = el[1]
                    groups.append(ClaimGroup(group_number))
                    loop = GROUP
                elif sid == "PLB":
                    loop = SUMMARY
                    provider_id = el[1]
                    period = to_date(el[2], 2)
                    for i in range(3, len(el), 2):
                        if not el[i]:
                            continue
                        reason, _, reference = el[i].partition(component)
                        if i + 1 >= len(el) or not el[i + 1]:
                            raise ElementError(i + 1, "missing_element", f"PLB{i + 1:02d} amount is required")
                        plbs.append(ProviderAdjustment(provider_id, period, reason, reference,
                                                       to_amount(el[i + 1], i + 1)))
                elif sid == "N1":
                    if loop > PAYEE:
                        ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
                        continue
                    if el[1] not in ("PR", "PE"):
                        ctx.unexpected(offset, sid, "(only N1*PR payer and N1*PE payee are defined)")
                        continue
                    entity = _Entity(el)
                    loop = PAYER if el[1] == "PR" else PAYEE
                else:  # SE: the end
                    break
            elif sid == "LQ":
                if loop != SERVICE:
                    ctx.unexpected(offset, sid, "outside a service payment")
                    continue
                svc_rem += (Remark(el[2], el[1]),)
            elif sid == "QTY":
                if loop == SERVICE:
                    svc_qty += (QualifiedAmount(el[1], to_amount(el[2], 2)),)
                elif loop == CLAIM:
                    clp_qty += (QualifiedAmount(el[1], to_amount(el[2], 2)),)
                else:
                    ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
            elif sid == "MOA" or sid == "MIA":
                if loop != CLAIM:
                    ctx.unexpected(offset, sid, "outside a claim payment")
                    continue
                # Remark codes: MOA03-MOA07; MIA05 and MIA20-MIA23.
                positions = range(3, 8) if sid == "MOA" else (5, 20, 21, 22, 23)
                clp_rem += tuple(Remark(el[p]) for p in positions if p < len(el) and el[p])
                if sid == "MOA":
                    clp_moa = tuple(el[1:])
                else:
                    clp_mia = tuple(el[1:])
            elif sid == "PER":
                contact = _contact(el)
                if loop == CLAIM:
                    clp_per += (contact,)
                elif entity is not None:
                    entity.contacts.append(contact)
                else:
                    ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
            elif sid == "N3" or sid == "N4":
                if entity is None:
                    ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
                    continue
                entity.locate(el)
            elif sid == "TS3" or sid == "TS2":
                if loop != GROUP or not groups:
                    ctx.unexpected(offset, sid, "outside an LX header group")
                    continue
                field = "provider_summary" if sid == "TS3" else "supplemental_summary"
                groups[-1] = groups[-1]._replace(**{field: tuple(el[1:])})
            elif sid == "BPR":
                if bpr is not None or loop != HEADER:
                    ctx.unexpected(offset, sid, "(BPR must come once, first)")
                    continue
                bpr = el
                to_amount(el[2], 2)
                payment_date = _payment_date(el, ctx, offset)
            elif sid == "TRN":
                if trn is not None or loop != HEADER:
                    ctx.unexpected(offset, sid, "(TRN must come once, in the header)")
                    continue
                if len(el) < 3 or not el[2]:
                    raise ElementError(2, "missing_element", "TRN02 (check or EFT trace number) is required")
                trn = el
            elif sid == "CUR" or sid == "RDM":
                if (sid == "CUR" and loop != HEADER) or (sid == "RDM" and loop != PAYEE):
                    ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
            elif sid in KNOWN_835:
                ctx.unexpected(offset, sid, f"in {LOOP_NAMES[loop]}")
            else:
                ctx.unknown(offset, sid, "the 835 (005010X221A1)")
        except (ValueError, IndexError, ArithmeticError) as exc:
            ctx.bad_segment(offset, el, exc)
            if sid == "SVC":
                svc = None  # an unreadable service line is reported, not counted
                loop = CLAIM
            elif sid == "CLP":
                clp = None  # an unreadable claim is reported; its lines are not attached to another
                loop = CLAIM
                services = []
    return _finish(raw, ctx, bpr, trn, header_refs, production_date, payment_date, payer, payee, groups, claims,
                   plbs, paid_total)


def _finish(raw: RawTransaction, ctx: ReadContext, bpr: list[str] | None, trn: list[str] | None,
            header_refs: dict[str, str], production_date: date | None, payment_date: date | None,
            payer: Party | None,
            payee: Party | None, groups: list[ClaimGroup], claims: list[ClaimPayment],
            plbs: list[ProviderAdjustment], paid_total: Decimal) -> Remittance:
    end = len(raw.segments) - 1
    bpr_found = bpr is not None
    if bpr is None:
        ctx.missing(1, "BPR", "at the start of the 835")
    if trn is None:
        ctx.missing(1, "TRN", "after BPR")
    if payer is None:
        ctx.missing(end, "N1", "for the payer (loop 1000A, N1*PR)")
    if payee is None:
        ctx.missing(end, "N1", "for the payee (loop 1000B, N1*PE)")
    bpr = bpr or ["BPR", "", "0", "", "", ""]
    trn = trn or ["TRN", "", ""]
    payment = Decimal(bpr[2]) if is_valid_decimal(bpr[2]) else ZERO
    # A date taken from BPR15 (see _payment_date) is not also the receiver's account number.
    receiver_end = 15 if len(bpr) == 16 and payment_date is not None else 16
    remittance = Remittance(
        raw.control_number, bpr[1], payment, element(bpr, 3), element(bpr, 4), payment_date,
        trn[1], trn[2], element(trn, 3), element(trn, 4), element(bpr, 5),
        _trimmed(bpr[6:12]), _trimmed(bpr[12:receiver_end]), header_refs.get("EV", ""), header_refs.get("F2", ""),
        production_date, payer, payee,
        tuple(groups), tuple(claims), tuple(plbs),
    )
    if raw.complete:
        plb_total = remittance.provider_adjustment_total
        difference = payment - (paid_total - plb_total)
        if difference and bpr_found and is_valid_decimal(bpr[2]):
            ctx.issue(1, "BPR", 2, "unbalanced",
                      f"BPR02 payment {payment} does not equal claim payments {paid_total} minus provider "
                      f"adjustments {plb_total} (= {paid_total - plb_total}); difference {difference}",
                      value=bpr[2])
    return remittance


def _trimmed(elements: list[str]) -> tuple[str, ...]:
    """Elements without trailing empties, so that one X12 meaning has one canonical form (an empty
    BPR06-BPR15 read as () like the default, whatever the sender padded)."""
    end = len(elements)
    while end and not elements[end - 1]:
        end -= 1
    return tuple(elements[:end])


def _payment_date(bpr: list[str], ctx: ReadContext, offset: int) -> date | None:
    """BPR16, the payment effective date. Some payers shift it to BPR15 when BPR06-BPR14 are empty;
    lenient reading takes it from there with a warning, since the position is unambiguous."""
    severity = ERROR if ctx.strict else WARNING
    text = element(bpr, 16)
    position = 16
    if not text and not ctx.strict and len(bpr) == 16 and not any(bpr[6:15]) and is_valid_date(bpr[15]):
        ctx.issue(offset, "BPR", position, "missing_element",
                  "BPR16 (payment effective date) is empty; the date was found in BPR15 and used",
                  severity=WARNING, value=bpr[15])
        return to_date(bpr[15], 15)
    if not text:
        ctx.issue(offset, "BPR", position, "missing_element", "BPR16 (payment effective date) is required",
                  severity=severity)
        return None
    if not is_valid_date(text):
        ctx.issue(offset, "BPR", position, "bad_date",
                  f"BPR16 {text!r} (payment effective date) is not a valid CCYYMMDD date", severity=severity,
                  value=text)
        return None
    return to_date(text, position)


def _unbalanced(ctx: ReadContext, raw: RawTransaction, offset: int, seg_id: str, charge: Decimal,
                adjusted: Decimal, paid: Decimal, what: str) -> None:
    """Report an imbalance, unless it comes from a number that is not one (NaN, Infinity, which
    ``Decimal`` accepts): then locate that number instead, since it is the real problem."""
    difference = charge - adjusted - paid
    if finite(difference):
        ctx.issue(offset, seg_id, None, "unbalanced",
                  f"{what} does not balance: charge {charge} - adjustments {adjusted} = {charge - adjusted}, "
                  f"paid {paid} (difference {difference})")
        return
    sep = ctx.element
    for position in range(offset, len(raw.segments)):
        elements = raw.segments[position].split(sep)
        if position > offset and elements[0] in ("CLP", "SVC", "LX", "PLB", "SE"):
            break
        for index, value in enumerate(elements[1:], start=1):
            if value and not is_valid_decimal(value) and value.lstrip("+-").lower().startswith(("nan", "inf", "snan")):
                ctx.issue(position, elements[0], index, "bad_number", f"{value!r} is not a decimal number",
                          value=value)
                return
    ctx.issue(offset, seg_id, None, "bad_number", f"{what} has an amount that is not a decimal number")

"""A seeded regional clinic network for the demo: facilities, payers, patients, claims, and each
payer's adjudication of those claims as remittances.

Everything is canonical domain records; the X12 writers turn them into files. Same seed, same
network, same money. Amounts are exact: every remittance balances by construction (and the reader
checks it again when the files are parsed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from rcmflow.domain.claim import Claim, ClaimBatch, HealthCareCode, ServiceLine, Subscriber
from rcmflow.domain.deposit import CREDIT, Deposit
from rcmflow.domain.identifiers import make_npi
from rcmflow.domain.money import ZERO, round_cents
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

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Facility:
    """A billing provider of the network."""

    name: str
    npi: str
    tax_id: str
    taxonomy: str
    claim_type: str  # "P" professional or "I" institutional
    address: Address


@dataclass(frozen=True)
class Payer:
    """A health plan with the share of charges it allows."""

    name: str
    payer_id: str
    allowed_rate: Decimal
    filing_indicator: str


PAYERS = (
    Payer("ACME HEALTH PLAN", "60054", Decimal("0.72"), "CI"),
    Payer("BLUE RIVER BCBS", "00590", Decimal("0.68"), "BL"),
    Payer("MEDICARE PART B", "04412", Decimal("0.55"), "MB"),
    Payer("SUNRISE MEDICAID", "77001", Decimal("0.48"), "MC"),
)

# (code, modifier, charge) for professional lines; institutional lines add a revenue code.
PROFESSIONAL_SERVICES = (
    ("99213", "", "110.00"), ("99214", "", "165.00"), ("99203", "", "150.00"), ("99212", "", "75.00"),
    ("36415", "", "12.00"), ("85025", "", "28.00"), ("80053", "", "45.00"), ("93000", "", "55.00"),
    ("71046", "26", "95.00"), ("G0438", "", "175.00"), ("99214", "25", "165.00"), ("90686", "", "35.00"),
)
INSTITUTIONAL_SERVICES = (
    ("0450", "99284", "980.00"), ("0300", "80053", "140.00"), ("0320", "71046", "410.00"),
    ("0250", "", "65.00"), ("0730", "93005", "220.00"), ("0636", "J1885", "48.00"),
)
DIAGNOSES = ("I10", "E119", "E785", "J069", "M5450", "Z0000", "R0789", "K219", "J45909", "N390")
FIRST_NAMES = ("MARIA", "JAMES", "LINDA", "ROBERT", "AISHA", "WEI", "CARLOS", "EMILY", "DAVID", "FATIMA",
               "JOHN", "SOFIA", "MICHAEL", "PRIYA", "DANIEL", "GRACE")
LAST_NAMES = ("GARCIA", "SMITH", "NGUYEN", "JOHNSON", "PATEL", "BROWN", "KIM", "LOPEZ", "MILLER", "OKAFOR",
              "WILSON", "CHEN", "DAVIS", "HUSSAIN", "MARTIN", "ROSSI")
DENIALS = (("CO", "197", "N54"), ("CO", "16", "MA130"), ("CO", "50", "N115"), ("CO", "97", "M15"),
           ("PR", "204", "N130"))


@dataclass(frozen=True)
class Network:
    """The generated world: who bills, who pays, what was billed and what was paid."""

    facilities: tuple[Facility, ...]
    payers: tuple[Payer, ...]
    batches: tuple[tuple[Facility, Payer, ClaimBatch], ...]
    remittances: tuple[tuple[Payer, Remittance], ...]
    # Sent two weeks later: reversals with their corrected payments, and a payment for a claim never billed.
    follow_ups: tuple[tuple[Payer, Remittance], ...] = ()
    deposits: tuple[Deposit, ...] = ()  # what the bank reports for the remittances' payments


def _facilities(rng: random.Random) -> tuple[Facility, ...]:
    def npi() -> str:
        return make_npi("1" + "".join(rng.choice("0123456789") for _ in range(8)))

    return (
        Facility("RIVERSIDE MEDICAL GROUP", npi(), "841234567", "207Q00000X", "P",
                 Address("100 RIVER RD", "", "DENVER", "CO", "802021234")),
        Facility("NORTHGATE IMAGING CENTER", npi(), "842345678", "261QR0200X", "P",
                 Address("55 NORTHGATE AVE", "SUITE 2", "BOULDER", "CO", "803021111")),
        Facility("LAKEVIEW COMMUNITY HOSPITAL", npi(), "843456789", "282N00000X", "I",
                 Address("9 LAKEVIEW DR", "", "GOLDEN", "CO", "804013333")),
    )


def _claim(rng: random.Random, number: int, facility: Facility, payer: Payer, service_day: date) -> Claim:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    birth = date(rng.randint(1940, 2015), rng.randint(1, 12), rng.randint(1, 28))
    member = f"{payer.payer_id[:2]}{rng.randint(10_000_000, 99_999_999)}"
    insured = Party("IL", last, first, entity_type="1", id_qualifier="MI", id=member,
                    address=Address(f"{rng.randint(1, 9999)} MAIN ST", "", "DENVER", "CO", "80203"),
                    birth_date=birth, gender=rng.choice("FM"))
    diagnoses = rng.sample(DIAGNOSES, rng.randint(1, 3))
    codes = tuple(HealthCareCode(("ABK" if i == 0 else "ABF") if facility.claim_type == "P" else
                                 ("BK" if i == 0 else "BF"), code) for i, code in enumerate(diagnoses))
    lines: list[ServiceLine] = []
    control = f"{facility.npi[-4:]}{number:06d}"
    for line_number in range(1, rng.choice((1, 1, 2, 2, 3, 4)) + 1):
        day = QualifiedDate("472", service_day)
        pointers = tuple(str(i + 1) for i in range(len(diagnoses)))[:4]
        if facility.claim_type == "P":
            code, modifier, charge = rng.choice(PROFESSIONAL_SERVICES)
            procedure = Procedure("HC", code, (modifier,) if modifier else ())
            lines.append(ServiceLine(line_number, Decimal(charge), procedure,
                                     unit_basis="UN", units=Decimal(1), place_of_service="",
                                     diagnosis_pointers=pointers, dates=(day,),
                                     line_item_control_number=f"{control}-{line_number}"))
        else:
            revenue, code, charge = rng.choice(INSTITUTIONAL_SERVICES)
            lines.append(ServiceLine(line_number, Decimal(charge), Procedure("HC", code) if code else None,
                                     revenue_code=revenue, unit_basis="UN", units=Decimal(1), dates=(day,),
                                     line_item_control_number=f"{control}-{line_number}"))
    total = sum((line.charge for line in lines), ZERO)
    billing = Party("85", facility.name, entity_type="2", id_qualifier="XX", id=facility.npi,
                    address=facility.address, references=(Reference("EI", facility.tax_id),),
                    taxonomy=facility.taxonomy)
    institutional = facility.claim_type == "I"
    dates = (QualifiedDate("434", service_day, service_day),) if institutional else ()
    return Claim(
        facility.claim_type, f"PCN{control}", total,
        facility_code="13" if institutional else rng.choice(("11", "11", "22")),
        facility_qualifier="A" if institutional else "B", frequency="1", provider_signature="Y",
        assignment="A", benefits_assignment="Y", release_of_information="Y",
        billing_provider=billing,
        subscriber=Subscriber("P", "18", filing_indicator=payer.filing_indicator, party=insured),
        payer=Party("PR", payer.name, entity_type="2", id_qualifier="PI", id=payer.payer_id),
        dates=dates, admission_type="1" if institutional else "", admission_source="7" if institutional else "",
        patient_status="01" if institutional else "",
        health_care_codes=codes, service_lines=tuple(lines),
    )


def _adjudicate(rng: random.Random, claim: Claim, payer: Payer, claim_number: int) -> ClaimPayment:
    """The payer's decision on one claim: paid with contractual and patient shares, or denied."""
    denied = rng.random() < 0.08
    denial = rng.choice(DENIALS)
    # Now and then a payer prices a claim below its contract: what underpayment review exists to catch.
    rate = payer.allowed_rate - (Decimal("0.10") if rng.random() < 0.03 else ZERO)
    services: list[ServicePayment] = []
    paid_total = patient_total = ZERO
    for line in claim.service_lines:
        procedure = line.procedure or Procedure("NU", line.revenue_code)
        revenue_code = line.revenue_code if line.procedure is not None else ""  # SVC04 only beside a HCPCS code
        if denied:
            adjustments = (Adjustment(denial[0], denial[1], line.charge),)
            paid = ZERO
            remarks = (Remark(denial[2]),)
            amounts: tuple[QualifiedAmount, ...] = ()
        else:
            allowed = round_cents(line.charge * rate)
            patient = min(allowed, rng.choice((ZERO, ZERO, Decimal("20.00"), round_cents(allowed * Decimal("0.2")))))
            paid = allowed - patient
            adjustments = (Adjustment("CO", "45", line.charge - allowed),)
            if patient:
                group_reason = "3" if patient == Decimal("20.00") else "2"
                adjustments += (Adjustment("PR", group_reason, patient),)
            remarks = ()
            amounts = (QualifiedAmount("B6", allowed),)
            patient_total += patient
        paid_total += paid
        services.append(ServicePayment(
            procedure, line.charge, paid, revenue_code, line.units,
            dates=line.dates[:1], adjustments=adjustments, line_item_control_number=line.line_item_control_number,
            amounts=amounts, remarks=remarks,
        ))
    insured = claim.subscriber.party
    patient_party = Party("QC", insured.name, insured.first_name, entity_type="1", id_qualifier="MI", id=insured.id)
    return ClaimPayment(
        claim.patient_control_number, "4" if denied else "1", claim.total_charge, paid_total,
        patient_total if not denied else ZERO, payer.filing_indicator, f"{payer.payer_id}{claim_number:09d}",
        claim.facility_code, claim.frequency, group_number="1", entities=(patient_party,),
        dates=(QualifiedDate("050", claim.service_lines[0].dates[0].value + timedelta(days=3)),),
        service_payments=tuple(services),
    )


def _remittance(rng: random.Random, payer: Payer, facility: Facility, claims: list[ClaimPayment],
                number: int, paid_on: date) -> Remittance:
    adjustments: list[ProviderAdjustment] = []
    year_end = date(paid_on.year, 12, 31)
    if rng.random() < 0.5:
        adjustments.append(ProviderAdjustment(facility.npi, year_end, "L6", "", -round_cents(
            Decimal(rng.randint(100, 900)) / 100)))
    if rng.random() < 0.4 and claims:
        adjustments.append(ProviderAdjustment(facility.npi, year_end, "WO", claims[0].payer_claim_control_number,
                                              Decimal(rng.choice(("15.00", "42.50", "60.00")))))
    payment = sum((claim.paid for claim in claims), ZERO) - sum((plb.amount for plb in adjustments), ZERO)
    method = "ACH" if payment > 0 else "NON"
    trace = f"{'EFT' if method == 'ACH' else 'NOPAY'}{payer.payer_id}{number:06d}"
    bank_from = ("01", "011000015", "DA", "123456789", f"1{payer.payer_id:0>9}"[:10], "")
    bank_to = ("01", "021000021", "DA", f"98{rng.randint(1_000_000, 9_999_999)}")
    return Remittance(
        f"{number:04d}", "I" if method == "ACH" else "H", payment, "C", method, paid_on, "1", trace,
        f"1{payer.payer_id:0>9}"[:10], payment_format="CCP" if method == "ACH" else "",
        sender_bank=bank_from if method == "ACH" else (), receiver_bank=bank_to if method == "ACH" else (),
        production_date=paid_on - timedelta(days=1),
        payer=Party("PR", payer.name, id_qualifier="XV", id=payer.payer_id,
                    address=Address("PO BOX 1000", "", "DENVER", "CO", "80201"),
                    contacts=(Contact("BL", "PROVIDER SERVICES", (("TE", "8005551234"),)),)),
        payee=Party("PE", facility.name, id_qualifier="XX", id=facility.npi,
                    references=(Reference("TJ", facility.tax_id),)),
        groups=(ClaimGroup("1"),), claims=tuple(claims), provider_adjustments=tuple(adjustments),
    )


def build_network(claims: int, seed: int) -> Network:
    """Generate ``claims`` claims over the network and every payer's remittance for them."""
    rng = random.Random(seed)
    facilities = _facilities(rng)
    by_pair: dict[tuple[int, int], list[Claim]] = {}
    start = date(2026, 10, 1)
    for number in range(claims):
        facility_index = rng.choices(range(len(facilities)), weights=(5, 2, 3))[0]
        payer_index = rng.randrange(len(PAYERS))
        service_day = start + timedelta(days=rng.randrange(30))
        claim = _claim(rng, number, facilities[facility_index], PAYERS[payer_index], service_day)
        by_pair.setdefault((facility_index, payer_index), []).append(claim)
    batches = []
    remittances = []
    submitter = Party("41", "RCMFLOW DEMO BILLING", entity_type="2", id_qualifier="46", id="RCMFLOWDEMO",
                      contacts=(Contact("IC", "BILLING OFFICE", (("TE", "3035550100"),)),))
    for number, ((facility_index, payer_index), claim_list) in enumerate(sorted(by_pair.items()), start=1):
        facility, payer = facilities[facility_index], PAYERS[payer_index]
        batch = ClaimBatch(f"{number:04d}", facility.claim_type,
                           "005010X222A1" if facility.claim_type == "P" else "005010X223A2", "00",
                           f"BATCH{number:05d}", start + timedelta(days=31), "1200", "CH", submitter,
                           Party("40", payer.name, entity_type="2", id_qualifier="46", id=payer.payer_id),
                           tuple(claim_list))
        batches.append((facility, payer, batch))
        payments = [_adjudicate(rng, claim, payer, number * 10_000 + i) for i, claim in enumerate(claim_list)]
        remittances.append((payer, _remittance(rng, payer, facility, payments, number,
                                               start + timedelta(days=45))))
    follow_ups = _follow_ups(rng, facilities, remittances, start + timedelta(days=50))
    deposits = _deposits(remittances + follow_ups, start + timedelta(days=46))
    return Network(facilities, PAYERS, tuple(batches), tuple(remittances), tuple(follow_ups), deposits)


def _reversal(claim: ClaimPayment) -> ClaimPayment:
    """The payer's reversal (CLP02 22) of an earlier claim payment: every amount negated."""
    def flip(adjustments: tuple[Adjustment, ...]) -> tuple[Adjustment, ...]:
        return tuple(adjustment._replace(amount=-adjustment.amount) for adjustment in adjustments)
    return claim._replace(
        status="22", charge=-claim.charge, paid=-claim.paid, patient_responsibility=-(claim.patient_responsibility
                                                                                       or ZERO),
        adjustments=flip(claim.adjustments),
        service_payments=tuple(line._replace(charge=-line.charge, paid=-line.paid, adjustments=flip(line.adjustments))
                               for line in claim.service_payments))


def _corrected(claim: ClaimPayment, extra: Decimal) -> ClaimPayment:
    """The claim paid again after reprocessing, ``extra`` more on its first line (less contractual)."""
    first, *rest = claim.service_payments
    first = first._replace(paid=first.paid + extra, adjustments=tuple(
        adjustment._replace(amount=adjustment.amount - extra) if adjustment.group == "CO" else adjustment
        for adjustment in first.adjustments), amounts=tuple(
        amount._replace(value=amount.value + extra) if amount.qualifier == "B6" else amount
        for amount in first.amounts))
    return claim._replace(paid=claim.paid + extra, service_payments=(first, *rest))


def _follow_ups(rng: random.Random, facilities: tuple[Facility, ...],
                remittances: list[tuple[Payer, Remittance]], paid_on: date) -> list[tuple[Payer, Remittance]]:
    """For the first payer's first ERA: two claims reprocessed (reversal, then the corrected payment) and one
    payment for a claim the clinic never billed (it lands in unapplied cash)."""
    if not remittances:
        return []
    payer, original = remittances[0]
    paid = [claim for claim in original.claims if claim.status == "1"][:2]
    claims: list[ClaimPayment] = []
    for claim in paid:
        claims += [_reversal(claim), _corrected(claim, Decimal(rng.choice(("4.50", "12.00", "18.25"))))]
    stray = (paid or list(original.claims))[0]._replace(patient_control_number="PCN-UNKNOWN-0001",
                                        payer_claim_control_number=f"{payer.payer_id}999999999")
    claims.append(stray)
    facility = next(f for f in facilities if f.npi == (original.payee.id if original.payee else ""))
    follow_up = _remittance(rng, payer, facility, claims, 900, paid_on)
    return [(payer, follow_up._replace(provider_adjustments=(), payment_amount=sum(
        (claim.paid for claim in claims), ZERO)))]


def _deposits(remittances: list[tuple[Payer, Remittance]], day: date) -> tuple[Deposit, ...]:
    """The bank's view: one ACH credit per paid ERA carrying its trace (CCD+ addenda), except that one arrives
    15.00 short (a bank fee), one without its addenda (found by amount and date), and one stray wire."""
    deposits: list[Deposit] = []
    paying = [remittance for _, remittance in remittances if remittance.payment_amount > 0]
    for index, remittance in enumerate(paying):
        amount = remittance.payment_amount
        trace, originator = remittance.trace_number, remittance.originator_id
        if index == 1:
            amount -= Decimal("15.00")
        if index == 2:
            trace = originator = ""
        value_date = (remittance.payment_date or day) + timedelta(days=1)
        deposits.append(Deposit("9812345678", amount, value_date, CREDIT, "165", f"ACH{index:06d}", "",
                                trace_number=trace, originator_id=originator, bank="021000021"))
    deposits.append(Deposit("9812345678", Decimal("2500.00"), day - timedelta(days=20), CREDIT, "195",
                            "WIRE000001", "", text="INCOMING WIRE UNKNOWN ORIGINATOR", bank="021000021"))
    return tuple(deposits)

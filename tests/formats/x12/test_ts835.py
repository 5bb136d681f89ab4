"""The 835 reader: the public samples read to exact figures, and located issues for malformed input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from rcmflow.domain.money import ZERO
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import (
    Adjustment,
    ClaimGroup,
    Procedure,
    ProviderAdjustment,
    QualifiedAmount,
    QualifiedDate,
    Remark,
    Remittance,
    claim_imbalance,
    remittance_imbalance,
    service_imbalance,
)
from rcmflow.formats.x12.issues import ERROR, ISSUE_CODES, WARNING
from rcmflow.formats.x12.parser import X12Document, parse
from tests.formats.x12.builders import BODY_835, OFFSET, SAMPLES, insert, interchange, position, replace

SAMPLE_DIR = SAMPLES / "835_005010X221A1"
needs_samples = pytest.mark.skipif(not SAMPLE_DIR.is_dir(), reason="shared x12 samples are absent")

CLP1, SVC1, CLP2, SVC2 = OFFSET["CLP1"], OFFSET["SVC1"], OFFSET["CLP2"], OFFSET["SVC2"]


def read(*segments: str, strict: bool = False) -> tuple[Remittance, X12Document]:
    """Parse one 835 body wrapped in a valid envelope; the remittance and the document."""
    document = parse(interchange(*segments), strict=strict)
    assert len(document.transactions) == 1
    transaction = document.transactions[0]
    assert transaction.type == "835"
    return transaction.content, document


def located(document: X12Document) -> list[tuple[int, str | None, int | None, str, str]]:
    """Issues as (position, segment id, element, code, severity), for exact comparison."""
    return [(i.segment_index, i.segment_id, i.element, i.code, i.severity) for i in document.issues]


def sample(name: str) -> tuple[Remittance, X12Document]:
    document = parse(SAMPLE_DIR / name)
    assert [tx.type for tx in document.transactions] == ["835"]
    return document.transactions[0].content, document


# ---------------------------------------------------------------------------------------------------------------
# The public samples

# name: payment, method, trace, payer name, payee id, claims, service lines, claim payments, PLB total, date
SAMPLE_FIGURES = {
    "cob-contractural-adjustment.835": (
        "34.00", "CHK", "0063158ABC", "YOUR TAX DOLLARS AT WORK", "3UR334563", 1, 1, "34.00", "0", date(2005, 3, 18)),
    "managed-care.835": (
        "945.00", "ACH", "7170066655", "RUSHMORE LIFE", "5544667733", 2, 2, "945.00", "0", None),
    "medicare-part-a.835": (
        "150000.00", "ACH", "12345", "INSURANCE COMPANY OF TIMBUCKTU", "6543210903", 2, 0, "149998.73", "-1.27",
        date(2002, 9, 13)),
    "secondary-payment.835": (
        "1222.00", "CHK", "0012524965", "YOUR TAX DOLLARS AT WORK", "599944521", 2, 2, "1222.00", "0",
        date(2005, 4, 12)),
    "tertiary-payment.835": (
        "187.50", "CHK", "0012524879", "YOUR TAX DOLLARS AT WORK", "599944521", 1, 1, "187.50", "0",
        date(2005, 4, 12)),
}

# The defects of the public samples, as the reader reports them.
SAMPLE_ISSUES = {
    "cob-contractural-adjustment.835": [
        (4, "BPR", 16, "missing_element", WARNING),  # the payment date sent in BPR15
        (21, "SVC", 1, "bad_code", WARNING),  # HC>55669 while ISA16 is ':'
    ],
    "managed-care.835": [(4, "BPR", 16, "bad_date", WARNING)],  # BPR16 '20002316'
    "medicare-part-a.835": [],
    "secondary-payment.835": [
        (4, "BPR", 16, "missing_element", WARNING),
        (29, "SVC", 1, "bad_code", WARNING),
        (34, "SVC", 1, "bad_code", WARNING),
    ],
    "tertiary-payment.835": [
        (4, "BPR", 16, "missing_element", WARNING),
        # SVC*HC*24599.00*1766.50*187.50**1: the code slipped into SVC02, every element shifted by one.
        (20, "SVC", 1, "missing_element", ERROR),
        (20, "SVC", 6, "missing_element", ERROR),
        (20, "SVC", None, "unbalanced", ERROR),
    ],
}


@needs_samples
def test_every_835_sample_is_covered() -> None:
    assert sorted(path.name for path in SAMPLE_DIR.iterdir()) == sorted(SAMPLE_FIGURES)


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_FIGURES))
def test_sample_figures(name: str) -> None:
    remittance, _ = sample(name)
    payment, method, trace, payer, payee, claims, lines, paid, plb, paid_on = SAMPLE_FIGURES[name]
    assert remittance.payment_amount == Decimal(payment)
    assert remittance.payment_method == method
    assert remittance.trace_number == trace
    assert remittance.payer is not None and remittance.payer.name == payer
    assert remittance.payee is not None and remittance.payee.id == payee
    assert len(remittance.claims) == claims
    assert remittance.service_line_count == lines
    assert remittance.claim_payment_total == Decimal(paid)
    assert remittance.provider_adjustment_total == Decimal(plb)
    assert remittance.payment_date == paid_on
    assert remittance_imbalance(remittance) == 0
    assert all(claim_imbalance(claim) == 0 for claim in remittance.claims)


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_ISSUES))
def test_sample_defects_are_reported_exactly(name: str) -> None:
    _, document = sample(name)
    assert located(document) == SAMPLE_ISSUES[name]


@needs_samples
def test_sample_defects_are_errors_when_strict() -> None:
    document = parse(SAMPLE_DIR / "managed-care.835", strict=True)
    assert (4, "BPR", 16, "bad_date", ERROR) in located(document)


@needs_samples
def test_medicare_part_a_groups_inpatient_and_plb() -> None:
    remittance, _ = sample("medicare-part-a.835")
    assert remittance.transaction_handling == "C"
    assert remittance.payment_format == "CTX"
    assert remittance.sender_bank == ("01", "99999992", "DA", "123456", "1512345678")
    assert remittance.receiver_bank == ("01", "999988880", "DA", "98765")
    assert remittance.originator_id == "1512345678"
    assert remittance.production_date == date(2002, 9, 16)
    assert remittance.payer == Party(
        "PR", "INSURANCE COMPANY OF TIMBUCKTU",
        address=Address("1 MAIN STREET", "", "TIMBUCKTU", "AK", "89111"), references=(Reference("2U", "999"),))
    assert remittance.payee == Party("PE", "REGIONAL HOPE HOSPITAL", id_qualifier="XX", id="6543210903")
    assert remittance.groups == (
        ClaimGroup("110212",
                   ("6543210903", "11", "20021231", "1", "211366.97", "", "", "", "138018.40", "", "73348.57"),
                   ("2178.45", "1919.71", "", "56.82", "197.69", "4.23")),
        ClaimGroup("130212", ("6543210909", "13", "19961231", "1", "15000.00", "", "", "", "11980.33", "", "3019.67")),
    )
    first, second = remittance.claims
    assert (first.group_number, second.group_number) == ("110212", "130212")
    assert first.inpatient == ("0", "", "", "138018.40")
    assert first.filing_indicator == "MA" and first.facility_type == "11" and first.frequency == "1"
    assert first.quantities == (QualifiedAmount("CA", Decimal("8")),)
    assert first.dates == (QualifiedDate("232", date(2002, 8, 16)), QualifiedDate("233", date(2002, 8, 24)))
    assert first.entity("QC") == Party("QC", "JONES", "SAM", "O", entity_type="1", id_qualifier="HN", id="666666666A")
    assert second.outpatient == ("", "", "MA02")
    assert second.remarks == (Remark("MA02"),)
    assert remittance.provider_adjustments == (
        ProviderAdjustment("6543210903", date(2002, 12, 31), "CV", "CP", Decimal("-1.27")),)


@needs_samples
def test_secondary_payment_service_lines() -> None:
    remittance, _ = sample("secondary-payment.835")
    assert remittance.sender_bank == () and remittance.receiver_bank == ()  # BPR15 held the date, not an account
    assert remittance.receiver_id == "030240928"
    first, second = remittance.claims
    assert first.service_payments == ()
    assert first.amounts == (QualifiedAmount("AU", Decimal("912")),)
    assert first.entity("82") == Party("82", "ACME MEDICAL CENTER", entity_type="2", id_qualifier="BD", id="987")
    line1, line2 = second.service_payments
    # The '>' composites are read although ISA16 declares ':'.
    assert line1.procedure == Procedure("HC", "12345", ("26",))
    assert line2.procedure == Procedure("HC", "66543", ("26",))
    assert line2.revenue_code == "220"
    assert line2.units_paid == Decimal("1")
    assert line2.adjustments == (Adjustment("PR", "1", Decimal("150")), Adjustment("PR", "2", Decimal("70")),
                                 Adjustment("CO", "42", Decimal("85")))
    assert line2.references == (Reference("1B", "43285"),)
    assert line2.amount("B6") == Decimal("500")
    assert line2.service_date == date(2005, 1, 6)
    assert [service_imbalance(line) for line in second.service_payments] == [0, 0]
    assert second.patient_responsibility == Decimal("220")


@needs_samples
def test_managed_care_banks_and_periods() -> None:
    remittance, _ = sample("managed-care.835")
    assert remittance.sender_bank == ("01", "888999777", "DA", "24681012", "1935665544")
    assert remittance.receiver_bank == ("01", "111333555", "DA", "144444")
    line = remittance.claims[1].service_payments[0]
    assert line.dates == (QualifiedDate("150", date(2002, 3, 10)), QualifiedDate("151", date(2002, 3, 12)))
    assert line.service_date == date(2002, 3, 10)
    assert line.adjustments == (Adjustment("PR", "1", Decimal("600")), Adjustment("CO", "45", Decimal("50")))


@needs_samples
def test_cob_sample_reads_negative_adjustment() -> None:
    remittance, _ = sample("cob-contractural-adjustment.835")
    line = remittance.claims[0].service_payments[0]
    assert line.procedure == Procedure("HC", "55669")
    assert line.adjustments == (Adjustment("OA", "23", Decimal("516")), Adjustment("OA", "94", Decimal("-9")))
    assert remittance.payee is not None
    assert remittance.payee.address == Address("3501 JOHNSON STREET", "", "SUNSHINE", "FL", "12345")
    assert remittance.payee.references == (Reference("PQ", "11861"),)


@needs_samples
def test_tertiary_sample_keeps_the_shifted_line() -> None:
    remittance, _ = sample("tertiary-payment.835")
    line = remittance.claims[0].service_payments[0]
    assert line.procedure == Procedure("HC", "")
    assert (line.charge, line.paid, line.revenue_code) == (Decimal("24599"), Decimal("1766.5"), "187.50")
    assert line.original_procedure == Procedure("1", "")


# ---------------------------------------------------------------------------------------------------------------
# The builders' valid 835


def test_valid_body_reads_without_issues_lenient_and_strict() -> None:
    remittance, document = read(*BODY_835)
    assert document.issues == []
    assert read(*BODY_835, strict=True)[1].issues == []
    assert remittance.control_number == "0001"
    assert remittance.payment_amount == Decimal("900")
    assert remittance.payment_date == date(2026, 1, 15)
    assert (remittance.trace_type, remittance.trace_number, remittance.originator_id) == ("1", "EFT0001", "1512345678")
    assert remittance.payer == Party(
        "PR", "ACME HEALTH PLAN", id_qualifier="XV", id="PAYER01",
        address=Address("1 PAYER WAY", "", "HARTFORD", "CT", "06101"),
        contacts=(Contact("BL", "CLAIMS", (("TE", "8005551212"),)),))
    claim = remittance.claims[0]
    assert claim.adjustments == (Adjustment("OA", "23", Decimal("100")),)
    line = claim.service_payments[0]
    assert line.procedure == Procedure("HC", "99213", ("25",))
    assert line.line_item_control_number == "LINE001"
    assert line.references == ()
    assert remittance.provider_adjustments == (
        ProviderAdjustment("1234567893", date(2026, 12, 31), "WO", "REF1", Decimal("50")),)


@pytest.mark.parametrize("status", ["1", "2", "3", "4", "19", "20", "21", "22", "23"])
def test_every_claim_status_is_accepted(status: str) -> None:
    body = replace(BODY_835, CLP1, f"CLP*PCN001*{status}*800*500*100*12*PAYER001*11*1")
    remittance, document = read(*body)
    assert document.issues == []
    assert remittance.claims[0].status == status
    assert remittance.claims[0].is_reversal == (status == "22")


def test_bad_amount_in_clp03_is_located() -> None:
    remittance, document = read(*replace(BODY_835, CLP1, "CLP*PCN001*1*80X0*500*100*12*PAYER001*11*1"))
    issue = document.issues[1]
    assert (issue.segment_index, issue.segment_id, issue.element, issue.code, issue.value) == (
        position(CLP1), "CLP", 3, "bad_number", "80X0")
    # The unreadable claim is reported, never half-posted: its line does not land on another claim.
    assert [claim.patient_control_number for claim in remittance.claims] == ["PCN002"]
    assert located(document) == [
        (position(0), "BPR", 2, "unbalanced", ERROR),
        (position(CLP1), "CLP", 3, "bad_number", ERROR),
        (position(SVC1), "SVC", None, "unexpected_segment", WARNING),
    ]


def test_undefined_claim_status_is_bad_code() -> None:
    _, document = read(*replace(BODY_835, CLP1, "CLP*PCN001*99*800*500*100*12*PAYER001*11*1"))
    assert (position(CLP1), "CLP", 2, "bad_code", ERROR) in located(document)
    assert [i.value for i in document.issues if i.code == "bad_code"] == ["99"]


def test_cas_with_six_triplets_and_quantities() -> None:
    body = replace(BODY_835, 17, "CAS*CO*45*10*1*253*20**A2*30*2*59*15**94*15*1.5*B7*10")
    remittance, document = read(*body)
    assert document.issues == []
    assert remittance.claims[0].service_payments[0].adjustments == (
        Adjustment("PR", "1", Decimal("100")),
        Adjustment("CO", "45", Decimal("10"), Decimal("1")),
        Adjustment("CO", "253", Decimal("20")),
        Adjustment("CO", "A2", Decimal("30"), Decimal("2")),
        Adjustment("CO", "59", Decimal("15")),
        Adjustment("CO", "94", Decimal("15"), Decimal("1.5")),
        Adjustment("CO", "B7", Decimal("10")),
    )


@pytest.mark.parametrize("strict", [False, True])
def test_cas_outside_a_claim_is_unexpected(strict: bool) -> None:
    remittance, document = read(*insert(BODY_835, OFFSET["LX"] + 1, "CAS*CO*45*10"), strict=strict)
    assert located(document) == [(position(OFFSET["LX"] + 1), "CAS", None, "unexpected_segment",
                                  ERROR if strict else WARNING)]
    assert remittance.claims[0].adjustments == (Adjustment("OA", "23", Decimal("100")),)


@pytest.mark.parametrize(("strict", "severity"), [(False, WARNING), (True, ERROR)])
def test_unknown_segment(strict: bool, severity: str) -> None:
    remittance, document = read(*insert(BODY_835, CLP1 + 1, "ZZZ*1*2"), strict=strict)
    assert located(document) == [(position(CLP1 + 1), "ZZZ", None, "unknown_segment", severity)]
    assert len(remittance.claims) == 2


def test_mia_and_moa_remark_codes_land_in_remarks() -> None:
    mia = "MIA*0***138.34*MA01" + "*" * 15 + "MA02*MA03*MA04*MA05"
    body = insert(BODY_835, CLP1 + 3, mia, "MOA*0.5*12*MA18*N1**N3*N4*10*20")
    remittance, document = read(*body)
    assert document.issues == []
    claim = remittance.claims[0]
    assert claim.inpatient[:5] == ("0", "", "", "138.34", "MA01") and claim.inpatient[19:] == (
        "MA02", "MA03", "MA04", "MA05")
    assert claim.outpatient == ("0.5", "12", "MA18", "N1", "", "N3", "N4", "10", "20")
    assert claim.remarks == tuple(Remark(code) for code in ("MA01", "MA02", "MA03", "MA04", "MA05", "MA18", "N1",
                                                            "N3", "N4"))
    assert read(*body, strict=True)[1].issues == []


def test_service_line_remarks_from_lq() -> None:
    body = insert(BODY_835, SVC1 + 6, "LQ*HE*M80", "LQ*RX*N123")
    remittance, document = read(*body)
    assert document.issues == []
    assert remittance.claims[0].service_payments[0].remarks == (Remark("M80"), Remark("N123", "RX"))


def test_revenue_code_lines() -> None:
    body = replace(BODY_835, SVC1, "SVC*NU:0450*800*600**1")
    body = replace(body, SVC2, "SVC*HC:99284*500*450*0450*2**1")
    remittance, document = read(*body)
    assert document.issues == []
    first, second = (claim.service_payments[0] for claim in remittance.claims)
    assert (first.procedure, first.revenue_code) == (Procedure("NU", "0450"), "")
    assert (second.procedure, second.revenue_code, second.units_paid, second.original_units) == (
        Procedure("HC", "99284"), "0450", Decimal("2"), Decimal("1"))


def test_original_procedure_and_description() -> None:
    body = replace(BODY_835, SVC1, "SVC*HC:99213:25:GT:::OFFICE VISIT*800*600**1*HC:99214:25*1")
    remittance, document = read(*body)
    assert document.issues == []
    line = remittance.claims[0].service_payments[0]
    assert line.procedure == Procedure("HC", "99213", ("25", "GT"), "OFFICE VISIT")
    assert line.original_procedure == Procedure("HC", "99214", ("25",))
    assert line.original_units == Decimal("1")


def test_plb_with_several_composites() -> None:
    plb = "PLB*1234567893*20261231*WO:REF1*50*L6:INT1*-12.50*FB:FORW2*20*72:AUTH3*-30*CS:ADJ4*10*J1*12.50"
    remittance, document = read(*replace(BODY_835, OFFSET["PLB"], plb))
    assert document.issues == []
    period = date(2026, 12, 31)
    assert remittance.provider_adjustments == (
        ProviderAdjustment("1234567893", period, "WO", "REF1", Decimal("50")),
        ProviderAdjustment("1234567893", period, "L6", "INT1", Decimal("-12.5")),
        ProviderAdjustment("1234567893", period, "FB", "FORW2", Decimal("20")),
        ProviderAdjustment("1234567893", period, "72", "AUTH3", Decimal("-30")),
        ProviderAdjustment("1234567893", period, "CS", "ADJ4", Decimal("10")),
        ProviderAdjustment("1234567893", period, "J1", "", Decimal("12.5")),
    )
    assert remittance.provider_adjustment_total == Decimal("50")


def test_plb_amount_missing_is_located() -> None:
    _, document = read(*replace(BODY_835, OFFSET["PLB"], "PLB*1234567893*20261231*WO:REF1*50*L6:INT1"))
    assert (position(OFFSET["PLB"]), "PLB", 6, "missing_element", ERROR) in located(document)


def test_claim_entities() -> None:
    entities = [
        "NM1*IL*1*DOE*JOHN*Q**JR*MI*SUB01",
        "NM1*74*1*DOE*JANE*M***C*NEWID01",
        "NM1*82*1*SMITH*JOHN****XX*1234567893",
        "NM1*TT*2*CROSSOVER PLAN*****PI*CROSS01",
        "NM1*PR*2*OTHER PAYER*****PI*OTH01",
    ]
    remittance, document = read(*insert(BODY_835, CLP1 + 3, *entities))
    assert document.issues == []
    claim = remittance.claims[0]
    assert [party.role for party in claim.entities] == ["QC", "IL", "74", "82", "TT", "PR"]
    assert claim.entity("IL") == Party("IL", "DOE", "JOHN", "Q", "JR", "1", "MI", "SUB01")
    assert claim.entity("74") == Party("74", "DOE", "JANE", "M", "", "1", "C", "NEWID01")
    assert claim.entity("82") == Party("82", "SMITH", "JOHN", "", "", "1", "XX", "1234567893")
    assert claim.entity("TT") == Party("TT", "CROSSOVER PLAN", entity_type="2", id_qualifier="PI", id="CROSS01")
    assert claim.entity("PR") == Party("PR", "OTHER PAYER", entity_type="2", id_qualifier="PI", id="OTH01")
    assert claim.entity("GB") is None


def test_claim_references_dates_contacts_amounts_quantities() -> None:
    extra = ["REF*1L*GROUP01", "REF*EA*MRN01", "DTM*050*20260110", "DTM*232*20260105",
             "PER*CX*CLAIMS DESK*TE*8005550000*EX*12", "AMT*AU*500", "AMT*I*3.25", "QTY*CA*2"]
    remittance, document = read(*insert(BODY_835, CLP1 + 3, *extra))
    assert document.issues == []
    claim = remittance.claims[0]
    assert claim.references == (Reference("1L", "GROUP01"), Reference("EA", "MRN01"))
    assert claim.dates == (QualifiedDate("050", date(2026, 1, 10)), QualifiedDate("232", date(2026, 1, 5)))
    assert claim.contacts == (Contact("CX", "CLAIMS DESK", (("TE", "8005550000"), ("EX", "12"))),)
    assert claim.amounts == (QualifiedAmount("AU", Decimal("500")), QualifiedAmount("I", Decimal("3.25")))
    assert claim.quantities == (QualifiedAmount("CA", Decimal("2")),)


def test_unbalanced_claim_is_located_at_its_clp() -> None:
    body = replace(BODY_835, CLP1, "CLP*PCN001*1*800*510*100*12*PAYER001*11*1")
    body = replace(body, 0, BODY_835[0].replace("*900*", "*910*"))
    remittance, document = read(*body)
    assert located(document) == [(position(CLP1), "CLP", None, "unbalanced", ERROR)]
    assert claim_imbalance(remittance.claims[0]) == Decimal("-10")
    assert remittance_imbalance(remittance) == 0


def test_unbalanced_service_line_is_located_at_its_svc() -> None:
    remittance, document = read(*replace(BODY_835, SVC1, "SVC*HC:99213:25*800*590**1"))
    assert located(document) == [(position(SVC1), "SVC", None, "unbalanced", ERROR)]
    assert service_imbalance(remittance.claims[0].service_payments[0]) == Decimal("10")


def test_unbalanced_payment_is_located_at_bpr02() -> None:
    remittance, document = read(*replace(BODY_835, 0, BODY_835[0].replace("*900*", "*901.25*")))
    assert located(document) == [(position(0), "BPR", 2, "unbalanced", ERROR)]
    assert remittance_imbalance(remittance) == Decimal("1.25")
    assert "difference 1.25" in document.issues[0].message


# Amounts that ``Decimal`` accepts but X12 never sends (and "1²", which str.isdigit passes and Decimal
# refuses); each must be a located bad_number, never a crash, never a value in a canonical record.
# (offset in BODY_835, the segment with {} for the value, element)
NON_FINITE_PLACES = [
    (0, BODY_835[0].replace("*900*", "*{}*"), 2),
    (CLP1, "CLP*PCN001*1*{}*500*100*12*PAYER001*11*1", 3),
    (CLP1, "CLP*PCN001*1*800*{}*100*12*PAYER001*11*1", 4),
    (CLP1, "CLP*PCN001*1*800*500*{}*12*PAYER001*11*1", 5),
    (CLP1 + 1, "CAS*OA*23*{}", 3),
    (SVC1, "SVC*HC:99213:25*{}*600**1", 2),
    (SVC1, "SVC*HC:99213:25*800*{}**1", 3),
    (SVC1, "SVC*HC:99213:25*800*600**{}", 5),
    (SVC1 + 2, "CAS*PR*1*{}", 3),
    (SVC1 + 2, "CAS*PR*1*100*{}", 4),
    (SVC1 + 5, "AMT*B6*{}", 2),
    (OFFSET["PLB"], "PLB*1234567893*20261231*WO:REF1*{}", 4),
]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN", "inf", "-nan", "1\u00b2"])
@pytest.mark.parametrize(("offset", "template", "element"), NON_FINITE_PLACES)
def test_non_finite_amounts_are_bad_numbers(offset: int, template: str, element: int, value: str) -> None:
    for strict in (False, True):
        remittance, document = read(*replace(BODY_835, offset, template.format(value)), strict=strict)
        bad = {(i.segment_index, i.segment_id, i.element) for i in document.issues if i.code == "bad_number"}
        assert bad == {(position(offset), template[:3], element)}
        assert all(issue.code in ISSUE_CODES for issue in document.issues)
        for claim in remittance.claims:
            amounts = (claim.charge, claim.paid, claim.patient_responsibility or ZERO)
            assert all(amount.is_finite() for amount in amounts)
            for line in claim.service_payments:
                assert all(amount.is_finite() for amount in (line.charge, line.paid, line.units_paid or ZERO))
                assert all(adj.amount.is_finite() and (adj.quantity or ZERO).is_finite() for adj in line.adjustments)


def test_infinite_charge_and_payment_are_located_at_their_claim() -> None:
    # Infinity - Infinity raises in Decimal; it used to surface at the next CLP and lose that claim.
    body = replace(BODY_835, CLP1, "CLP*PCN001*1*Infinity*Infinity*100*12*PAYER001*11*1")
    remittance, document = read(*body)
    assert [(i.segment_index, i.element) for i in document.issues if i.code == "bad_number"] == [
        (position(CLP1), 3), (position(CLP1), 4)]
    assert [claim.patient_control_number for claim in remittance.claims] == ["PCN002"]


@pytest.mark.parametrize(("drop", "seg_id", "at"), [
    ((0,), "BPR", 4),
    ((1,), "TRN", 4),
    ((4, 5, 6, 7), "N1", 24),  # missing parties are reported at the SE that ends the search
    ((8, 9), "N1", 26),
])
def test_missing_required_segments(drop: tuple[int, ...], seg_id: str, at: int) -> None:
    body = [segment for index, segment in enumerate(BODY_835) if index not in drop]
    _, document = read(*body)
    assert located(document) == [(at, seg_id, None, "missing_segment", ERROR)]


def test_reversal_and_correction_with_negative_amounts_balance() -> None:
    body = [
        *BODY_835[:10],
        "LX*1",
        "CLP*PCN001*22*-800*-500*-100*12*PAYER001*11*1",
        "CAS*OA*23*-100",
        "NM1*QC*1*DOE*JANE****MI*MEMBER01",
        "SVC*HC:99213:25*-800*-600**-1",
        "CAS*PR*1*-100",
        "CAS*CO*45*-100",
        "CLP*PCN001*1*800*500*100*12*PAYER001*11*1",
        "CAS*OA*23*100",
        "SVC*HC:99213:25*800*600**1",
        "CAS*PR*1*100",
        "CAS*CO*45*100",
        "CLP*PCN002*1*500*450**12*PAYER002*11*1",
        "CAS*CO*45*50",
        "PLB*1234567893*20261231*WO:REF1*50",
    ]
    body[0] = body[0].replace("*900*", "*400*")
    remittance, document = read(*body)
    assert document.issues == []
    reversal = remittance.claims[0]
    assert reversal.is_reversal
    assert (reversal.charge, reversal.paid, reversal.patient_responsibility) == (
        Decimal("-800"), Decimal("-500"), Decimal("-100"))
    assert reversal.service_payments[0].units_paid == Decimal("-1")
    assert claim_imbalance(reversal) == 0
    assert remittance.claim_payment_total == Decimal("450")
    assert remittance_imbalance(remittance) == 0


def test_header_references_and_production_date() -> None:
    body = insert(BODY_835, 3, "REF*F2*4010")
    remittance, document = read(*body)
    assert document.issues == []
    assert (remittance.receiver_id, remittance.version_id, remittance.production_date) == (
        "RECEIVER01", "4010", date(2026, 1, 14))


def test_bank_elements_without_trailing_empties() -> None:
    body = replace(BODY_835, 0, "BPR*I*900*C*CHK************20260115")
    remittance, document = read(*body)
    assert document.issues == []
    assert (remittance.sender_bank, remittance.receiver_bank, remittance.payment_format) == ((), (), "")
    body = replace(BODY_835, 0, "BPR*I*900*C*ACH*CCP*01*011000015*DA*123456789*1512345678****DA***20260115")
    remittance, _ = read(*body)
    assert remittance.sender_bank == ("01", "011000015", "DA", "123456789", "1512345678")
    assert remittance.receiver_bank == ("", "", "DA")

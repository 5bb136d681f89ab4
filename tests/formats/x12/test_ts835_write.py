"""The 835 writer: round trips of the samples and of random balanced remittances, and its choices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.money import total
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
    remittance_imbalance,
)
from rcmflow.formats.x12.issues import ERROR, WARNING
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.tokenizer import Delimiters
from rcmflow.formats.x12.ts835_write import (
    FUNCTIONAL_ID,
    IMPLEMENTATION,
    SERVICE_IDENTIFICATION,
    check_balanced,
    write_835,
    write_835_interchange,
)
from rcmflow.formats.x12.writing import CountingControlNumbers, WriteError
from rcmflow.formats.x12.writing import Party as EnvelopeParty
from tests.formats.x12.builders import BODY_835, SAMPLES, interchange

SAMPLE_DIR = SAMPLES / "835_005010X221A1"
SAMPLE_NAMES = sorted(path.name for path in SAMPLE_DIR.iterdir()) if SAMPLE_DIR.is_dir() else []
CREATED = datetime(2026, 1, 15, 9, 30)


def reread(segments: list[str], strict: bool = False) -> tuple[Remittance, list[tuple]]:
    """Wrap written segments in an envelope, parse them; the remittance and the issues, located."""
    document = parse(interchange(*segments), strict=strict)
    assert len(document.transactions) == 1
    issues = [(i.segment_index, i.segment_id, i.element, i.code, i.severity) for i in document.issues]
    return document.transactions[0].content, issues


def base() -> Remittance:
    """The builders' valid 835, read."""
    return parse(interchange(*BODY_835)).transactions[0].content


# ---------------------------------------------------------------------------------------------------------------
# Round trips of the public samples

# What the re-read written file still reports: only what the content itself carries.
REWRITTEN_ISSUES = {
    "cob-contractural-adjustment.835": [],
    "managed-care.835": [(4, "BPR", 16, "missing_element", WARNING)],  # its BPR16 was no date: None is written
    "medicare-part-a.835": [],
    "secondary-payment.835": [],
    "tertiary-payment.835": [(20, "SVC", 1, "missing_element", ERROR), (20, "SVC", 6, "missing_element", ERROR),
                             (20, "SVC", None, "unbalanced", ERROR)],
}


@pytest.mark.skipif(not SAMPLE_NAMES, reason="shared x12 samples are absent")
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_round_trip(name: str) -> None:
    original = parse(SAMPLE_DIR / name).transactions[0].content
    written = write_835(original, "9876")
    assert written[0] == f"ST*835*9876*{IMPLEMENTATION}"
    assert written[-1] == f"SE*{len(written)}*9876"
    again, issues = reread(written)
    assert again == original._replace(control_number="9876")
    assert issues == REWRITTEN_ISSUES[name]
    assert write_835(again, "9876") == written  # the writer is stable


@pytest.mark.skipif(not SAMPLE_NAMES, reason="shared x12 samples are absent")
def test_samples_in_one_interchange() -> None:
    originals = [parse(SAMPLE_DIR / name).transactions[0].content for name in SAMPLE_NAMES]
    text = write_835_interchange(originals, EnvelopeParty("PAYER01"), EnvelopeParty("1234567893", "XX"),
                                 CountingControlNumbers(41), created=CREATED, usage="T")
    document = parse(text.encode())
    assert document.envelope_issues == ()
    assert document.interchanges == 1
    (group,) = document.groups
    assert (group.functional_id, group.version, group.control_number, group.transaction_count) == (
        FUNCTIONAL_ID, IMPLEMENTATION, "41", len(originals))
    assert [tx.control_number for tx in document.transactions] == [f"{n:04d}" for n in range(41, 41 + len(originals))]
    assert [tx.interchange_control_number for tx in document.transactions] == ["000000041"] * len(originals)
    for tx, original in zip(document.transactions, originals, strict=True):
        assert tx.content == original._replace(control_number=tx.control_number)
    assert text.startswith("ISA*00*          *00*          *ZZ*PAYER01        *XX*1234567893     *260115*0930*^*"
                           "00501*000000041*0*T*:~\nGS*HP*PAYER01*1234567893*20260115*0930*41*X*005010X221A1~\n")


# ---------------------------------------------------------------------------------------------------------------
# The writer's choices


def test_writes_the_builders_835_back_verbatim() -> None:
    assert write_835(base()) == [f"ST*835*0001*{IMPLEMENTATION}", *BODY_835, f"SE*{len(BODY_835) + 2}*0001"]


def test_adjustments_of_one_group_share_cas_segments_of_six_triplets() -> None:
    co = [Adjustment("CO", reason, Decimal("1"), Decimal("2") if reason == "97" else None)
          for reason in ("45", "253", "A2", "59", "94", "B7", "97")]
    pr = [Adjustment("PR", "1", Decimal("3")), Adjustment("PR", "2", Decimal("4"))]
    line = ServicePayment(Procedure("HC", "99213"), Decimal("14"), Decimal("0"),
                          adjustments=(co[0], pr[0], *co[1:], pr[1]))
    claim = ClaimPayment("PCN1", "1", Decimal("14"), Decimal("0"), group_number="1", service_payments=(line,))
    remittance = base()._replace(groups=(ClaimGroup("1"),), claims=(claim,), provider_adjustments=(),
                                 payment_amount=Decimal("0"))
    written = write_835(remittance)
    assert [segment for segment in written if segment.startswith("CAS")] == [
        "CAS*CO*45*1**253*1**A2*1**59*1**94*1**B7*1",
        "CAS*CO*97*1*2",
        "CAS*PR*1*3**2*4",
    ]
    again, issues = reread(written)
    assert issues == []
    assert again.claims[0].service_payments[0].adjustments == (*co, *pr)  # grouped, each group in order


def test_provider_adjustments_share_plb_segments_per_provider_and_period() -> None:
    end, mid = date(2026, 12, 31), date(2026, 6, 30)
    plbs = [ProviderAdjustment("1234567893", end, reason, f"R{n}", Decimal(n))
            for n, reason in enumerate(("WO", "L6", "FB", "72", "CS", "J1", "WO"), start=1)]
    other = ProviderAdjustment("1234567893", mid, "90", "", Decimal("-5"))
    third = ProviderAdjustment("1999999976", end, "CS", "X", Decimal("0.5"))
    remittance = base()._replace(provider_adjustments=(plbs[0], other, *plbs[1:], third))
    written = write_835(remittance)
    assert [segment for segment in written if segment.startswith("PLB")] == [
        "PLB*1234567893*20261231*WO:R1*1*L6:R2*2*FB:R3*3*72:R4*4*CS:R5*5*J1:R6*6",
        "PLB*1234567893*20261231*WO:R7*7",
        "PLB*1234567893*20260630*90*-5",
        "PLB*1999999976*20261231*CS:X*0.5",
    ]
    again, _ = reread(written)
    assert again.provider_adjustments == (*plbs, other, third)


def test_claims_are_written_under_their_groups_in_group_order() -> None:
    remittance = base()
    first, second = remittance.claims
    grouped = remittance._replace(
        groups=(ClaimGroup("7", ("1234567893", "11", "20261231", "2", "1300")), ClaimGroup("3"), ClaimGroup("9")),
        claims=(second._replace(group_number="3"), first._replace(group_number="7")),
    )
    written = write_835(grouped)
    assert [segment[:9] for segment in written if segment[:3] in ("LX*", "TS3", "CLP")] == [
        "LX*7", "TS3*12345", "CLP*PCN00", "LX*3", "CLP*PCN00", "LX*9"]
    again, issues = reread(written)
    assert issues == []
    assert [(claim.patient_control_number, claim.group_number) for claim in again.claims] == [
        ("PCN001", "7"), ("PCN002", "3")]
    assert again.groups == grouped.groups


def test_claim_in_an_unknown_group_is_refused() -> None:
    remittance = base()
    claims = (remittance.claims[0]._replace(group_number="5"),)
    with pytest.raises(WriteError, match="names LX group '5'"):
        write_835(remittance._replace(claims=claims))


def test_claims_read_before_any_lx_are_written_before_it() -> None:
    remittance = base()
    claims = (remittance.claims[0]._replace(group_number=""), remittance.claims[1])
    again, issues = reread(write_835(remittance._replace(claims=claims)))
    assert issues == []
    assert again.claims == claims


def test_remarks_without_mia_or_moa_get_a_moa() -> None:
    remittance = base()
    claim = remittance.claims[0]._replace(remarks=(Remark("MA01"), Remark("N30")))
    written = write_835(remittance._replace(claims=(claim, remittance.claims[1])))
    assert "MOA***MA01*N30" in written
    again, _ = reread(written)
    assert again.claims[0].remarks == (Remark("MA01"), Remark("N30"))
    assert again.claims[0].outpatient == ("", "", "MA01", "N30")


def test_remarks_that_contradict_moa_are_refused() -> None:
    remittance = base()
    claim = remittance.claims[0]._replace(outpatient=("", "", "MA02"), remarks=(Remark("MA01"),))
    with pytest.raises(WriteError, match="MIA/MOA"):
        write_835(remittance._replace(claims=(claim,)))


def test_service_line_composites_references_and_remarks() -> None:
    line = ServicePayment(
        Procedure("HC", "99213", ("25", "GT"), "OFFICE VISIT"), Decimal("100"), Decimal("100"),
        revenue_code="0510", units_paid=Decimal("1.5"), original_procedure=Procedure("HC", "99214"),
        original_units=Decimal("2"), line_item_control_number="LINE9",
        references=(Reference("HPI", "1234567893"), Reference("LU", "LOC1"), Reference("0K", "POL1")),
        remarks=(Remark("M80"), Remark("N123", "RX")))
    claim = ClaimPayment("PCN1", "1", Decimal("100"), Decimal("100"), group_number="1", service_payments=(line,))
    remittance = base()._replace(claims=(claim,), provider_adjustments=(), payment_amount=Decimal("100"))
    written = write_835(remittance)
    start = written.index("SVC*HC:99213:25:GT:::OFFICE VISIT*100*100*0510*1.5*HC:99214*2")
    assert written[start + 1 : start + 7] == ["REF*LU*LOC1", "REF*6R*LINE9", "REF*HPI*1234567893", "REF*0K*POL1",
                                              "LQ*HE*M80", "LQ*RX*N123"]
    again, issues = reread(written)
    assert issues == []
    reread_line = again.claims[0].service_payments[0]
    assert reread_line == line._replace(references=(Reference("LU", "LOC1"), Reference("HPI", "1234567893"),
                                                    Reference("0K", "POL1")))
    assert "LU" in SERVICE_IDENTIFICATION


def test_custom_delimiters() -> None:
    delimiters = Delimiters("|", "}", "!", "\n")
    text = write_835_interchange([base()], EnvelopeParty("PAYER01"), EnvelopeParty("PROVIDER"),
                                 CountingControlNumbers(), created=CREATED, delimiters=delimiters, line_breaks=False)
    assert "\nSVC|HC}99213}25|800|600||1\n" in text
    document = parse(text.encode())
    assert document.issues == []
    assert document.transactions[0].content == base()


@pytest.mark.parametrize(("change", "message"), [
    ({"payment_amount": Decimal("NaN")}, "not a finite amount"),
    ({"trace_number": "EFT*1"}, "contains the delimiter"),
    ({"control_number": "12"}, "4 to 9 characters"),
    ({"sender_bank": ("01",) * 7}, "at most 6"),
    ({"groups": (ClaimGroup(""),)}, "LX01"),
])
def test_refuses_what_x12_cannot_carry(change: dict, message: str) -> None:
    with pytest.raises(WriteError, match=message):
        write_835(base()._replace(**change))


def test_optional_parts_are_left_out() -> None:
    remittance = base()._replace(production_date=None, receiver_id="", claims=(), payer=None)
    written = write_835(remittance)
    assert [segment.split("*", 1)[0] for segment in written] == ["ST", "BPR", "TRN", "N1", "REF", "LX", "PLB", "SE"]
    _, issues = reread(written)
    assert issues == [(4, "BPR", 2, "unbalanced", ERROR), (10, "N1", None, "missing_segment", ERROR)]  # at SE


def test_refuses_dates_with_periods_and_bad_records() -> None:
    remittance = base()
    claim = remittance.claims[0]
    cases = [
        claim._replace(dates=(QualifiedDate("232", date(2026, 1, 1), date(2026, 1, 2)),)),
        claim._replace(adjustments=(Adjustment("CO", "", Decimal("1")),)),
        claim._replace(contacts=(Contact("CX", "A", (("TE", "1"),) * 4),)),
        claim._replace(service_payments=(claim.service_payments[0]._replace(
            procedure=Procedure("HC", "99213", ("1", "2", "3", "4", "5"))),)),
    ]
    line = claim.service_payments[0]
    cases.append(claim._replace(service_payments=(line._replace(references=(Reference("6R", "X"),)),)))
    for bad in cases:
        with pytest.raises(WriteError):
            write_835(remittance._replace(claims=(bad,)))
    assert remittance.payer is not None
    with pytest.raises(WriteError, match="payer must have role 'PR'"):
        write_835(remittance._replace(payer=remittance.payer._replace(role="PE")))


def test_require_balanced() -> None:
    remittance = base()
    assert write_835(remittance, require_balanced=True) == write_835(remittance)
    with pytest.raises(WriteError, match="difference 1"):
        write_835(remittance._replace(payment_amount=Decimal("901")), require_balanced=True)
    claim = remittance.claims[1]._replace(paid=Decimal("449"))
    with pytest.raises(WriteError, match="claim 'PCN002'"):
        check_balanced(remittance._replace(claims=(remittance.claims[0], claim)))
    line = claim.service_payments[0]._replace(paid=Decimal("1"))
    with pytest.raises(WriteError, match="service line '99214'"):
        check_balanced(remittance._replace(claims=(claim._replace(service_payments=(line,)),)))


# ---------------------------------------------------------------------------------------------------------------
# Property: random balanced remittances survive write -> parse unchanged and without any issue, even strict.

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ids = st.text(UPPER + DIGITS, min_size=2, max_size=12)
digits = st.text(DIGITS, min_size=4, max_size=12)
names = st.builds(lambda head, tail: (head + tail).strip(), st.sampled_from(UPPER),
                  st.text(UPPER + DIGITS + " &-", max_size=20))
cents = st.integers(min_value=-500_000, max_value=5_000_000)
positive_cents = st.integers(min_value=0, max_value=5_000_000)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
quantities = st.builds(lambda n: Decimal(n).scaleb(-1), st.integers(min_value=-99, max_value=999))


def money(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


def dated(qualifier: str, value: date) -> QualifiedDate:
    return QualifiedDate(qualifier, value)


def grouped_by(items: list, key) -> tuple:  # noqa: ANN001 - a test helper
    """Items reordered as the writer groups them: by key in order of first appearance, stable."""
    order: dict = {}
    for item in items:
        order.setdefault(key(item), len(order))
    return tuple(sorted(items, key=lambda item: order[key(item)]))


adjustments = st.lists(
    st.builds(Adjustment, st.sampled_from(["CO", "PR", "OA", "PI", "CR"]),
              st.sampled_from(["1", "2", "3", "23", "45", "94", "253", "A2", "B7"]),
              cents.map(money), st.none() | quantities),
    max_size=8,
).map(lambda items: grouped_by(items, lambda adj: adj.group))

addresses = st.none() | st.builds(Address, names, st.just("") | names, names, st.sampled_from(["CT", "NY", "TX"]),
                                  st.text(DIGITS, min_size=5, max_size=9), st.just("") | st.just("US"))
contacts = st.builds(Contact, st.sampled_from(["CX", "BL", "IC"]), st.just("") | names,
                     st.lists(st.tuples(st.sampled_from(["TE", "EM", "FX", "EX"]), digits), min_size=1, max_size=3)
                     .map(tuple))
references = st.builds(Reference, st.sampled_from(["2U", "EO", "HI", "NF", "TJ", "PQ", "0B", "D3"]), ids)


@st.composite
def procedures(draw: st.DrawFn) -> Procedure:
    return Procedure(draw(st.sampled_from(["HC", "NU", "AD", "ER", "IV", "WK"])), draw(ids),
                     tuple(draw(st.lists(st.text(UPPER + DIGITS, min_size=2, max_size=2), max_size=4))),
                     draw(st.just("") | names))


@st.composite
def service_payments(draw: st.DrawFn) -> ServicePayment:
    charge = money(draw(positive_cents))
    adjusted = draw(adjustments)
    refs = draw(st.lists(st.builds(Reference, st.sampled_from(["LU", "G1", "BB", "HPI", "0B", "1A", "0K"]), ids),
                         max_size=3))
    return ServicePayment(
        procedure=draw(procedures()),
        charge=charge,
        paid=charge - total(adj.amount for adj in adjusted),
        revenue_code=draw(st.just("") | st.text(DIGITS, min_size=4, max_size=4)),
        units_paid=draw(st.none() | quantities),
        original_procedure=draw(st.none() | procedures()),
        original_units=draw(st.none() | quantities),
        dates=tuple(draw(st.lists(st.builds(dated, st.sampled_from(["472", "150", "151"]), days),
                                  max_size=2))),
        adjustments=adjusted,
        line_item_control_number=draw(st.just("") | ids),
        references=tuple(sorted(refs, key=lambda ref: ref.qualifier not in SERVICE_IDENTIFICATION)),  # as written
        amounts=tuple(draw(st.lists(st.builds(QualifiedAmount, st.sampled_from(["B6", "KH", "T", "T2", "ZK"]),
                                              cents.map(money)), max_size=2))),
        quantities=tuple(draw(st.lists(st.builds(QualifiedAmount, st.sampled_from(["ZK", "ZL"]), quantities),
                                       max_size=1))),
        remarks=tuple(draw(st.lists(st.builds(Remark, ids, st.sampled_from(["HE", "RX"])), max_size=2))),
    )


entities = st.builds(
    lambda role, kind, name, first, middle, suffix, qualifier, ident: Party(
        role, name, first if kind == "1" else "", middle if kind == "1" else "", suffix if kind == "1" else "",
        kind, qualifier, ident),
    st.sampled_from(["QC", "IL", "74", "82", "TT", "PR", "GB"]), st.sampled_from(["1", "2"]), names,
    st.just("") | names.map(lambda text: text[:20]), st.just("") | st.sampled_from(["Q", "M"]),
    st.just("") | st.sampled_from(["JR", "SR", "III"]), st.sampled_from(["MI", "XX", "PI", "HN", "C"]), ids)


@st.composite
def adjudication(draw: st.DrawFn) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Remark, ...]]:
    """MIA and MOA elements as a payer sends them, with the remarks they carry."""
    codes = st.sampled_from(["MA01", "MA02", "MA18", "N1", "N30", "M15"])
    inpatient: tuple[str, ...] = ()
    outpatient: tuple[str, ...] = ()
    remarks: list[str] = []
    if draw(st.booleans()):
        code = draw(st.just("") | codes)
        inpatient = ("0", "", "", "138.34", code) if code else ("0", "", "", "138.34")
        remarks += [code] if code else []
    if draw(st.booleans()):
        moa_codes = draw(st.lists(codes, min_size=1, max_size=5))
        outpatient = (draw(st.just("") | st.just("0.2")), "", *moa_codes)
        remarks += moa_codes
    return inpatient, outpatient, tuple(Remark(code) for code in remarks)


@st.composite
def claims(draw: st.DrawFn, group_number: str) -> ClaimPayment:
    lines = tuple(draw(st.lists(service_payments(), max_size=3)))
    claim_adjustments = draw(adjustments)
    charge = total(line.charge for line in lines) if lines else money(draw(positive_cents))
    adjusted = total(adj.amount for adj in claim_adjustments)
    adjusted += total(adj.amount for line in lines for adj in line.adjustments)
    inpatient, outpatient, remarks = draw(adjudication())
    return ClaimPayment(
        patient_control_number=draw(ids),
        status=draw(st.sampled_from(["1", "2", "3", "4", "19", "20", "21", "22", "23", "25"])),
        charge=charge,
        paid=charge - adjusted,
        patient_responsibility=draw(st.none() | positive_cents.map(money)),
        filing_indicator=draw(st.sampled_from(["", "12", "MA", "MB", "CI"])),
        payer_claim_control_number=draw(st.just("") | ids),
        facility_type=draw(st.just("") | st.sampled_from(["11", "13", "21"])),
        frequency=draw(st.just("") | st.sampled_from(["1", "7", "8"])),
        drg_code=draw(st.just("") | st.text(DIGITS, min_size=3, max_size=3)),
        drg_weight=draw(st.none() | quantities.map(abs)),
        discharge_fraction=draw(st.none() | st.just(Decimal("0.5"))),
        group_number=group_number,
        entities=tuple(draw(st.lists(entities, max_size=3))),
        inpatient=inpatient,
        outpatient=outpatient,
        adjustments=claim_adjustments,
        remarks=remarks,
        references=tuple(draw(st.lists(references, max_size=2))),
        dates=tuple(draw(st.lists(st.builds(dated, st.sampled_from(["050", "232", "233", "036"]), days),
                                  max_size=2))),
        contacts=tuple(draw(st.lists(contacts, max_size=1))),
        amounts=tuple(draw(st.lists(st.builds(QualifiedAmount, st.sampled_from(["AU", "D8", "I", "T", "ZK"]),
                                              cents.map(money)), max_size=2))),
        quantities=tuple(draw(st.lists(st.builds(QualifiedAmount, st.sampled_from(["CA", "CD", "LA"]), quantities),
                                       max_size=1))),
        service_payments=lines,
    )


@st.composite
def remittances(draw: st.DrawFn) -> Remittance:
    groups = []
    all_claims: list[ClaimPayment] = []
    for number in range(1, draw(st.integers(min_value=1, max_value=3)) + 1):
        summary = draw(st.just(()) | st.tuples(st.just("1234567893"), st.just("11"), st.just("20261231"),
                                               st.just("2"), positive_cents.map(lambda c: str(money(c)))))
        groups.append(ClaimGroup(str(number), summary, draw(st.just(()) | st.just(("10.5", "", "3")))))
        all_claims += draw(st.lists(claims(str(number)), max_size=3))
    plbs = draw(st.lists(st.builds(
        ProviderAdjustment, st.sampled_from(["1234567893", "1999999976"]),
        st.sampled_from([date(2026, 12, 31), date(2026, 6, 30)]),
        st.sampled_from(["WO", "L6", "FB", "72", "CS", "J1", "50", "90"]), st.just("") | ids, cents.map(money)),
        max_size=8))
    provider_adjustments = grouped_by(plbs, lambda plb: (plb.provider_id, plb.fiscal_period_date))
    paid = total(claim.paid for claim in all_claims) - total(plb.amount for plb in plbs)
    method = draw(st.sampled_from(["ACH", "CHK", "BOP", "FWT", "NON"]))
    electronic = method in ("ACH", "BOP", "FWT")
    return Remittance(
        control_number="0001",
        transaction_handling=draw(st.sampled_from(["C", "D", "H", "I", "P", "U", "X"])),
        payment_amount=paid,
        credit_debit=draw(st.sampled_from(["C", "D"])),
        payment_method=method,
        payment_date=draw(days),
        trace_type="1",
        trace_number=draw(ids),
        originator_id=draw(st.just("") | st.text(DIGITS, min_size=10, max_size=10)),
        originator_supplemental=draw(st.just("") | ids),
        payment_format=draw(st.sampled_from(["CCP", "CTX"])) if electronic else "",
        sender_bank=("01", draw(st.text(DIGITS, min_size=9, max_size=9)), "DA", draw(digits), "1512345678")
        if electronic else (),
        receiver_bank=("01", draw(st.text(DIGITS, min_size=9, max_size=9)), "DA", draw(digits)) if electronic else (),
        receiver_id=draw(st.just("") | ids),
        version_id=draw(st.just("") | st.just("4010")),
        production_date=draw(st.none() | days),
        payer=Party("PR", draw(names), id_qualifier=draw(st.sampled_from(["", "XV"])), id=draw(ids),
                    address=draw(addresses), references=tuple(draw(st.lists(references, max_size=2))),
                    contacts=tuple(draw(st.lists(contacts, max_size=2)))),
        payee=Party("PE", draw(names), id_qualifier="XX", id="1234567893", address=draw(addresses),
                    references=tuple(draw(st.lists(references, max_size=2)))),
        groups=tuple(groups),
        claims=tuple(all_claims),
        provider_adjustments=provider_adjustments,
    )


@settings(max_examples=60, deadline=None)
@given(remittances())
def test_random_balanced_remittances_round_trip(remittance: Remittance) -> None:
    assert remittance_imbalance(remittance) == 0
    written = write_835(remittance, require_balanced=True)
    for strict in (False, True):
        again, issues = reread(written, strict=strict)
        assert issues == []
        assert again == remittance

"""Posting rules: what each kind of claim payment does to the claim and the ledger, and where PLB amounts go."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from rcmflow.domain.ledger import JournalEntryDraft, JournalLine, check_balanced, load_chart
from rcmflow.domain.parties import Party
from rcmflow.domain.posting import (
    PaymentFacts,
    claim_payment_entry,
    classify,
    load_plb_accounts,
    parse_plb_accounts,
    payment_facts,
    provider_adjustment_entry,
    unapplied_entry,
)
from rcmflow.domain.remittance import (
    Adjustment,
    ClaimPayment,
    Procedure,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
    claim_imbalance,
    remittance_imbalance,
)
from rcmflow.errors import ConfigurationError, InputError

D = Decimal
DAY = date(2026, 3, 2)
PLB = load_plb_accounts()


def facts(charge: str, paid: str, *adjustments: tuple[str, str, str], status: str = "1", cp_id: int = 7,
          crossover: str | None = None) -> PaymentFacts:
    return PaymentFacts(cp_id, 3, "PAYER1", status, "PCN1", D(charge), D(paid),
                        tuple(Adjustment(g, r, D(a)) for g, r, a in adjustments), DAY, crossover_payer=crossover)


def lines_of(entry: JournalEntryDraft | None) -> set[tuple[str, str, str]]:
    """(account, side, amount) of each line: what a reader of the ledger sees."""
    assert entry is not None
    check_balanced(entry)
    return {(line.account, "DR" if line.debit else "CR", str(line.debit or line.credit)) for line in entry.lines}


def service(charge: str, paid: str, *adjustments: tuple[str, str, str]) -> ServicePayment:
    return ServicePayment(Procedure("HC", "99213"), D(charge), D(paid),
                          adjustments=tuple(Adjustment(g, r, D(a)) for g, r, a in adjustments))


# ---- classify and claim payment entries ------------------------------------------------------------------

def test_a_paid_claim_moves_insurance_ar_to_cash_allowance_and_patient() -> None:
    paid = facts("200.00", "120.00", ("CO", "45", "50.00"), ("PR", "2", "30.00"))
    outcome = classify(paid)
    assert (outcome.kind, outcome.claim_state) == ("paid", "paid")
    assert (outcome.contractual, outcome.patient_responsibility, outcome.other_adjustments, outcome.denied) == (
        D("50.00"), D("30.00"), 0, 0)
    assert outcome.patient_by_reason == {"deductible": 0, "coinsurance": D("30.00"), "copay": 0, "other": 0}
    assert outcome.denial_category is None and outcome.denial_reasons == () and not outcome.forwarded

    entry = claim_payment_entry(paid, outcome)
    assert lines_of(entry) == {("undeposited_funds", "DR", "120.00"), ("contractual_allowances", "DR", "50.00"),
                               ("ar_patient", "DR", "30.00"), ("ar_insurance", "CR", "200.00")}
    assert entry is not None
    assert (entry.journal, entry.source_type, entry.source_id, entry.idempotency_key, entry.posting_date) == (
        "era", "claim payment", "7", "claim-payment:7", DAY)
    assert "PCN1" in entry.description and "PAYER1" in entry.description
    ar_line = next(line for line in entry.lines if line.account == "ar_insurance")
    assert ar_line.memo == "payment, contractual adjustment, patient responsibility"


def test_entries_of_the_same_amounts_in_other_digits_are_the_same_lines_to_the_cent() -> None:
    """Journal lines are made once per (account, amount, memo) and shared between entries: 120, 120.0 and
    120.00 are one line, kept to the cent, whichever came first; a sub-cent amount is still refused."""
    from rcmflow.domain.ledger import InvalidLineError

    entries = [claim_payment_entry(paid, classify(paid)) for paid in (
        facts("200", "120", ("CO", "45", "50.0"), ("PR", "2", "30")),
        facts("200.00", "120.00", ("CO", "45", "50.00"), ("PR", "2", "30.00"), cp_id=8))]
    assert entries[0] is not None and entries[1] is not None
    assert entries[0].lines == entries[1].lines
    assert [(str(line.debit), str(line.credit)) for line in entries[0].lines] == [
        ("120.00", "0.00"), ("50.00", "0.00"), ("30.00", "0.00"), ("0.00", "200.00")]
    with pytest.raises(InvalidLineError, match="fractions of a cent"):
        claim_payment_entry(facts("200.00", "120.005", ("CO", "45", "79.995")),
                            classify(facts("200.00", "120.005", ("CO", "45", "79.995"))))


def test_patient_responsibility_splits_into_deductible_coinsurance_copay_and_other() -> None:
    split = facts("400.00", "100.00", ("CO", "45", "60.00"), ("PR", "1", "60.00"), ("PR", "1", "40.00"),
                  ("PR", "2", "25.00"), ("PR", "3", "15.00"), ("PR", "204", "100.00"))
    outcome = classify(split)
    assert outcome.patient_by_reason == {"deductible": D("100.00"), "coinsurance": D("25.00"),
                                         "copay": D("15.00"), "other": D("100.00")}
    assert outcome.patient_responsibility == D("240.00")
    assert outcome.kind == "paid"  # PR-204 is the patient's bill, not a denial to work
    assert lines_of(claim_payment_entry(split, outcome)) == {
        ("undeposited_funds", "DR", "100.00"), ("contractual_allowances", "DR", "60.00"),
        ("ar_patient", "DR", "240.00"), ("ar_insurance", "CR", "400.00")}


def test_a_full_denial_has_no_financial_effect_and_names_its_category() -> None:
    denial = facts("500.00", "0", ("CO", "50", "500.00"), status="4")
    outcome = classify(denial)
    assert (outcome.kind, outcome.claim_state) == ("denied", "denied")
    assert outcome.denied == D("500.00") and outcome.contractual == 0
    assert outcome.denial_reasons == ("50",)
    assert outcome.denial_category == "medical necessity"
    assert claim_payment_entry(denial, outcome) is None  # the charge stays in insurance A/R for the specialist


def test_a_zero_pay_denial_with_patient_responsibility_moves_it_to_the_patient() -> None:
    denial = facts("150.00", "0", ("PR", "204", "150.00"), status="4")
    outcome = classify(denial)
    assert (outcome.kind, outcome.claim_state) == ("denied", "denied")
    assert outcome.denied == 0 and outcome.patient_by_reason["other"] == D("150.00")
    assert outcome.denial_reasons == ("204",) and outcome.denial_category == "non-covered"
    assert lines_of(claim_payment_entry(denial, outcome)) == {("ar_patient", "DR", "150.00"),
                                                              ("ar_insurance", "CR", "150.00")}


def test_on_a_status_4_claim_an_unknown_code_is_denied_not_written_off() -> None:
    denial = facts("80.00", "0", ("CO", "999", "60.00"), ("CO", "45", "20.00"), status="4")
    outcome = classify(denial)
    assert (outcome.kind, outcome.denial_category, outcome.denial_reasons) == ("denied", "other", ("999",))
    assert (outcome.denied, outcome.contractual) == (D("60.00"), D("20.00"))
    assert lines_of(claim_payment_entry(denial, outcome)) == {("contractual_allowances", "DR", "20.00"),
                                                              ("ar_insurance", "CR", "20.00")}
    # The same unknown code on a paid claim is an ordinary adjustment.
    assert classify(facts("80.00", "20.00", ("CO", "999", "60.00"))).contractual == D("60.00")


def test_status_4_with_only_uncategorised_patient_codes_is_a_denial_of_category_other() -> None:
    outcome = classify(facts("80.00", "0", ("PR", "999", "80.00"), status="4"))
    assert (outcome.kind, outcome.denial_category, outcome.denial_reasons) == ("denied", "other", ("999",))
    assert outcome.patient_responsibility == D("80.00")


def test_zero_pay_with_a_denial_code_is_denied_whatever_the_status() -> None:
    outcome = classify(facts("100.00", "0", ("CO", "16", "30.00"), ("CO", "50", "70.00")))
    assert (outcome.kind, outcome.claim_state) == ("denied", "denied")
    assert outcome.denial_reasons == ("16", "50")
    assert outcome.denial_category == "medical necessity"  # the largest denied amount decides
    tie = classify(facts("100.00", "0", ("CO", "16", "50.00"), ("CO", "50", "50.00")))
    assert tie.denial_category == "missing information"  # ties: the first


def test_a_line_denial_inside_a_paid_claim_is_a_partial_payment() -> None:
    clp = ClaimPayment("PCN9", "1", D("300.00"), D("150.00"), service_payments=(
        service("200.00", "150.00", ("CO", "45", "50.00")),
        service("100.00", "0", ("CO", "97", "100.00"))))
    assert claim_imbalance(clp) == 0
    paid = payment_facts(clp, claim_payment_id=8, remittance_id=3, payer_id="PAYER1", posting_date=DAY)
    outcome = classify(paid)
    assert (outcome.kind, outcome.claim_state) == ("partially paid", "partially paid")
    assert (outcome.contractual, outcome.denied) == (D("50.00"), D("100.00"))
    assert (outcome.denial_reasons, outcome.denial_category) == (("97",), "bundling")
    # The bundled line's 100.00 stays in insurance A/R: only 200.00 leaves it.
    assert lines_of(claim_payment_entry(paid, outcome)) == {
        ("undeposited_funds", "DR", "150.00"), ("contractual_allowances", "DR", "50.00"),
        ("ar_insurance", "CR", "200.00")}


def test_a_reversal_mirrors_the_original_entry_exactly() -> None:
    original = facts("200.00", "120.00", ("CO", "45", "50.00"), ("PR", "2", "30.00"), ("OA", "94", "-5.00"),
                     ("CO", "97", "5.00"), cp_id=7)
    reversal = facts("-200.00", "-120.00", ("CO", "45", "-50.00"), ("PR", "2", "-30.00"), ("OA", "94", "5.00"),
                     ("CO", "97", "-5.00"), status="22", cp_id=9, crossover="MEDIGAP1")
    outcome = classify(reversal)
    assert (outcome.kind, outcome.claim_state) == ("reversal", "adjudicated")
    assert outcome.denial_category is None  # the corrected payment decides; a reversal opens no denial
    assert not outcome.forwarded  # nor secondary billing

    posted = claim_payment_entry(original, classify(original))
    taken_back = claim_payment_entry(reversal, outcome)
    assert posted is not None and taken_back is not None
    assert taken_back.lines == tuple(line.mirrored() for line in posted.lines)
    assert lines_of(taken_back) == {("undeposited_funds", "CR", "120.00"), ("contractual_allowances", "CR", "50.00"),
                                    ("ar_patient", "CR", "30.00"), ("administrative_adjustments", "DR", "5.00"),
                                    ("ar_insurance", "DR", "195.00")}
    assert taken_back.idempotency_key == "claim-payment:9"


def test_a_negative_adjustment_in_a_paid_claim_flips_its_side() -> None:
    over = facts("100.00", "110.00", ("CO", "94", "-10.00"))  # processed in excess of charges
    outcome = classify(over)
    assert (outcome.kind, outcome.contractual) == ("paid", D("-10.00"))
    assert lines_of(claim_payment_entry(over, outcome)) == {
        ("undeposited_funds", "DR", "110.00"), ("contractual_allowances", "CR", "10.00"),
        ("ar_insurance", "CR", "100.00")}


def test_components_that_cancel_in_insurance_ar_post_without_an_ar_line() -> None:
    odd = facts("0", "10.00", ("OA", "94", "-10.00"))
    assert lines_of(claim_payment_entry(odd, classify(odd))) == {("undeposited_funds", "DR", "10.00"),
                                                                  ("administrative_adjustments", "CR", "10.00")}


def test_oa_23_on_a_secondary_claim_is_an_adjustment_not_a_denial() -> None:
    secondary = facts("200.00", "30.00", ("OA", "23", "150.00"), ("PR", "2", "20.00"), status="2")
    outcome = classify(secondary)
    assert (outcome.kind, outcome.other_adjustments, outcome.denied, outcome.denial_category) == (
        "paid", D("150.00"), 0, None)
    assert lines_of(claim_payment_entry(secondary, outcome)) == {
        ("undeposited_funds", "DR", "30.00"), ("ar_patient", "DR", "20.00"),
        ("administrative_adjustments", "DR", "150.00"), ("ar_insurance", "CR", "200.00")}


def test_no_payment_settles_the_claim_only_when_the_adjustments_account_for_the_charge() -> None:
    deductible = facts("100.00", "0", ("CO", "45", "20.00"), ("PR", "1", "80.00"))
    outcome = classify(deductible)
    assert (outcome.kind, outcome.claim_state, outcome.denial_category) == ("no payment", "paid", None)
    assert lines_of(claim_payment_entry(deductible, outcome)) == {
        ("contractual_allowances", "DR", "20.00"), ("ar_patient", "DR", "80.00"), ("ar_insurance", "CR", "100.00")}
    prior_payer_paid = classify(facts("100.00", "0", ("OA", "23", "100.00"), status="2"))
    assert (prior_payer_paid.kind, prior_payer_paid.claim_state) == ("no payment", "paid")
    short = classify(facts("100.00", "0", ("PR", "1", "50.00")))  # half the charge unexplained
    assert (short.kind, short.claim_state) == ("no payment", None)
    estimate = classify(facts("100.00", "0", ("CO", "45", "100.00"), status="25"))  # predetermination only
    assert (estimate.kind, estimate.claim_state) == ("no payment", None)


@pytest.mark.parametrize(("status", "crossover", "forwarded"), [
    ("19", None, True), ("20", None, True), ("21", None, True), ("23", None, True),
    ("1", "MEDIGAP PLAN", True), ("1", None, False), ("2", "", False)])
def test_forwarded_claims_leave_secondary_billing_to_the_payer(status: str, crossover: str | None,
                                                              forwarded: bool) -> None:
    outcome = classify(facts("100.00", "80.00", ("CO", "45", "20.00"), status=status, crossover=crossover))
    assert outcome.forwarded is forwarded
    assert outcome.kind == "paid"


def test_payment_facts_gather_claim_and_line_adjustments_and_the_crossover_payer() -> None:
    clp = ClaimPayment("PCN2", "19", D("100.00"), D("70.00"), adjustments=(Adjustment("PR", "1", D("10.00")),),
                       entities=(Party("TT", name="MEDIGAP PLAN", id_qualifier="PI", id="MG01"),),
                       service_payments=(service("100.00", "80.00", ("CO", "45", "20.00")),))
    paid = payment_facts(clp, claim_payment_id=1, remittance_id=2, payer_id="P", posting_date=DAY, claim_id=5)
    assert paid.adjustments == (Adjustment("PR", "1", D("10.00")), Adjustment("CO", "45", D("20.00")))
    assert (paid.crossover_payer, paid.claim_id, paid.status) == ("MG01", 5, "19")


def test_an_unknown_adjustment_group_is_refused_not_dropped() -> None:
    with pytest.raises(InputError, match="unknown CAS group 'XX'"):
        classify(facts("100.00", "90.00", ("XX", "45", "10.00")))


# ---- unapplied cash ----------------------------------------------------------------------------------------

def test_a_payment_matching_no_claim_waits_in_unapplied_cash() -> None:
    entry = unapplied_entry(11, D("75.00"), DAY, "PAYER1", "PCN404")
    assert lines_of(entry) == {("undeposited_funds", "DR", "75.00"), ("unapplied_cash", "CR", "75.00")}
    assert entry is not None and entry.idempotency_key == "unapplied:11" and "PCN404" in entry.description
    assert lines_of(unapplied_entry(12, D("-75.00"), DAY, "PAYER1", "PCN404")) == {
        ("undeposited_funds", "CR", "75.00"), ("unapplied_cash", "DR", "75.00")}
    assert unapplied_entry(13, D("0"), DAY, "PAYER1", "PCN404") is None


# ---- provider-level adjustments (PLB) ----------------------------------------------------------------------

def test_l6_interest_increases_the_payment_and_is_income() -> None:
    entry = provider_adjustment_entry(21, 3, "L6", D("-12.34"), "INT2026", DAY, PLB)
    assert lines_of(entry) == {("undeposited_funds", "DR", "12.34"), ("interest_income", "CR", "12.34")}
    assert entry is not None
    assert (entry.journal, entry.source_type, entry.source_id, entry.idempotency_key) == (
        "era", "provider adjustment", "21", "plb:21")
    assert "INT2026" in entry.description and "remittance 3" in entry.description


def test_wo_recoupment_reduces_the_payment_and_settles_the_overpayment_owed() -> None:
    assert lines_of(provider_adjustment_entry(22, 3, "WO", D("250.00"), "CLM77", DAY, PLB)) == {
        ("overpayments_payable", "DR", "250.00"), ("undeposited_funds", "CR", "250.00")}


def test_an_unmapped_plb_reason_goes_to_clearing() -> None:
    assert lines_of(provider_adjustment_entry(23, 3, "ZZ", D("40.00"), None, DAY, PLB)) == {
        ("provider_adjustment_clearing", "DR", "40.00"), ("undeposited_funds", "CR", "40.00")}
    assert provider_adjustment_entry(24, 3, "L6", D("0"), None, DAY, PLB) is None


@pytest.mark.parametrize(("reason", "account"), [
    ("L6", "interest_income"), ("WO", "overpayments_payable"), ("IR", "payer_withholdings"),
    ("LE", "payer_withholdings"), ("L3", "payer_withholdings"), ("FB", "provider_adjustment_clearing"),
    ("72", "provider_adjustment_clearing"), ("CS", "provider_adjustment_clearing"),
    ("J1", "provider_adjustment_clearing"), ("BN", "provider_adjustment_clearing")])
def test_the_default_plb_mapping(reason: str, account: str) -> None:
    assert PLB.account_for(reason) == account
    PLB.check_against(load_chart())  # every account it names exists in the default chart


@pytest.mark.parametrize(("text", "message"), [
    ("version: '1'\nreasons: {ZZ: interest_income}", r"reasons: 'ZZ' is not a PLB adjustment reason code"),
    ("version: '1'\nreasons: {L6: Interest}", r"reasons: L6: account key 'Interest' must be lower_snake_case"),
    ("version: '1'\nreasons: {L6: undeposited_funds}", r"reasons: L6: undeposited_funds is the other side"),
    ("version: '1'\ncolour: red", r"colour: unknown field"),
    ("reasons: {}", r"version: Field required"),
    ("version: '1'\nreasons: {L6: no_such_account}", r"accounts missing from chart .*L6: no_such_account"),
    ("- just a list", r"must be a mapping"),
    ("version: [", r"is not valid YAML"),
])
def test_a_bad_plb_mapping_is_refused_with_the_place(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "plb.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_plb_accounts(path)
    assert str(path) in str(caught.value)


def test_a_missing_plb_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_plb_accounts(tmp_path / "missing.yaml")
    assert parse_plb_accounts("version: '1'").account_for("WO") == "provider_adjustment_clearing"


# ---- the whole 835 ------------------------------------------------------------------------------------------

def test_the_entries_of_a_balanced_835_put_exactly_bpr02_into_undeposited_funds() -> None:
    first = ClaimPayment("PCN1", "1", D("200.00"), D("120.00"),
                         adjustments=(Adjustment("CO", "45", D("50.00")), Adjustment("PR", "2", D("30.00"))))
    second = ClaimPayment("PCN2", "1", D("300.00"), D("150.00"), service_payments=(
        service("200.00", "150.00", ("CO", "45", "50.00")), service("100.00", "0", ("CO", "97", "100.00"))))
    plbs = (ProviderAdjustment("1234567893", date(2026, 12, 31), "L6", "INT", D("-12.34")),
            ProviderAdjustment("1234567893", date(2026, 12, 31), "WO", "CLM77", D("250.00")))
    # BPR02 = 120.00 + 150.00 - (-12.34 + 250.00) = 32.34
    era = Remittance("0001", "I", D("32.34"), "C", "ACH", DAY, "1", "EFT1", claims=(first, second),
                     provider_adjustments=plbs)
    assert remittance_imbalance(era) == 0

    entries: list[JournalEntryDraft | None] = []
    for number, clp in enumerate(era.claims, start=1):
        paid = payment_facts(clp, claim_payment_id=number, remittance_id=1, payer_id="P", posting_date=DAY)
        entries.append(claim_payment_entry(paid, classify(paid)))
    for number, plb in enumerate(era.provider_adjustments, start=1):
        entries.append(provider_adjustment_entry(number, 1, plb.reason, plb.amount, plb.reference, DAY, PLB))

    cash: list[JournalLine] = [line for entry in entries if entry for line in entry.lines
                               if line.account == "undeposited_funds"]
    assert sum(line.debit - line.credit for line in cash) == era.payment_amount == D("32.34")


"""Ledger invariants: lines are one-sided and exact, entries balance, the default chart is complete."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from rcmflow.domain.ledger import (
    AccountType,
    InvalidLineError,
    JournalEntryDraft,
    JournalLine,
    Side,
    TrialBalance,
    TrialBalanceRow,
    UnknownAccountError,
    check_balanced,
    credit,
    debit,
    load_chart,
    parse_chart,
    period_bounds,
    period_of,
    reversal_of,
)
from rcmflow.errors import ConfigurationError, InputError, UnbalancedError


def _entry(*lines: JournalLine, key: str = "era:P1:T1:CLM1") -> JournalEntryDraft:
    return JournalEntryDraft("era", date(2026, 3, 2), "payment CLM1", "claim payment", "CLM1", key, lines)


def test_the_default_chart_has_every_account_the_revenue_cycle_posts_to() -> None:
    chart = load_chart()
    keys = {a.key for a in chart.accounts}
    assert {"bank", "undeposited_funds", "ar_insurance", "ar_patient", "contractual_allowances", "denial_writeoffs",
            "administrative_adjustments", "unapplied_cash", "overpayments_payable", "interest_income",
            "refunds_payable", "bad_debt", "provider_adjustment_clearing"} <= keys
    assert chart.account("contractual_allowances").type is AccountType.CONTRA_REVENUE
    assert chart.account("contractual_allowances").side is Side.DEBIT
    # L6 is interest the payer pays the provider: income, credit-normal.
    assert chart.account("interest_income").side is Side.CREDIT
    assert chart.account("1100").key == "ar_insurance"
    assert {j.code for j in chart.journals} >= {"era", "bank", "adjustments"}
    with pytest.raises(UnknownAccountError):
        chart.account("no_such_account")


def test_a_chart_with_mistakes_is_refused_with_the_place(tmp_path: Path) -> None:
    text = """
chart_id: c
version: "1"
accounts:
  - {number: "1000", key: bank, name: Bank, type: asset}
  - {number: "1000", key: cash, name: Cash, type: asset}
journals: [{code: era, name: ERA}]
"""
    with pytest.raises(ConfigurationError, match="duplicate account number.*1000"):
        parse_chart(text)
    with pytest.raises(ConfigurationError, match=r"accounts\.0\.colour: unknown field"):
        parse_chart(text.replace("type: asset}", "type: asset, colour: red}", 1))
    with pytest.raises(ConfigurationError, match="must start with a digit"):
        parse_chart(text.replace('number: "1000", key: cash', 'number: "x1", key: cash'))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_chart(tmp_path / "missing.yaml")
    # Without normal_side, the side follows the type.
    good = parse_chart(text.replace('"1000", key: cash', '"2000", key: cash').replace("Cash, type: asset",
                                                                                      "Cash, type: liability"))
    assert good.account("cash").side is Side.CREDIT


@pytest.mark.parametrize(("line_debit", "line_credit", "message"), [
    ("10.00", "10.00", "exactly one"),
    ("0", "0", "exactly one"),
    ("-5.00", "0", "never negative"),
    ("1.005", "0", "fractions of a cent"),
])
def test_a_line_is_one_non_negative_two_place_amount(line_debit: str, line_credit: str, message: str) -> None:
    with pytest.raises(InvalidLineError, match=message):
        JournalLine("1100", debit=Decimal(line_debit), credit=Decimal(line_credit))


def test_amounts_are_normalised_to_two_places_and_floats_refused() -> None:
    assert debit("1100", Decimal("12.5")).debit.as_tuple().exponent == -2
    with pytest.raises(InvalidLineError, match="Decimal"):
        debit("1100", 12.5)  # type: ignore[arg-type]


def test_an_unbalanced_entry_names_itself_and_the_difference() -> None:
    entry = _entry(debit("undeposited_funds", Decimal("100.00")), credit("ar_insurance", Decimal("99.99")))
    with pytest.raises(UnbalancedError, match=r"'era:P1:T1:CLM1'.*credits 99\.99 \(difference 0\.01\)"):
        check_balanced(entry)
    check_balanced(_entry(debit("undeposited_funds", Decimal("100.00")), credit("ar_insurance", Decimal("70.00")),
                          credit("unapplied_cash", Decimal("30.00"))))


def test_an_entry_needs_two_lines_and_a_key() -> None:
    with pytest.raises(InvalidLineError, match="two lines"):
        _entry(debit("1100", Decimal("1.00")))
    with pytest.raises(InputError, match="idempotency_key"):
        _entry(debit("1100", Decimal("1.00")), credit("1010", Decimal("1.00")), key="")


def test_a_reversal_mirrors_every_line_exactly() -> None:
    entry = _entry(debit("undeposited_funds", Decimal("80.00")), debit("contractual_allowances", Decimal("20.00")),
                   credit("ar_insurance", Decimal("100.00")))
    mirror = reversal_of(entry, entry_id=41, posting_date=date(2026, 4, 1), reason="CLP02=22")
    assert [(line.account, line.debit, line.credit) for line in mirror.lines] == [
        ("undeposited_funds", Decimal("0.00"), Decimal("80.00")),
        ("contractual_allowances", Decimal("0.00"), Decimal("20.00")),
        ("ar_insurance", Decimal("100.00"), Decimal("0.00"))]
    assert (mirror.reversal_of, mirror.idempotency_key, mirror.period) == (41, "reversal:41", "2026-04")
    assert mirror.source_id == "CLM1" and "CLP02=22" in mirror.description


def test_periods_are_calendar_months() -> None:
    assert period_of(date(2026, 12, 31)) == "2026-12"
    assert period_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    with pytest.raises(InputError, match="YYYY-MM"):
        period_bounds("2026-13")


def test_trial_balance_balances_sit_on_the_normal_side() -> None:
    rows = (TrialBalanceRow("1100", "ar_insurance", "A/R", "asset", "debit", Decimal("150.00"), Decimal("100.00")),
            TrialBalanceRow("4000", "revenue", "Revenue", "revenue", "credit", Decimal("0.00"), Decimal("50.00")))
    report = TrialBalance(None, rows)
    assert (report.balance_of("ar_insurance"), report.balance_of("4000")) == (Decimal("50.00"), Decimal("50.00"))
    assert report.balanced and report.to_json()["debits"] == "150.00"
    assert report.balance_of("bank") == Decimal("0")

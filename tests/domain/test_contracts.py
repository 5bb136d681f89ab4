"""Payer contracts: each method prices a claim exactly, tolerance decides variance, bad files are located."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from rcmflow.domain.contracts import (
    Contract,
    ExpectedLine,
    PayerContracts,
    PayerContractsError,
    Tolerance,
    Variance,
    VarianceCalculator,
    actual_allowed,
    contract_variance,
    load_contracts,
    parse_contracts,
)
from rcmflow.domain.money import ZERO, round_cents, total
from rcmflow.errors import ConfigurationError
from rcmflow.services.demo_data import PAYERS, build_network
from rcmflow.settings import reset_settings

D = Decimal
HEADER = 'version: "2026.1"\ndefault_tolerance: {amount: "1.00", percent: "2"}\n'


def line(code: str | None, charge: str, *modifiers: str, revenue: str | None = None,
         units: str | None = None) -> ExpectedLine:
    return ExpectedLine(code, modifiers, revenue, D(charge), D(units) if units is not None else None)


def contract(**fields: object) -> Contract:
    return Contract.model_validate({"payer_id": "60054", **fields})


FEES = contract(method="fee_schedule", fee_schedule={
    "99213": "92.50", "99214": "131.00", "93000": "21.00", "93000:26": "9.80", "36415": "3.00", "J1885": "3.33"})


# ---- pricing ---------------------------------------------------------------------------------------

def test_percent_of_charge_rounds_each_line_half_up() -> None:
    acme = contract(method="percent_of_charge", rate="72")
    # 110.00 x 72% = 79.20; 12.00 -> 8.64; 28.33 -> 20.3976 -> 20.40
    assert acme.expected_allowed([line("99213", "110.00"), line("36415", "12.00"), line("85025", "28.33")]) \
        == D("108.24")
    # Once per line, not once per claim: two 0.005s are 0.02, not round(0.01) = 0.01.
    half = contract(method="percent_of_charge", rate="50")
    assert half.expected_allowed([line("A", "0.01"), line("B", "0.01")]) == D("0.02")
    assert acme.expected_allowed([]) is None  # nothing billed: no expectation, not an expected zero


def test_fee_schedule_prices_fee_times_units() -> None:
    lines = [line("99213", "110.00"),                  # no units: one unit, 92.50
             line("99214", "165.00", "25"),            # no 99214:25 fee: plain 131.00
             line("93000", "55.00"),                   # 21.00
             line("36415", "12.00", units="3"),        # 3 x 3.00 = 9.00
             line("J1885", "48.00", units="1.5")]      # 3.33 x 1.5 = 4.995 -> 5.00
    assert FEES.expected_allowed(lines) == D("258.50")


def test_the_modifier_specific_fee_wins_over_the_plain_code() -> None:
    assert FEES.expected_allowed([line("93000", "55.00", "26")]) == D("9.80")
    # The first modifier that has a fee counts: 59 has none, 26 has one.
    assert FEES.expected_allowed([line("93000", "55.00", "59", "26")]) == D("9.80")
    assert FEES.fee("93000", ("59",)) == D("21.00")


def test_a_line_without_a_fee_leaves_the_claim_without_expectation() -> None:
    assert FEES.expected_allowed([line("99213", "110.00"), line("99215", "210.00")]) is None
    assert FEES.expected_allowed([line(None, "40.00", revenue="0250")]) is None


def test_fallback_percent_prices_lines_without_a_fee() -> None:
    fees = contract(method="fee_schedule", fee_schedule={"99213": "92.50"}, fallback_percent="60")
    # 92.50 + 60% of 210.00 = 92.50 + 126.00
    assert fees.expected_allowed([line("99213", "110.00"), line("99215", "210.00")]) == D("218.50")


def test_per_visit_is_one_amount_per_claim_by_revenue_code_when_listed() -> None:
    visit = contract(method="per_visit", per_visit="180.00",
                     per_visit_by_revenue_code={"0450": "640.00", "0360": "1200.00"})
    emergency = [line("80053", "140.00", revenue="0300"), line("99284", "980.00", revenue="0450"),
                 line(None, "5000.00", revenue="0360")]
    assert visit.expected_allowed(emergency) == D("640.00")  # the first listed revenue code wins
    assert visit.expected_allowed([line("80053", "140.00", revenue="0300"), line("85025", "28.00")]) \
        == D("180.00")
    assert contract(method="per_visit", per_visit="180.00").expected_allowed([]) == D("180.00")


# ---- tolerance and variance ------------------------------------------------------------------------

def test_tolerance_is_the_larger_of_amount_and_percent_and_its_bound_is_inside() -> None:
    tolerance = Tolerance(amount=D("1.00"), percent=D("2"))
    # 2% of 100.00 = 2.00 beats 1.00
    assert tolerance.allows(D("100.00"), D("98.00")) and tolerance.allows(D("100.00"), D("102.00"))
    assert not tolerance.allows(D("100.00"), D("97.99")) and not tolerance.allows(D("100.00"), D("102.01"))
    # 2% of 30.00 = 0.60: the 1.00 amount is the bound
    assert tolerance.allows(D("30.00"), D("29.00")) and not tolerance.allows(D("30.00"), D("28.99"))
    # 2% of 92.75 = 1.855, rounded half up to 1.86
    assert tolerance.allows(D("92.75"), D("90.89")) and not tolerance.allows(D("92.75"), D("90.88"))


CONTRACTS = parse_contracts(HEADER + """
contracts:
  - {payer_id: "60054", method: percent_of_charge, rate: "72"}
  - {payer_id: "00590", method: percent_of_charge, rate: "50", tolerance: {amount: "0.50", percent: "1"}}
  - {payer_id: "87726", method: fee_schedule, fee_schedule: {"99213": "92.50"}}
""")


def variance(payer_id: str, lines: list[ExpectedLine], allowed: str) -> Variance | None:
    return contract_variance(CONTRACTS, payer_id=payer_id, claim_type="P", service_date=date(2026, 10, 5),
                             lines=lines, actual_allowed=D(allowed))


def test_contract_variance_reports_under_and_overpayment_beyond_tolerance() -> None:
    office_visit = [line("99213", "110.00")]  # ACME expects 79.20; tolerance max(1.00, 1.58) = 1.58
    assert variance("60054", office_visit, "79.20") is None
    assert variance("60054", office_visit, "77.62") is None
    under = variance("60054", office_visit, "77.61")
    assert under == Variance(D("79.20"), D("77.61"), D("1.59")) and under.is_underpayment()
    over = variance("60054", office_visit, "90.00")
    assert over == Variance(D("79.20"), D("90.00"), D("-10.80")) and not over.is_underpayment()


def test_a_contract_tolerance_overrides_the_default() -> None:
    # 50% of 60.00 = 30.00; the contract's bound is max(0.50, 0.30) = 0.50 where the default would allow 1.00.
    assert variance("00590", [line("99213", "60.00")], "29.50") is None
    assert variance("00590", [line("99213", "60.00")], "29.49") == Variance(D("30.00"), D("29.49"), D("0.51"))


def test_no_variance_without_a_contract_or_an_expectation() -> None:
    assert variance("99999", [line("99213", "110.00")], "0.00") is None
    assert variance("87726", [line("99215", "210.00")], "0.00") is None  # no fee, no fallback: no guess
    assert variance("87726", [line("99213", "110.00")], "0.00") == Variance(D("92.50"), ZERO, D("92.50"))


def test_the_variance_calculator_gives_what_contract_variance_gives() -> None:
    """Posting prices a run's claims through ``VarianceCalculator`` (contracts and line prices worked out once):
    claim after claim, with the same lines in other digits, it must say exactly what ``contract_variance`` says."""
    calculator = VarianceCalculator(DATED)
    claims = [(payer, claim_type, day, lines, allowed)
              for payer in ("60054", "04412", "99999")
              for claim_type in ("P", "I")
              for day in (date(2025, 6, 1), date(2026, 3, 1), date(2026, 8, 1), None)
              for lines in ([line("99213", "110.00"), line("36415", "12.0", units="2")],
                            [line("99213", "110.0"), line("36415", "12.00", units="2.0")], [])
              for allowed in (D("88.00"), D("94.72"), D("180.00"))]
    for payer, claim_type, day, lines, allowed in claims * 2:  # the second time from what it worked out
        expected = contract_variance(DATED, payer_id=payer, claim_type=claim_type, service_date=day, lines=lines,
                                     actual_allowed=allowed)
        found = calculator.variance(payer_id=payer, claim_type=claim_type, service_date=day, lines=lines,
                                    actual_allowed=allowed)
        assert found == expected and str(found) == str(expected), (payer, claim_type, day, lines, allowed)


def test_actual_allowed_is_the_charge_less_contractual_adjustments() -> None:
    assert actual_allowed(D("110.00"), D("30.80")) == D("79.20")


# ---- which contract ---------------------------------------------------------------------------------

DATED = parse_contracts(HEADER + """
contracts:
  - {payer_id: "60054", method: percent_of_charge, rate: "70"}
  - {payer_id: "60054", method: percent_of_charge, rate: "72", effective_from: 2026-01-01}
  - {payer_id: "60054", claim_types: [P], method: percent_of_charge, rate: "75",
     effective_from: 2026-07-01, effective_to: 2026-12-31}
  - {payer_id: "04412", claim_types: [I], method: per_visit, per_visit: "180.00"}
""")


def rate_on(claim_type: str, day: date | None, payer_id: str = "60054") -> Decimal | None:
    found = DATED.contract_for(payer_id, claim_type, day)
    return found.rate if found is not None else None


def test_the_latest_contract_effective_on_the_service_date_applies() -> None:
    assert rate_on("P", date(2025, 6, 1)) == D("70")
    assert rate_on("P", date(2025, 12, 31)) == D("70")
    assert rate_on("P", date(2026, 1, 1)) == D("72")
    assert rate_on("P", date(2026, 7, 1)) == D("75")
    assert rate_on("P", date(2026, 12, 31)) == D("75")
    # The 75% contract ended; the 72% one was superseded by it, so nothing applies rather than a guess.
    assert rate_on("P", date(2027, 1, 1)) is None
    assert rate_on("I", date(2026, 8, 1)) == D("72")  # the 75% contract is professional only


def test_without_a_service_date_only_a_sole_contract_applies() -> None:
    assert rate_on("P", None) is None
    assert DATED.contract_for("04412", "I", None) is not None
    assert DATED.contract_for("04412", "P", date(2026, 8, 1)) is None


def test_overlapping_contracts_are_refused_naming_the_payer() -> None:
    with pytest.raises(PayerContractsError, match=r"payer '00590' has two contracts for claim type P "
                                                  r"effective from 2026-01-01"):
        parse_contracts(HEADER + """
contracts:
  - {payer_id: "00590", method: percent_of_charge, rate: "68", effective_from: 2026-01-01}
  - {payer_id: "00590", claim_types: [P], method: per_visit, per_visit: "90.00", effective_from: 2026-01-01}
""")
    with pytest.raises(PayerContractsError, match=r"payer '00590' has overlapping contracts for claim type I: "
                                                  r"one runs to 2026-06-30, the next starts 2026-06-01"):
        parse_contracts(HEADER + """
contracts:
  - {payer_id: "00590", claim_types: [I], method: percent_of_charge, rate: "68", effective_to: 2026-06-30}
  - {payer_id: "00590", method: percent_of_charge, rate: "70", effective_from: 2026-06-01}
""")


def test_contracts_of_one_payer_for_different_claim_types_do_not_overlap() -> None:
    contracts = parse_contracts(HEADER + """
contracts:
  - {payer_id: "00590", claim_types: [P], method: percent_of_charge, rate: "68"}
  - {payer_id: "00590", claim_types: [I], method: per_visit, per_visit: "640.00"}
""")
    assert contracts.contract_for("00590", "I", date(2026, 3, 1)).method == "per_visit"
    assert contracts.contract_for("00590", "P", date(2026, 3, 1)).method == "percent_of_charge"


# ---- bad files ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "located"), [
    ('{payer_id: "60054", method: capitation, rate: "72"}',
     r"field method: Input should be 'percent_of_charge'"),
    ('{payer_id: "60054", method: percent_of_charge, rate: "-72"}',
     r"field rate: '-72' must not be negative"),
    ('{payer_id: "60054", method: per_visit, per_visit: 1e2}',
     r"field per_visit: '1e2' is not a plain decimal"),
    ('{payer_id: "60054", method: percent_of_charge, rate: 72.5}',
     r"field rate: write amounts as quoted strings"),
    ('{payer_id: "00590", method: fee_schedule, fallback_percent: "60"}',
     r"field fee_schedule: required for method fee_schedule"),
    ('{payer_id: "00590", method: fee_schedule, fee_schedule: {"99213": "92.505"}}',
     r"field fee_schedule.99213: '92.505' is not a plain decimal"),
    ('{payer_id: "00590", method: fee_schedule, fee_schedule: {"0450": "1.00"}, rate: "60"}',
     r"field rate: applies only to method percent_of_charge, not fee_schedule"),
    ('{payer_id: "00590", method: per_visit, per_visit: "1.00", per_visit_by_revenue_code: {450: "2.00"}}',
     r"field per_visit_by_revenue_code: revenue code 450 must be a quoted string"),
    ('{payer_id: 60054, method: percent_of_charge, rate: "72"}',
     r"field payer_id: payer id 60054 must be a quoted string"),
    ('{payer_id: "60054", method: percent_of_charge, rate: "120"}', r"field rate: 120 is more than 100 percent"),
    ('{payer_id: "60054", method: percent_of_charge, rate: "72", cap: "5"}', r"field cap: unknown field"),
    ('{payer_id: "60054", method: percent_of_charge, rate: "72", effective_from: 2026-02-01, '
     'effective_to: 2026-01-31}', r"field effective_to: 2026-01-31 is before effective_from 2026-02-01"),
])
def test_a_bad_contract_is_refused_naming_the_file_contract_and_field(
        tmp_path: Path, body: str, located: str) -> None:
    path = tmp_path / "contracts.yaml"
    path.write_text(HEADER + f"contracts:\n  - {body}\n")
    prefix = rf"^payer contracts {re.escape(str(path))}: contract 1 \(payer '\d+'\), "
    with pytest.raises(PayerContractsError, match=prefix + located) as caught:
        load_contracts(path)
    assert isinstance(caught.value, ConfigurationError)


@pytest.mark.parametrize(("text", "located"), [
    ("version: '1'\ncontracts: []\n", r"field default_tolerance: Field required"),
    ("version: '1'\ndefault_tolerance: {amount: '1.00', percent: 'two'}\n",
     r"field default_tolerance.percent: 'two' is not a plain decimal"),
    ("version: 2026.10\ndefault_tolerance: {amount: '1.00', percent: '2'}\n", r"field version: quote the version"),
    ("- just a list\n", r"expected a mapping with version"),
    ("version: '1'\nversion: '2'\n", r"not valid YAML: .*duplicate key 'version'"),
    (HEADER + "contracts:\n  - {payer_id: '1', method: fee_schedule, fee_schedule: {'99213': '1', '99213': '2'}}\n",
     r"not valid YAML: .*duplicate key '99213'"),
])
def test_a_bad_file_is_refused_with_its_location(text: str, located: str) -> None:
    with pytest.raises(PayerContractsError, match=rf"^payer contracts site.yaml: {located}"):
        parse_contracts(text, source="site.yaml")


def test_an_unreadable_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(PayerContractsError, match=r"payer contracts .*missing.yaml: cannot be read"):
        load_contracts(tmp_path / "missing.yaml")


# ---- the shipped file and the setting ------------------------------------------------------------------

def test_the_shipped_contracts_price_every_demo_payer_at_its_demo_rate() -> None:
    shipped = load_contracts()
    assert shipped.rule_version() == "payer-contracts@2026.1"
    assert resources.files("rcmflow.config").joinpath("payer_contracts.yaml").is_file()
    for payer in PAYERS:
        for claim_type in ("P", "I"):
            found = shipped.contract_for(payer.payer_id, claim_type, date(2026, 10, 15))
            assert found is not None and found.method == "percent_of_charge", (payer.name, claim_type)
            assert found.rate / 100 == payer.allowed_rate


def test_the_demo_adjudication_sits_inside_the_shipped_contracts_but_for_its_deliberate_underpayments() -> None:
    shipped = load_contracts()
    network = build_network(200, seed=7)
    checked = underpaid = 0
    for (facility, _, _batch), (payer, remittance) in zip(network.batches, network.remittances, strict=True):
        for payment in remittance.claims:
            if payment.status == "4":  # denied: the denials queue's business, not a contract variance
                continue
            services = payment.service_payments
            lines = [ExpectedLine(s.procedure.code, s.procedure.modifiers, s.revenue_code or None, s.charge,
                                  s.units_paid) for s in services]
            contractual = total(a.amount for s in services for a in s.adjustments if a.group == "CO")
            found = contract_variance(shipped, payer_id=payer.payer_id, claim_type=facility.claim_type,
                                      service_date=services[0].dates[0].value, lines=lines,
                                      actual_allowed=actual_allowed(payment.charge, contractual))
            if found is not None:
                # The demo underprices some claims by 10 points of charge: exactly that, nothing else.
                assert found.difference == round_cents(payment.charge * Decimal("0.10")), found
                underpaid += 1
            checked += 1
    assert checked > 150 and 0 < underpaid < 15


def test_rcmflow_payer_contracts_replaces_the_shipped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "site.yaml"
    path.write_text('version: "site-3"\ndefault_tolerance: {amount: "0.00", percent: "0"}\ncontracts:\n'
                    '  - {payer_id: "60054", method: percent_of_charge, rate: "80"}\n')
    monkeypatch.setenv("RCMFLOW_PAYER_CONTRACTS", str(path))
    reset_settings()
    try:
        configured = load_contracts()
        assert configured.rule_version() == "payer-contracts@site-3"
        assert [c.rate for c in configured.contracts] == [D("80")]
        path.write_text("version: '1'\n")
        located = rf"^payer contracts {re.escape(str(path))}: field default_tolerance"
        with pytest.raises(PayerContractsError, match=located):
            load_contracts()
    finally:
        monkeypatch.delenv("RCMFLOW_PAYER_CONTRACTS")
        reset_settings()
    assert load_contracts().rule_version() == "payer-contracts@2026.1"


def test_an_empty_contract_list_prices_nothing() -> None:
    none = PayerContracts(version="0", default_tolerance=Tolerance(amount=ZERO, percent=ZERO))
    assert none.contract_for("60054", "P", date(2026, 1, 1)) is None

"""The sandbox's pure parts: pricing from contracts, patient shares, adjudication, reversals and corrections,
and the codec its state is kept with."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from rcmflow.domain.contracts import parse_contracts
from rcmflow.domain.money import round_cents
from rcmflow.domain.parties import Party
from rcmflow.domain.remittance import claim_imbalance, service_imbalance
from rcmflow.formats.x12.writing import Party as Envelope
from rcmflow.sandbox import PROFILES
from rcmflow.sandbox.adjudicate import History, adjudicate
from rcmflow.sandbox.followups import DOWN, UP, corrected, reversal
from rcmflow.sandbox.frontend import StatusParties
from rcmflow.sandbox.pricing import allowed_amounts, patient_shares
from rcmflow.sandbox.remit import payee_of
from rcmflow.sandbox.seeding import rng_for
from rcmflow.sandbox.state import CODEC, ClaimRecord, Route
from tests.sandbox.builders import ACME, DOS, RECEIVED, institutional, line, professional, quiet

CONTRACTS = parse_contracts("""
version: "t1"
default_tolerance: {amount: "1.00", percent: "2"}
contracts:
  - {payer_id: "60054", method: percent_of_charge, rate: "72"}
  - payer_id: "00590"
    method: fee_schedule
    fee_schedule: {"99213": "92.50", "36415": "30.00", "93000:26": "9.80"}
    fallback_percent: "50"
  - {payer_id: "77001", claim_types: [I], method: per_visit, per_visit: "600.00"}
""")
PARTIES = StatusParties(Party("PR", "ACME HEALTH PLAN", entity_type="2", id_qualifier="PI", id="60054"),
                        Party("41", "RCMFLOW", entity_type="2", id_qualifier="46", id="RCMFLOWDEMO"))
HISTORY = History(RECEIVED, "600542630600000100", PARTIES)


def test_allowed_amounts_follow_the_contract() -> None:
    claim = professional("P1", line(1, "99213", "150.00"), line(2, "36415", "20.00"),
                         line(3, "93000", "60.00", modifiers=("26",)), line(4, "99213", "150.00", units="2"),
                         line(5, "80053", "45.00"))
    blue = dataclasses.replace(PROFILES["00590"], payer_id="00590")
    assert allowed_amounts(claim, blue, CONTRACTS, DOS) == (
        Decimal("92.50"), Decimal("20.00"),  # a fee above the charge is cut to the charge ("lesser of")
        Decimal("9.80"), Decimal("150.00"), Decimal("22.50"))  # modifier fee; 2 units; 50 % fallback
    assert allowed_amounts(claim, PROFILES["60054"], CONTRACTS, DOS) == (
        Decimal("108.00"), Decimal("14.40"), Decimal("43.20"), Decimal("108.00"), Decimal("32.40"))
    visit = allowed_amounts(institutional("I1"), PROFILES["77001"], CONTRACTS, DOS)
    assert sum(visit) == Decimal("600.00") and visit[1] <= Decimal("90.00")
    unknown = dataclasses.replace(PROFILES["60054"], payer_id="11111")
    assert allowed_amounts(claim, unknown, CONTRACTS, DOS)[0] == Decimal("90.00")  # default 60 % of charge


def test_patient_shares_copay_once_then_deductible_and_coinsurance() -> None:
    claim = professional("P1", line(1, "99213", "150.00"), line(2, "99214", "200.00"), line(3, "36415", "20.00"))
    profile = dataclasses.replace(PROFILES["60054"], deductible_rate=1.0)
    shares = patient_shares(claim, [Decimal("108.00"), Decimal("144.00"), None], profile, rng_for(1, "share"))
    first, second, third = shares
    assert first.copay == Decimal("25.00") and first.coinsurance == 0  # one copay, on the first visit
    assert second.copay == 0 and second.coinsurance == round_cents((Decimal("144.00") - second.deductible)
                                                                   * profile.coinsurance)
    assert third.total == 0  # not priced
    deductible = first.deductible + second.deductible
    assert 0 < deductible <= min(profile.deductible, Decimal("400.00"))
    assert first.deductible == min(deductible, Decimal("83.00"))  # taken line by line, after the copay


def test_adjudication_is_pure_and_each_aspect_draws_on_its_own() -> None:
    claim = professional("P1")
    profile = PROFILES["60054"]
    decisions = [adjudicate(claim, profile, CONTRACTS, rng_for(3, "60054", "P1"), HISTORY) for _ in range(2)]
    assert decisions[0] == decisions[1]
    # Changing how often the payer denies leaves its pay day and pricing draws where they were.
    for seed in range(20):
        plain = adjudicate(claim, quiet()["60054"], CONTRACTS, rng_for(seed, "x"), HISTORY)
        denying = adjudicate(claim, dataclasses.replace(quiet()["60054"], denial_rate=1.0), CONTRACTS,
                             rng_for(seed, "x"), HISTORY)
        assert plain.pay_on == denying.pay_on and plain.payment is not None and denying.payment is not None
        assert (plain.payment.status, denying.payment.status) == ("1", "4")
    rejected = adjudicate(claim, dataclasses.replace(profile, rejection_rate=1.0), CONTRACTS, rng_for(3, "y"),
                          HISTORY)
    assert rejected.status.rejected and rejected.payment is None and rejected.pay_on is None
    resent = adjudicate(claim, dataclasses.replace(quiet()["60054"], rejection_rate=1.0), CONTRACTS, rng_for(3, "y"),
                        HISTORY._replace(first_receipt=False))
    assert resent.accepted and resent.status.payer_claim_control_number == HISTORY.payer_claim_number


def test_reversals_and_corrections_balance() -> None:
    payment = adjudicate(institutional("I1"), quiet()["60054"], CONTRACTS, rng_for(1, "z"), HISTORY).payment
    assert payment is not None and payment.status == "1"
    back = reversal(payment)
    assert back.status == "22" and back.payer_claim_control_number == payment.payer_claim_control_number
    assert back.charge + payment.charge == back.paid + payment.paid == 0
    for original, negated in zip(payment.service_payments, back.service_payments, strict=True):
        assert service_imbalance(negated) == 0
        assert [adj.amount for adj in negated.adjustments] == [-adj.amount for adj in original.adjustments]
        assert negated.amount("B6") == -(original.amount("B6") or 0)
    for kind, sign in ((UP, 1), (DOWN, -1)):
        fixed = corrected(payment, kind, Decimal("12.34"), "N01")
        assert fixed is not None and fixed.paid == payment.paid + sign * Decimal("12.34")
        assert claim_imbalance(fixed) == 0 and all(service_imbalance(line) == 0 for line in fixed.service_payments)
        assert fixed.payer_claim_control_number == "N01"
    assert corrected(payment, DOWN, Decimal("99999.00"), "N01") is None  # no line paid that much


def test_the_state_codec_round_trips_records_exactly() -> None:
    claim = professional("P1")
    decision = adjudicate(claim, quiet({"60054": {"reversal_rate": 1.0}})["60054"], CONTRACTS, rng_for(5, "c"),
                          HISTORY)
    assert decision.payment is not None and decision.reprocess is not None and decision.pay_on is not None
    record = ClaimRecord("60054", ACME.name, "P1", 1, HISTORY.payer_claim_number, RECEIVED, "a.837",
                         Route(Envelope("RCMFLOWDEMO"), Envelope("SANDBOXPAYER"), "T"), payee_of(claim), False,
                         payment=decision.payment, pay_on=decision.pay_on, reprocess=decision.reprocess)
    again = CODEC.decode(json.loads(json.dumps(CODEC.encode(record))))
    assert again == record
    amounts = [str(adj.amount) for line in again.payment.service_payments for adj in line.adjustments]
    assert amounts == [str(adj.amount) for line in record.payment.service_payments for adj in line.adjustments]

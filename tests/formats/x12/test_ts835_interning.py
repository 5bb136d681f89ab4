"""The 835 reader shares repeated amounts and adjustments, and stops when they do not repeat:
either way it must read exactly what a careful reader of each segment would."""

from __future__ import annotations

import random
from decimal import Decimal

from rcmflow.domain.remittance import Adjustment, claim_imbalance
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts835 import INTERN_PROBATION
from tests.formats.x12.builders import interchange

HEADER = ("TRN*1*EFT9*1512345678", "N1*PR*ACME HEALTH PLAN", "N1*PE*GOOD CLINIC*XX*1234567893", "LX*1")


def _remittance(claims: int, varied: bool, seed: int = 3) -> tuple[bytes, list[tuple[Decimal, Decimal]]]:
    rng = random.Random(seed)
    body: list[str] = []
    expected: list[tuple[Decimal, Decimal]] = []
    total = Decimal(0)
    for i in range(claims):
        charge = Decimal(rng.randrange(10_000, 90_000) if varied else 50_000) / 100
        patient = Decimal(rng.randrange(500, 5000) if varied else 2000) / 100
        contractual = (charge * Decimal("0.3")).quantize(Decimal("0.01"))
        paid = charge - patient - contractual
        total += paid
        expected.append((contractual, patient))
        body += [f"CLP*PCN{i}*1*{charge}*{paid}*{patient}*12", f"SVC*HC:99213*{charge}*{paid}**1",
                 f"CAS*CO*45*{contractual}", f"CAS*PR*3*{patient}", f"AMT*B6*{charge - contractual}"]
    bpr = f"BPR*I*{total}*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*021000021*DA*987654321*20260115"
    return interchange(bpr, *HEADER, *body), expected


def _check(content: bytes, expected: list[tuple[Decimal, Decimal]]) -> None:
    document = parse(content)
    assert document.issues == []
    [remittance] = document.of_type("835")
    assert len(remittance.claims) == len(expected)
    for claim, (contractual, patient) in zip(remittance.claims, expected, strict=True):
        [line] = claim.service_payments
        assert line.adjustments == (Adjustment("CO", "45", contractual), Adjustment("PR", "3", patient))
        assert line.amounts[0].value == line.charge - contractual
        assert claim_imbalance(claim) == 0


def test_repeated_amounts_read_exactly() -> None:
    _check(*_remittance(INTERN_PROBATION * 2, varied=False))


def test_amounts_that_never_repeat_read_exactly_after_interning_stops() -> None:
    _check(*_remittance(INTERN_PROBATION * 2, varied=True))


def test_a_repeated_adjustment_lands_in_the_loop_it_appears_in() -> None:
    body = ["CLP*A*1*100*70*20*12", "CAS*PR*3*20", "SVC*HC:99213*100*70**1", "CAS*CO*45*10",
            "CLP*B*1*100*70*20*12", "SVC*HC:99213*100*70**1", "CAS*PR*3*20", "CAS*CO*45*10"]
    bpr = "BPR*I*140*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*021000021*DA*987654321*20260115"
    [remittance] = parse(interchange(bpr, *HEADER, *body)).of_type("835")
    first, second = remittance.claims
    assert first.adjustments == (Adjustment("PR", "3", Decimal(20)),)
    assert first.service_payments[0].adjustments == (Adjustment("CO", "45", Decimal(10)),)
    assert second.adjustments == ()
    assert second.service_payments[0].adjustments == (Adjustment("PR", "3", Decimal(20)),
                                                      Adjustment("CO", "45", Decimal(10)))

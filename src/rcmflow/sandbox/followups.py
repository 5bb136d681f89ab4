"""What a payer sends about a claim it paid earlier: the reversal (CLP02 22) of the payment and the corrected
payment after reprocessing.

A reversal negates every amount of the original (charge, payment, patient responsibility, every CAS and
every supplemental amount), as the 835 guide requires, so that the original and its reversal sum to zero.
The corrected payment is the original reprocessed: "up" after a fee schedule correction (the allowed grows,
the contractual adjustment shrinks), "down" when a deductible was missed (the payment shrinks, the patient
owes more). It carries a new payer claim control number and names the original in REF*F8.
"""

from __future__ import annotations

from decimal import Decimal

from rcmflow.domain.money import ZERO
from rcmflow.domain.parties import Reference
from rcmflow.domain.remittance import Adjustment, ClaimPayment, QualifiedAmount, ServicePayment

REVERSAL = "22"
UP, DOWN = "up", "down"


def _negated(adjustments: tuple[Adjustment, ...]) -> tuple[Adjustment, ...]:
    return tuple(adjustment._replace(amount=-adjustment.amount) for adjustment in adjustments)


def _negated_amounts(amounts: tuple[QualifiedAmount, ...]) -> tuple[QualifiedAmount, ...]:
    return tuple(amount._replace(value=-amount.value) for amount in amounts)


def reversal(payment: ClaimPayment) -> ClaimPayment:
    """The reversal of an earlier claim payment: same claim and payer claim number, every amount negated."""
    return payment._replace(
        status=REVERSAL, charge=-payment.charge, paid=-payment.paid,
        patient_responsibility=-(payment.patient_responsibility or ZERO),
        adjustments=_negated(payment.adjustments), amounts=_negated_amounts(payment.amounts),
        service_payments=tuple(line._replace(charge=-line.charge, paid=-line.paid,
                                             adjustments=_negated(line.adjustments),
                                             amounts=_negated_amounts(line.amounts))
                               for line in payment.service_payments))


def _with_reason(adjustments: tuple[Adjustment, ...], group: str, reason: str, change: Decimal) -> \
        tuple[Adjustment, ...]:
    """The adjustments with ``change`` added to group/reason (created after the others of its group if absent,
    dropped when it comes to zero)."""
    found = any(adj.group == group and adj.reason == reason for adj in adjustments)
    if found:
        changed = [adj._replace(amount=adj.amount + change) if adj.group == group and adj.reason == reason else adj
                   for adj in adjustments]
    else:
        position = max((i + 1 for i, adj in enumerate(adjustments) if adj.group == group), default=len(adjustments))
        changed = [*adjustments[:position], Adjustment(group, reason, change), *adjustments[position:]]
    return tuple(adj for adj in changed if adj.amount != 0)


def _line_up(line: ServicePayment, amount: Decimal) -> ServicePayment | None:
    contractual = next((adj.amount for adj in line.adjustments if adj.group == "CO" and adj.reason == "45"), ZERO)
    if contractual < amount:
        return None
    return line._replace(paid=line.paid + amount, adjustments=_with_reason(line.adjustments, "CO", "45", -amount),
                         amounts=tuple(item._replace(value=item.value + amount) if item.qualifier == "B6" else item
                                       for item in line.amounts))


def _line_down(line: ServicePayment, amount: Decimal) -> ServicePayment | None:
    if line.paid < amount:
        return None
    return line._replace(paid=line.paid - amount, adjustments=_with_reason(line.adjustments, "PR", "1", amount))


def corrected(payment: ClaimPayment, kind: str, amount: Decimal, payer_claim_number: str) -> ClaimPayment | None:
    """The claim paid again after reprocessing, ``amount`` more ("up") or less ("down") on its first line that
    can take it; None when no line can (nothing to reprocess)."""
    change = _line_up if kind == UP else _line_down
    lines = list(payment.service_payments)
    for index, line in enumerate(lines):
        new_line = change(line, amount)
        if new_line is None:
            continue
        lines[index] = new_line
        delta = amount if kind == UP else -amount
        patient = (payment.patient_responsibility or ZERO) + (amount if kind == DOWN else ZERO)
        return payment._replace(
            paid=payment.paid + delta, patient_responsibility=patient, payer_claim_control_number=payer_claim_number,
            references=(*payment.references, Reference("F8", payment.payer_claim_control_number)),
            service_payments=tuple(lines))
    return None

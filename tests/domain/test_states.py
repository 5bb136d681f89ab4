"""State machines as data: the declared paths exist, undeclared ones are refused."""

from __future__ import annotations

import pytest

from rcmflow.domain.states import CLAIM, MACHINES, IllegalTransitionError, StateMachine, machine, machine_for

CLAIM_PATH = ["registered", "eligibility verified", "charge reviewed", "coded", "scrubbed", "ready", "submitted",
              "accepted", "adjudicated", "partially paid", "patient billed", "paid", "refund pending", "closed"]


def test_the_standard_claim_path_is_declared() -> None:
    for a, b in zip(CLAIM_PATH, CLAIM_PATH[1:], strict=False):
        assert CLAIM.allows(a, b), (a, b)
    for state in ("rejected", "denied", "appealed", "voided"):
        assert state in CLAIM.states


@pytest.mark.parametrize(("a", "b"), [("registered", "paid"), ("voided", "registered"), ("submitted", "coded")])
def test_undeclared_moves_raise(a: str, b: str) -> None:
    with pytest.raises(IllegalTransitionError):
        CLAIM.check(a, b)


def test_every_object_type_of_the_issue_has_a_machine() -> None:
    for object_type in ("claim", "remittance", "claim payment", "bank deposit", "supplier invoice", "refund",
                        "appeal", "work item"):
        assert machine_for(object_type) is MACHINES[object_type]


def test_a_machine_with_undeclared_states_is_refused() -> None:
    with pytest.raises(ValueError):
        StateMachine("x", "start", frozenset({"start"}), frozenset({("start", "end")}))
    built = machine("x", "start", {"start": ("end",)})
    assert built.allows("start", "end") and not built.allows("end", "start")

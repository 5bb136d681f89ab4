"""The demo network is deterministic and its money balances by construction."""

from __future__ import annotations

from rcmflow.domain.claim import claim_charge_difference, unique_line_control_numbers
from rcmflow.domain.identifiers import is_valid_npi
from rcmflow.domain.remittance import claim_imbalance, remittance_imbalance, service_imbalance
from rcmflow.services.demo_data import build_network


def test_same_seed_same_network_other_seed_other_network() -> None:
    assert build_network(40, seed=3) == build_network(40, seed=3)
    assert build_network(40, seed=3) != build_network(40, seed=4)


def test_every_claim_is_billed_and_adjudicated_once() -> None:
    network = build_network(120, seed=11)
    billed = [claim.patient_control_number for _, _, batch in network.batches for claim in batch.claims]
    paid = [claim.patient_control_number for _, remit in network.remittances for claim in remit.claims]
    assert len(billed) == 120 and sorted(billed) == sorted(paid) and len(set(billed)) == 120


def test_claims_are_well_formed() -> None:
    network = build_network(120, seed=11)
    for facility, _, batch in network.batches:
        assert is_valid_npi(facility.npi)
        for claim in batch.claims:
            assert claim_charge_difference(claim) == 0
            assert unique_line_control_numbers(claim)


def test_every_line_claim_and_remittance_balances() -> None:
    network = build_network(120, seed=11)
    for _, remittance in network.remittances:
        assert remittance_imbalance(remittance) == 0
        for claim in remittance.claims:
            assert claim_imbalance(claim) == 0
            assert all(service_imbalance(line) == 0 for line in claim.service_payments)
    statuses = {claim.status for _, remit in network.remittances for claim in remit.claims}
    assert statuses == {"1", "4"}  # paid and denied claims both occur

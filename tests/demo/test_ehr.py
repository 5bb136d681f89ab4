"""The demo network's EHR interfaces: every visit of a day reads back as a claim through the real readers, the
same seed and day make the same bytes, and the shipped HL7 facility file names the network's HL7 clinics."""

from __future__ import annotations

from collections import Counter
from datetime import date

from rcmflow.demo.ehr import charge_csv, dft_message, encounters_for, fhir_bundle, next_day_versions, sent_at
from rcmflow.demo.network import build_network, network_facilities
from rcmflow.domain.hl7_facilities import load_hl7_facilities
from rcmflow.domain.payer_policy import load_payer_policies
from rcmflow.formats.charge_csv import read_charge_csv
from rcmflow.formats.fhir_claims import read_fhir_bundle
from rcmflow.formats.hl7_dft import read_dft_message

DAY = date(2026, 3, 2)


def test_every_visit_reads_back_as_a_claim_through_its_interface() -> None:
    network = build_network(3, patients=400, start=DAY)
    encounters = encounters_for(network, DAY, 250, load_payer_policies())
    billing = load_hl7_facilities()
    by_facility: dict[str, list] = {}
    for encounter in encounters:
        by_facility.setdefault(encounter.facility.key, []).append(encounter)
    read, issues = [], []
    for batch in by_facility.values():
        facility = batch[0].facility
        if facility.interface == "fhir":
            charges = read_fhir_bundle(fhir_bundle(facility, batch))
        elif facility.interface == "csv":
            charges = read_charge_csv(charge_csv(facility, batch))
        else:
            for encounter in batch:
                result = read_dft_message(dft_message(encounter, sent_at(DAY)), billing).charges
                read += result.claims
                issues += result.issues
            continue
        read += charges.claims
        issues += charges.issues
    assert issues == []
    assert sorted(claim.source_id for claim in read) == sorted(e.claim_id for e in encounters)
    kinds = Counter(encounter.facility.interface for encounter in encounters)
    assert set(kinds) == {"fhir", "csv", "hl7"}
    by_id = {claim.source_id: claim for claim in read}
    for encounter in encounters:
        claim = by_id[encounter.claim_id].claim
        assert claim.billing_provider.id == encounter.facility.npi
        assert claim.total_charge == sum(service.charge * units for service, units in encounter.lines)
        assert claim.subscriber.party.id == encounter.member_id


def test_a_day_is_the_same_bytes_every_time_and_mistakes_are_corrected_next_day() -> None:
    network = build_network(3, patients=400, start=DAY)
    policies = load_payer_policies()
    first, again = encounters_for(network, DAY, 400, policies), encounters_for(network, DAY, 400, policies)
    assert first == again
    mistakes = Counter(encounter.mistake for encounter in first if encounter.mistake)
    assert mistakes["category-diagnosis"] and mistakes["missing-member-id"]
    resent = next_day_versions(first)
    assert {e.claim_id for e in resent if not e.claim_id.endswith("D")} == {
        e.claim_id for e in first if e.mistake in {"category-diagnosis", "missing-member-id"}}
    assert all(not e.mistake for e in resent)


def test_the_shipped_hl7_facilities_are_the_network_hl7_clinics() -> None:
    shipped = load_hl7_facilities()
    for facility in network_facilities():
        if facility.interface == "hl7":
            assert shipped[facility.key].npi == facility.npi and shipped[facility.key].name == facility.name

"""The shared HL helpers: regrouping flat records into levels, and the party conversions."""

from __future__ import annotations

from datetime import date

import pytest

from rcmflow.domain.parties import Address, Contact, Party
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.x12.hierarchy import (
    contact,
    name_party,
    procedure,
    procedure_value,
    qualified_date,
    runs,
    subscriber_blocks,
    with_city,
    with_demographics,
    with_street,
    write_party,
)
from rcmflow.formats.x12.issues import ElementError
from rcmflow.formats.x12.writing import TransactionBuilder


def test_runs_group_consecutive_keys_only() -> None:
    assert runs("aabca", lambda c: c) == [("a", ["a", "a"]), ("b", ["b"]), ("c", ["c"]), ("a", ["a"])]


def own(item: str) -> bool:
    return item.startswith("own")


def test_subscriber_blocks_keep_the_order() -> None:
    assert subscriber_blocks(["own1", "own2", "dep1", "dep2"], own) == [(["own1", "own2"], ["dep1", "dep2"])]
    assert subscriber_blocks(["dep1", "own1", "dep2"], own) == [([], ["dep1"]), (["own1"], ["dep2"])]
    assert subscriber_blocks(["own1", "own2"], own, max_own=1) == [(["own1"], []), (["own2"], [])]
    assert subscriber_blocks([], own) == []


def test_party_conversions() -> None:
    party = name_party("NM1*IL*1*DOE*JANE*Q**JR*MI*M1".split("*"))
    party = with_street(party, ["N3", "5 ELM ST", "APT 2"])
    party = with_city(party, ["N4", "HARTFORD", "CT", "06101"])
    party = with_demographics(party, ["DMG", "D8", "19800101", "F"])
    assert party == Party("IL", "DOE", "JANE", "Q", "JR", "1", "MI", "M1",
                          Address("5 ELM ST", "APT 2", "HARTFORD", "CT", "06101"), birth_date=date(1980, 1, 1),
                          gender="F")
    assert contact(["PER", "IC", "DESK", "TE", "5551212", "", "", "EM", "A@B.EXAMPLE"]) == Contact(
        "IC", "DESK", (("TE", "5551212"), ("EM", "A@B.EXAMPLE")))
    with pytest.raises(ElementError) as caught:
        with_demographics(party, ["DMG", "D6", "800101"])
    assert (caught.value.element, caught.value.code) == (1, "bad_code")


def test_dates_and_procedures() -> None:
    assert qualified_date(["DTP", "472", "RD8", "20260101-20260105"]) == QualifiedDate(
        "472", date(2026, 1, 1), date(2026, 1, 5))
    with pytest.raises(ElementError) as caught:
        qualified_date(["DTP", "472", "RD8", "20260101"])
    assert (caught.value.element, caught.value.code) == (3, "bad_date")
    described = Procedure("HC", "99213", ("25",), "OFFICE VISIT")
    assert procedure_value(described) == ["HC", "99213", "25", "", "", "", "OFFICE VISIT"]
    assert procedure(":".join(procedure_value(described)), ":") == described


def test_write_party_order() -> None:
    builder = TransactionBuilder("270", "0001")
    party = Party("1P", "CLINIC", entity_type="2", id_qualifier="XX", id="1234567893", taxonomy="207Q00000X",
                  address=Address("1 MAIN ST", city="HARTFORD", state="CT", postal_code="06101"),
                  contacts=(Contact("IC", "DESK", (("TE", "5551212"),)),), birth_date=None)
    write_party(builder, party, provider_code="PE", contacts=True)
    assert builder.segments[1:] == ["NM1*1P*2*CLINIC*****XX*1234567893", "N3*1 MAIN ST", "N4*HARTFORD*CT*06101",
                                    "PER*IC*DESK*TE*5551212", "PRV*PE*PXC*207Q00000X"]

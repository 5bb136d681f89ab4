"""Durable control numbers: unique per sender, survive restarts, given back on rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from rcmflow.adapters.store.control_numbers import StoredControlNumbers
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.writing import FunctionalGroup, Party, TransactionBuilder, build_interchange


def test_numbers_count_up_per_kind_and_sender(engine: Engine) -> None:
    with engine.begin() as conn:
        clinic = StoredControlNumbers(conn, "CLINIC")
        other = StoredControlNumbers(conn, "OTHER")
        assert [clinic.next_interchange() for _ in range(3)] == [1, 2, 3]
        assert clinic.next_group() == 1 and clinic.next_transaction() == 1
        assert other.next_interchange() == 1
    with engine.begin() as conn:  # a new connection (a restart) goes on where the last one stopped
        assert StoredControlNumbers(conn, "CLINIC").next_interchange() == 4


def test_rolled_back_number_is_reissued(engine: Engine) -> None:
    with engine.begin() as conn:
        StoredControlNumbers(conn, "CLINIC").next_interchange()
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert StoredControlNumbers(conn, "CLINIC").next_interchange() == 2
        raise RuntimeError("the write failed")
    with engine.begin() as conn:
        assert StoredControlNumbers(conn, "CLINIC").next_interchange() == 2


def test_interchanges_built_with_stored_numbers_parse_cleanly(engine: Engine) -> None:
    builder = TransactionBuilder("999", "0001", "005010X231A1")
    builder.add("AK1", "HC", "17", "005010X222A1")
    builder.add("AK9", "A", 0, 0, 0)
    with engine.begin() as conn:
        numbers = StoredControlNumbers(conn, "CLINIC")
        segments = builder.finish()
        texts = [build_interchange([FunctionalGroup("FA", "005010X231A1", [segments])], Party("CLINIC"),
                                   Party("PAYER"), numbers) for _ in range(2)]
    controls = [parse(text.encode()).transactions[0].interchange_control_number for text in texts]
    assert controls == ["000000001", "000000002"]
    assert all(not parse(text.encode()).envelope_issues for text in texts)

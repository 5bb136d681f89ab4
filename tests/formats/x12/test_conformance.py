"""Conformance over every public sample (../shared/x12-samples): each parses to the transaction type of its
folder without envelope errors (but one known defect), and round-trips through its writer where one exists."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rcmflow.formats.x12.issues import ERROR
from rcmflow.formats.x12.parser import ParsedTransaction, parse
from tests.formats.x12.builders import SAMPLES, functional_group, interchange_of, sample_files

FILES = sample_files()
pytestmark = pytest.mark.skipif(not FILES, reason="shared x12 samples are absent")

FOLDER_TYPES = {
    "270_005010X279A1": "270",
    "271_005010X279A1": "271",
    "276_005010X212": "276",
    "277_005010X212": "277",
    "835_005010X221A1": "835",
    "837_005010X222A2": "837P",
    "837_005010X223A3": "837I",
}
# The defects of the public files, as located issues of severity error.
KNOWN_ERRORS = {
    "271_005010X279A1/subscriber-health-benefit-check-error.271": [(10, "SE", 2, "control_number_mismatch")],
    "835_005010X221A1/tertiary-payment.835": [(20, "SVC", 1, "missing_element"), (20, "SVC", 6, "missing_element"),
                                              (20, "SVC", None, "unbalanced")],
}
ENVELOPE_CODES = {"envelope", "control_number_mismatch", "count_mismatch", "truncated", "bad_isa", "not_x12", "empty"}
# Transaction type: writer module, function, functional identifier (GS01).
WRITERS = {
    "835": ("ts835_write", "write_835", "HP"),
    "837P": ("ts837_write", "write_837", "HC"),
    "837I": ("ts837_write", "write_837", "HC"),
    "276": ("ts276_write", "write_276", "HR"),
    "270": ("ts270_write", "write_270", "HS"),
    "277": ("ts277_write", "write_277", "HN"),
    "271": ("ts271_write", "write_271", "HB"),
}
# Fields a writer may set itself: ST02, and the implementation guide version it writes (ST03).
ENVELOPE_FIELDS = ("control_number", "implementation")


def name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_every_folder_is_known() -> None:
    assert {path.parent.name for path in FILES} == set(FOLDER_TYPES)


@pytest.mark.parametrize("path", FILES, ids=name)
def test_sample_parses_to_its_folder_type(path: Path) -> None:
    document = parse(path)
    assert document.interchanges == 1
    assert document.transactions
    for tx in document.transactions:
        assert tx.type == FOLDER_TYPES[path.parent.name]
        assert tx.complete and tx.content is not None
    envelope_errors = [(i.segment_index, i.segment_id, i.element, i.code) for i in document.envelope_issues
                       if i.severity == ERROR]
    expected = [issue for issue in KNOWN_ERRORS.get(name(path), []) if issue[3] in ENVELOPE_CODES]
    assert envelope_errors == expected


@pytest.mark.parametrize("path", FILES, ids=name)
def test_sample_has_no_errors_but_its_known_defects(path: Path) -> None:
    document = parse(path)
    assert [(i.segment_index, i.segment_id, i.element, i.code) for i in document.errors] == KNOWN_ERRORS.get(
        name(path), [])


def writer_for(tx_type: str) -> tuple[Callable[..., list[str]], str]:
    """The writer function of a transaction type and its GS01; skips while the module does not exist yet."""
    module_name, function, functional_id = WRITERS[tx_type]
    try:
        module = importlib.import_module(f"rcmflow.formats.x12.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"rcmflow.formats.x12.{module_name}":
            raise
        pytest.skip(f"{module_name} is not written yet")
    return getattr(module, function), functional_id


def comparable(tx_type: str, content: Any) -> Any:
    """Content without the fields its writer chooses, and with what it adds on purpose: the 837 writer gives
    every service line a line item control number (see ``ts837_write``)."""
    content = content._replace(**{field: "" for field in ENVELOPE_FIELDS if hasattr(content, field)})
    if tx_type in ("837P", "837I"):
        from rcmflow.domain.claim import assign_line_control_numbers

        content = content._replace(claims=tuple(assign_line_control_numbers(claim) for claim in content.claims))
    return content


def rewrite(tx: ParsedTransaction) -> ParsedTransaction:
    """Write one parsed transaction with its writer, wrap it in an envelope, parse it again."""
    write, functional_id = writer_for(tx.type)
    segments = write(tx.content, "7001")
    st = segments[0].split("*")
    assert st[:3] == ["ST", tx.transaction_set, "7001"]
    implementation = st[3] if len(st) > 3 else tx.implementation
    data = interchange_of(functional_group(*segments, functional_id=functional_id, implementation=implementation))
    document = parse(data)
    (again,) = document.transactions
    assert document.envelope_issues == ()
    return again


WRITABLE = [path for path in FILES if FOLDER_TYPES.get(path.parent.name) in WRITERS]


@pytest.mark.parametrize("path", WRITABLE, ids=name)
def test_sample_round_trips_through_its_writer(path: Path) -> None:
    for tx in parse(path).transactions:
        again = rewrite(tx)
        assert again.type == tx.type
        assert again.content.control_number == "7001"
        assert comparable(tx.type, again.content) == comparable(tx.type, tx.content)
        # Writing what was read back again changes nothing more: the writer is stable.
        assert rewrite(again).content == again.content


def test_samples_folder_is_beside_the_repository() -> None:
    assert SAMPLES.name == "x12-samples" and SAMPLES.parent.name == "shared"

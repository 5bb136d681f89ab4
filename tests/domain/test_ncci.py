"""NCCI tables: PTP edits in force on a date, modifier bypass, MUEs per line and per date of service."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from rcmflow.domain.ncci import CodedLine, MueEdit, NcciTables, PtpEdit, default_ncci_tables

DAY = date(2026, 3, 2)


def ptp(column1: str, column2: str, indicator: str, effective: date = date(2020, 1, 1),
        deleted: date | None = None) -> PtpEdit:
    return PtpEdit(column1, column2, effective, deleted, indicator, f"{column1}/{column2}")


TABLES = NcciTables.from_edits(
    ptp=[
        ptp("80053", "80048", "0"),
        ptp("11042", "97597", "1"),
        ptp("20610", "J1030", "9"),
        ptp("93000", "93005", "0", deleted=date(2026, 3, 2)),
        ptp("29881", "29877", "1", effective=date(2026, 3, 3)),
        # One pair, two periods: allowed with a modifier until 2026, not allowed from then on.
        ptp("96372", "96374", "1", effective=date(2015, 1, 1), deleted=date(2026, 1, 1)),
        ptp("96372", "96374", "0", effective=date(2026, 1, 1)),
    ],
    mue=[
        MueEdit("20610", 2, "1", "Anatomic Consideration"),
        MueEdit("99213", 1, "2", "CMS Policy"),
        MueEdit("J1885", 8, "3", "Prescribing Information"),
    ],
)


def lines(*items: tuple[str, tuple[str, ...]]) -> list[CodedLine]:
    return [CodedLine(number, code, modifiers) for number, (code, modifiers) in enumerate(items, start=1)]


# ---- PTP edits ------------------------------------------------------------------------------------

def test_in_effect_from_effective_until_the_day_before_deletion() -> None:
    edit = ptp("93000", "93005", "0", effective=date(2020, 1, 1), deleted=date(2026, 3, 2))
    assert not edit.in_effect(date(2019, 12, 31))
    assert edit.in_effect(date(2020, 1, 1))
    assert edit.in_effect(date(2026, 3, 1))
    assert not edit.in_effect(date(2026, 3, 2))
    assert ptp("80053", "80048", "0").in_effect(date(2099, 1, 1))


def test_a_pair_in_effect_fires_in_column_order() -> None:
    # Line order on the claim does not matter: column 1 and column 2 come from the edit.
    [conflict] = TABLES.ptp_conflicts(lines(("80048", ()), ("80053", ())), DAY)
    assert (conflict.column1, conflict.column2) == ("80053", "80048")
    assert (conflict.column1_line, conflict.column2_line) == (2, 1)
    assert conflict.modifier_indicator == "0"
    assert not conflict.bypassed and conflict.bypass_modifier == ""
    assert conflict.rationale == "80053/80048"


def test_one_code_alone_or_unrelated_codes_do_not_fire() -> None:
    assert TABLES.ptp_conflicts(lines(("80053", ())), DAY) == []
    assert TABLES.ptp_conflicts(lines(("80053", ()), ("85025", ()), ("99213", ())), DAY) == []


def test_a_deleted_edit_does_not_fire_from_its_deletion_date() -> None:
    pair = lines(("93000", ()), ("93005", ()))
    assert len(TABLES.ptp_conflicts(pair, date(2026, 3, 1))) == 1
    assert TABLES.ptp_conflicts(pair, date(2026, 3, 2)) == []


def test_an_edit_does_not_fire_before_it_takes_effect() -> None:
    pair = lines(("29881", ()), ("29877", ()))
    assert TABLES.ptp_conflicts(pair, date(2026, 3, 2)) == []
    assert len(TABLES.ptp_conflicts(pair, date(2026, 3, 3))) == 1


def test_modifier_indicator_1_is_bypassed_by_an_ncci_modifier_on_the_column2_line() -> None:
    [conflict] = TABLES.ptp_conflicts(lines(("11042", ()), ("97597", ("XU",))), DAY)
    assert conflict.bypassed and conflict.bypass_modifier == "XU"


@pytest.mark.parametrize("modifier", ["59", "XE", "XS", "XP", "XU", "xs"])
def test_every_ncci_modifier_bypasses_indicator_1_on_either_line(modifier: str) -> None:
    [on_column2] = TABLES.ptp_conflicts(lines(("11042", ()), ("97597", ("RT", modifier))), DAY)
    [on_column1] = TABLES.ptp_conflicts(lines(("11042", (modifier,)), ("97597", ())), DAY)
    assert on_column2.bypassed and on_column1.bypassed
    assert on_column2.bypass_modifier == modifier.upper()


@pytest.mark.parametrize("modifiers", [(), ("25",), ("RT", "LT"), ("76",), ("X",)])
def test_modifier_indicator_1_is_not_bypassed_without_an_ncci_modifier(modifiers: tuple[str, ...]) -> None:
    [conflict] = TABLES.ptp_conflicts(lines(("11042", modifiers), ("97597", modifiers)), DAY)
    assert not conflict.bypassed and conflict.modifier_indicator == "1"


def test_a_caller_may_widen_the_bypass_modifiers() -> None:
    [conflict] = TABLES.ptp_conflicts(lines(("11042", ("25",)), ("97597", ())), DAY,
                                      bypass_modifiers=frozenset({"25", "59"}))
    assert conflict.bypassed and conflict.bypass_modifier == "25"


def test_modifier_indicator_0_is_never_bypassed() -> None:
    [conflict] = TABLES.ptp_conflicts(lines(("80053", ("59",)), ("80048", ("XU", "59"))), DAY)
    assert conflict.modifier_indicator == "0" and not conflict.bypassed
    [widened] = TABLES.ptp_conflicts(lines(("80053", ()), ("80048", ("25",))), DAY,
                                     bypass_modifiers=frozenset({"25"}))
    assert not widened.bypassed


def test_modifier_indicator_9_never_fires() -> None:
    assert TABLES.ptp_conflicts(lines(("20610", ()), ("J1030", ())), DAY) == []


def test_the_row_in_effect_on_the_date_decides() -> None:
    pair = lines(("96372", ()), ("96374", ("XU",)))
    [before] = TABLES.ptp_conflicts(pair, date(2025, 12, 31))
    [after] = TABLES.ptp_conflicts(pair, date(2026, 1, 1))
    assert before.modifier_indicator == "1" and before.bypassed
    assert after.modifier_indicator == "0" and not after.bypassed
    assert TABLES.ptp_edit("96372", "96374", date(2014, 12, 31)) is None


def test_codes_are_compared_trimmed_and_upper_case() -> None:
    [conflict] = TABLES.ptp_conflicts([(7, " 80053", ()), (9, "80048 ", ["xu"])], DAY)
    assert (conflict.column1_line, conflict.column2_line) == (7, 9)


def test_each_column1_line_pairs_with_each_column2_line() -> None:
    found = TABLES.ptp_conflicts(lines(("80053", ()), ("80048", ()), ("80048", ("91",))), DAY)
    assert sorted((c.column1_line, c.column2_line) for c in found) == [(1, 2), (1, 3)]


# ---- MUEs -----------------------------------------------------------------------------------------

def test_a_line_edit_counts_the_units_of_the_line() -> None:
    assert TABLES.mue_excess("20610", units_on_line=3, units_on_date=3) == MueEdit("20610", 2, "1",
                                                                                    "Anatomic Consideration")
    # Two lines of 2 units on one date of service each pass a line edit.
    assert TABLES.mue_excess("20610", units_on_line=2, units_on_date=4) is None


def test_a_date_of_service_edit_counts_the_units_of_the_date() -> None:
    edit = TABLES.mue_excess("99213", units_on_line=1, units_on_date=2)
    assert edit is not None and edit.adjudication_indicator == "2" and edit.per_date_of_service
    assert TABLES.mue_excess("99213", units_on_line=1, units_on_date=1) is None
    assert TABLES.mue_excess("99213", units_on_line=2, units_on_date=1) is None  # the date total decides


def test_clinical_date_of_service_edit_and_decimal_units() -> None:
    assert TABLES.mue_excess("J1885", Decimal("4"), Decimal("8")) is None
    assert TABLES.mue_excess("J1885", Decimal("4"), Decimal("8.5")) is not None
    assert TABLES.mue_excess("j1885 ", 1, 9) is not None


def test_a_code_without_an_mue_never_exceeds() -> None:
    assert TABLES.mue_excess("99999", 100, 100) is None
    assert TABLES.mue_edit("99999") is None


def test_from_edits_keeps_the_last_mue_of_a_code() -> None:
    tables = NcciTables.from_edits(mue=[MueEdit("36415", 1, "3"), MueEdit("36415", 3, "3")])
    assert tables.mue["36415"].units == 3


# ---- the shipped default --------------------------------------------------------------------------

def test_default_tables_load_from_the_package() -> None:
    tables = default_ncci_tables()
    assert tables is default_ncci_tables()  # loaded once
    assert 20 <= len(tables.ptp) <= 40 and 20 <= len(tables.mue) <= 40
    [panel] = tables.ptp[("80053", "80048")]
    assert panel.modifier_indicator == "0" and panel.deleted is None
    [debridement] = tables.ptp[("11042", "97597")]
    assert debridement.modifier_indicator == "1"
    assert tables.mue["99213"] == MueEdit("99213", 1, "2", "CMS Policy")
    assert tables.mue["J1885"].units == 8


def test_default_tables_fire_and_cannot_be_changed() -> None:
    tables = default_ncci_tables()
    [conflict] = tables.ptp_conflicts(lines(("93000", ()), ("93010", ("XU",))), DAY)
    assert not conflict.bypassed
    assert tables.mue_excess("99214", 1, 2) is not None
    with pytest.raises(TypeError):
        tables.mue["99213"] = MueEdit("99213", 9, "2")  # type: ignore[index]

"""Reading the CMS NCCI quarterly PTP and MUE files, preamble and all."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rcmflow.domain.ncci import MueEdit, PtpEdit
from rcmflow.errors import InputError
from rcmflow.formats.ncci_files import (
    load_mue_file,
    load_ncci_tables,
    load_ptp_file,
    normalise_header,
    parse_mue_text,
    parse_ptp_text,
)

PTP_HEADER = ("Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
              "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale")
PTP_TXT = "\r\n".join([
    "CPT only copyright 2025 American Medical Association. All rights reserved.",
    "",
    "Practitioner PTP Edits v322r0",
    PTP_HEADER,
    "80053\t80048\t*\t19960101\t*\t0\tMisuse of column two code with column one code",
    "11042\t97597\t\t20110101\t*\t1\tMisuse of column two code with column one code",
    "",
    "93000\t93005\t\t20000101\t20250701\t9\tMutually exclusive procedures",
]) + "\r\n"

MUE_CSV = "\r\n".join([
    '"CPT codes, descriptions and other data only are copyright 2025 American Medical Association.',
    "",
    'Applicable FARS/DFARS Restrictions Apply to Government Use.",,,',
    '"HCPCS/',
    'CPT Code",Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale',
    "99213,1,2 Date of Service Edit: Policy,CMS Policy",
    '20610,2,"1 Line Edit",Anatomic Consideration',
    "J1885,8,3 Date of Service Edit: Clinical,Prescribing Information",
]) + "\r\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ---- PTP ------------------------------------------------------------------------------------------

def test_ptp_text_file_after_its_preamble(tmp_path: Path) -> None:
    edits = load_ptp_file(write(tmp_path, "ccipra-v322r0-f1.txt", PTP_TXT))
    assert edits == [
        PtpEdit("80053", "80048", date(1996, 1, 1), None, "0", "Misuse of column two code with column one code"),
        PtpEdit("11042", "97597", date(2011, 1, 1), None, "1", "Misuse of column two code with column one code"),
        PtpEdit("93000", "93005", date(2000, 1, 1), date(2025, 7, 1), "9", "Mutually exclusive procedures"),
    ]


def test_ptp_csv_with_a_quoted_multi_line_notice(tmp_path: Path) -> None:
    text = "\n".join([
        '"CPT codes, descriptions and other data only are copyright 2025 American Medical Association.',
        'All Rights Reserved.",,,,,,',
        PTP_HEADER.replace("\t", ","),
        '20610,76942,,20150101,*,0,"CPT Manual or CMS manual coding instructions"',
        "29881,29880,,20100101,20260101,1,Mutually exclusive procedures",
    ])
    edits = load_ptp_file(write(tmp_path, "ptp.csv", text))
    assert [(e.column1, e.column2, e.modifier_indicator, e.deleted) for e in edits] == [
        ("20610", "76942", "0", None), ("29881", "29880", "1", date(2026, 1, 1))]
    assert edits[0].rationale == "CPT Manual or CMS manual coding instructions"


def test_ptp_header_broken_over_rows_and_columns_in_any_order() -> None:
    text = "\n".join([
        "Modifier\tColumn 2\tColumn 1\tEffective\tDeletion\tPTP Edit Rationale",
        "0=not allowed\t\t\tDate\tDate *=no data\t",
        "0\t82565\t80053\t20100101\t\tLaboratory panel",
    ])
    assert parse_ptp_text(text) == [PtpEdit("80053", "82565", date(2010, 1, 1), None, "0", "Laboratory panel")]


def test_ptp_without_a_rationale_column() -> None:
    text = "Column 1,Column 2,Effective Date,Deletion Date,Modifier\n36415,36416,20100101,*,1\n"
    assert parse_ptp_text(text) == [PtpEdit("36415", "36416", date(2010, 1, 1), None, "1", "")]


def test_ptp_file_in_windows_1252(tmp_path: Path) -> None:
    path = write(tmp_path, "ptp.txt", "CPT\u00ae only copyright 2025 AMA\n" + PTP_TXT, encoding="cp1252")
    assert len(load_ptp_file(path)) == 3


@pytest.mark.parametrize(("row", "column", "problem"), [
    ("8005\t80048\t\t20100101\t*\t0\tx", "column 1 (Column 1)", "'8005' is not a five-character HCPCS/CPT code"),
    ("80053\t\t\t20100101\t*\t0\tx", "column 2 (Column 2)", "'' is not a five-character"),
    ("80053\t80048\t\t2010-01-01\t*\t0\tx", "column 4 (Effective Date)", "'2010-01-01' is not a date as YYYYMMDD"),
    ("80053\t80048\t\t20101301\t*\t0\tx", "column 4 (Effective Date)", "'20101301' is not a date"),
    ("80053\t80048\t\t20100101\tnever\t0\tx", "column 5 (Deletion Date *=no data)", "'never' is not a date"),
    ("80053\t80048\t\t20100101\t*\t2\tx", "column 6 (Modifier 0=not allowed 1=allowed 9=not applicable)",
     "'2' is not a modifier indicator"),
    ("80053\t80048\t\t20100101", "column 6 (Modifier", "'' is not a modifier indicator"),  # a row cut short
])
def test_a_malformed_ptp_row_names_file_line_and_column(tmp_path: Path, row: str, column: str, problem: str) -> None:
    path = write(tmp_path, "bad.txt", PTP_TXT + row + "\n")
    with pytest.raises(InputError) as caught:
        load_ptp_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 9, {column}")
    assert problem in message
    assert caught.value.params["line"] == 9


def test_a_file_without_a_ptp_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no PTP header row found"):
        load_ptp_file(write(tmp_path, "mue.csv", MUE_CSV))


def test_a_ptp_header_lacking_required_columns_is_refused() -> None:
    with pytest.raises(InputError, match=r"line 2: the header row lacks the columns for effective, modifier"):
        parse_ptp_text("notice\nColumn 1,Column 2,Deletion Date\n80053,80048,*\n", source="x.csv")


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        load_ptp_file(tmp_path / "missing.txt")


# ---- MUE ------------------------------------------------------------------------------------------

def test_mue_csv_after_its_multi_line_notice(tmp_path: Path) -> None:
    edits = load_mue_file(write(tmp_path, "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv", MUE_CSV))
    assert edits == [
        MueEdit("99213", 1, "2", "CMS Policy"),
        MueEdit("20610", 2, "1", "Anatomic Consideration"),
        MueEdit("J1885", 8, "3", "Prescribing Information"),
    ]


@pytest.mark.parametrize("values_column", ["Outpatient Hospital Services MUE Values",
                                           "DME Supplier Services MUE Values"])
def test_mue_tables_of_other_settings(values_column: str) -> None:
    text = MUE_CSV.replace("Practitioner Services MUE Values", values_column)
    assert [edit.code for edit in parse_mue_text(text)] == ["99213", "20610", "J1885"]


def test_mue_tab_separated() -> None:
    text = "HCPCS/CPT Code\tPractitioner Services MUE Values\tMUE Adjudication Indicator\tMUE Rationale\n" \
           "E0114\t1\t3 Date of Service Edit: Clinical\tNature of Equipment\n"
    assert parse_mue_text(text) == [MueEdit("E0114", 1, "3", "Nature of Equipment")]


@pytest.mark.parametrize(("row", "column", "problem"), [
    ("99214,one,2 Date of Service Edit: Policy,x", "column 2 (Practitioner Services MUE Values)",
     "'one' is not a whole number of units"),
    ("99214,-1,2 Date of Service Edit: Policy,x", "column 2", "'-1' is not a whole number"),
    ("99214,1,4 Date of Service Edit,x", "column 3 (MUE Adjudication Indicator)",
     "'4 Date of Service Edit' does not start with an adjudication indicator"),
    ("99214,1,12,x", "column 3", "'12' does not start"),
    ("99214,1,,x", "column 3", "'' does not start"),
    ("9921,1,1 Line Edit,x", "column 1 (HCPCS/ CPT Code)", "'9921' is not a five-character HCPCS/CPT code"),
])
def test_a_malformed_mue_row_names_file_line_and_column(tmp_path: Path, row: str, column: str, problem: str) -> None:
    path = write(tmp_path, "mue.csv", MUE_CSV + row + "\r\n")
    with pytest.raises(InputError) as caught:
        load_mue_file(path)
    assert str(caught.value).startswith(f"{path}: line 9, {column}")
    assert problem in str(caught.value)


def test_a_file_without_an_mue_header_is_refused() -> None:
    with pytest.raises(InputError, match="no MUE header row found"):
        parse_mue_text(PTP_TXT, source="ptp.txt")


# ---- tables ---------------------------------------------------------------------------------------

def test_load_ncci_tables_from_several_files(tmp_path: Path) -> None:
    part1 = write(tmp_path, "f1.txt", PTP_TXT)
    part2 = write(tmp_path, "f2.txt", PTP_HEADER + "\n80053\t80048\t\t20260101\t*\t1\tsecond period\n")
    override = write(tmp_path, "local.csv", "HCPCS/CPT Code,Practitioner Services MUE Values,"
                                            "MUE Adjudication Indicator,MUE Rationale\n20610,4,1 Line Edit,local\n")
    tables = load_ncci_tables([part1, part2], [write(tmp_path, "mue.csv", MUE_CSV), override])
    assert len(tables.ptp[("80053", "80048")]) == 2
    assert tables.ptp_edit("80053", "80048", date(2026, 3, 1)).modifier_indicator == "1"  # type: ignore[union-attr]
    assert tables.mue["20610"] == MueEdit("20610", 4, "1", "local")  # the later file wins
    assert tables.mue["99213"].units == 1


def test_normalise_header() -> None:
    assert normalise_header("HCPCS/\r\nCPT Code") == "hcpcs/cptcode"
    assert normalise_header(" Deletion Date *=no data ") == "deletiondate*=nodata"

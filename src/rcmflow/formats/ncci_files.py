"""Read the CMS NCCI quarterly files: procedure-to-procedure (PTP) and medically unlikely edit (MUE) tables.

PTP files (e.g. ``ccipra-v322r0-f1.txt``) are tab-separated text, or CSV when exported from the Excel release;
the header row names the columns::

    Column 1 | Column 2 | *=in existence prior to 1996 | Effective Date | Deletion Date *=no data |
    Modifier 0=not allowed 1=allowed 9=not applicable | PTP Edit Rationale

Dates are YYYYMMDD; a deletion date of ``*`` means the edit is in force. MUE files are CSV::

    HCPCS/CPT Code | Practitioner Services MUE Values | MUE Adjudication Indicator | MUE Rationale

where the values column is named for the table (Practitioner, Outpatient Hospital or DME Supplier Services) and
the indicator is text such as ``2 Date of Service Edit: Policy`` whose leading digit counts.

CMS puts an AMA copyright notice (sometimes a quoted cell running over several lines) before the header, and
header cells may break over lines (``"HCPCS/\\nCPT Code"``): everything before the header row is skipped, and
header names are matched ignoring case and white space. The delimiter is found by trying tab, then comma, for
the header row. A malformed data row raises ``InputError`` naming the file, line and column.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path

from rcmflow.domain.ncci import ADJUDICATION_INDICATORS, MODIFIER_INDICATORS, MueEdit, NcciTables, PtpEdit
from rcmflow.errors import InputError

_CODE = re.compile(r"[0-9A-Z]{5}")
_YYYYMMDD = re.compile(r"[0-9]{8}")
_DELIMITERS = ("\t", ",")

Row = list[str]


def normalise_header(cell: str) -> str:
    """A header cell as matched: lower case without any white space (``"HCPCS/\\nCPT Code"`` -> ``hcpcs/cptcode``)."""
    return re.sub(r"\s+", "", cell).lower()


class _Columns:
    """Where each field of a layout is in a file, with the header names for error messages."""

    def __init__(self, source: str, header: Row, indexes: dict[str, int]) -> None:
        self.source = source
        self.header = header
        self.indexes = indexes

    def cell(self, row: Row, field: str) -> str:
        index = self.indexes.get(field)
        return row[index].strip() if index is not None and index < len(row) else ""

    def error(self, line: int, field: str, problem: str) -> InputError:
        index = self.indexes[field]
        name = " ".join(self.header[index].split())
        return InputError(f"{self.source}: line {line}, column {index + 1} ({name}): {problem}",
                          source=self.source, line=line, column=index + 1)


# Each layout: field -> predicate over a normalised header cell; required fields; how to spot the header row.
_PTP_FIELDS: dict[str, Callable[[str], bool]] = {
    "column1": lambda name: name == "column1",
    "column2": lambda name: name == "column2",
    "effective": lambda name: name.startswith("effective"),
    "deleted": lambda name: name.startswith("deletion"),
    "modifier": lambda name: name.startswith("modifier"),
    "rationale": lambda name: "rationale" in name,
}
_PTP_REQUIRED = ("column1", "column2", "effective", "deleted", "modifier")
_MUE_FIELDS: dict[str, Callable[[str], bool]] = {
    "code": lambda name: name == "hcpcs/cptcode",
    "units": lambda name: name.endswith("muevalues"),
    "indicator": lambda name: "adjudicationindicator" in name,
    "rationale": lambda name: "rationale" in name,
}
_MUE_REQUIRED = ("code", "units", "indicator")


def _is_ptp_header(cells: list[str]) -> bool:
    return "column1" in cells and "column2" in cells


def _is_mue_header(cells: list[str]) -> bool:
    return "hcpcs/cptcode" in cells


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, Row]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for row in reader:
        yield reader.line_num, row


def _locate(text: str, source: str, is_header: Callable[[list[str]], bool], fields: dict[str, Callable[[str], bool]],
            required: Sequence[str], what: str) -> tuple[_Columns, Iterator[tuple[int, Row]]]:
    for delimiter in _DELIMITERS:
        rows = _rows(text, delimiter)
        try:
            for line, row in rows:
                cells = [normalise_header(cell) for cell in row]
                if is_header(cells):
                    return _columns(source, line, row, cells, fields, required), rows
        except csv.Error as exc:  # a stray quote in the preamble under the wrong delimiter: try the next one
            if delimiter == _DELIMITERS[-1]:
                raise InputError(f"{source}: not readable as a {what} file ({exc})", source=source) from exc
    raise InputError(f"{source}: no {what} header row found (is this a CMS NCCI {what} file?)", source=source)


def _columns(source: str, line: int, row: Row, cells: list[str], fields: dict[str, Callable[[str], bool]],
             required: Sequence[str]) -> _Columns:
    indexes: dict[str, int] = {}
    for index, cell in enumerate(cells):
        for field, matches in fields.items():
            if field not in indexes and matches(cell):
                indexes[field] = index
                break
    missing = [field for field in required if field not in indexes]
    if missing:
        raise InputError(f"{source}: line {line}: the header row lacks the columns for {', '.join(missing)}",
                         source=source, line=line)
    return _Columns(source, row, indexes)


def _data_rows(rows: Iterator[tuple[int, Row]], columns: _Columns, first_field: str,
               second_field: str) -> Iterator[tuple[int, Row]]:
    """Rows after the header, without blank rows and without the header's continuation rows."""
    started = False
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if not started and not columns.cell(row, first_field) and not columns.cell(row, second_field):
            continue  # a header cell broken over lines leaves rows with the key columns empty
        started = True
        yield line, row


@lru_cache(maxsize=8192)
def _date(text: str) -> date:
    # Cached: a quarterly file repeats a few thousand dates over hundreds of thousands of rows.
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _parse_date(columns: _Columns, line: int, row: Row, field: str) -> date:
    text = columns.cell(row, field)
    if _YYYYMMDD.fullmatch(text):
        try:
            return _date(text)
        except ValueError:
            pass
    raise columns.error(line, field, f"{text!r} is not a date as YYYYMMDD")


def _procedure_code(columns: _Columns, line: int, row: Row, field: str) -> str:
    code = columns.cell(row, field).upper()
    if not _CODE.fullmatch(code):
        raise columns.error(line, field, f"{code!r} is not a five-character HCPCS/CPT code")
    return code


def _ptp_edit(columns: _Columns, line: int, row: Row) -> PtpEdit:
    column1 = _procedure_code(columns, line, row, "column1")
    column2 = _procedure_code(columns, line, row, "column2")
    effective = _parse_date(columns, line, row, "effective")
    deleted = None if columns.cell(row, "deleted") in ("", "*") else _parse_date(columns, line, row, "deleted")
    indicator = columns.cell(row, "modifier")
    if indicator not in MODIFIER_INDICATORS:
        raise columns.error(line, "modifier", f"{indicator!r} is not a modifier indicator (0, 1 or 9)")
    return PtpEdit(column1, column2, effective, deleted, indicator, sys.intern(columns.cell(row, "rationale")))


def _mue_edit(columns: _Columns, line: int, row: Row) -> MueEdit:
    code = _procedure_code(columns, line, row, "code")
    units = columns.cell(row, "units")
    if not units.isdigit() or not units.isascii():
        raise columns.error(line, "units", f"{units!r} is not a whole number of units")
    indicator = columns.cell(row, "indicator")
    if indicator[:1] not in ADJUDICATION_INDICATORS or indicator[1:2].isdigit():
        raise columns.error(line, "indicator", f"{indicator!r} does not start with an adjudication indicator (1-3)")
    return MueEdit(code, int(units), indicator[:1], sys.intern(columns.cell(row, "rationale")))


def parse_ptp_text(text: str, *, source: str = "<text>") -> list[PtpEdit]:
    """The PTP edits of a CMS PTP file's text."""
    columns, rows = _locate(text, source, _is_ptp_header, _PTP_FIELDS, _PTP_REQUIRED, "PTP")
    return [_ptp_edit(columns, line, row) for line, row in _data_rows(rows, columns, "column1", "column2")]


def parse_mue_text(text: str, *, source: str = "<text>") -> list[MueEdit]:
    """The MUEs of a CMS MUE file's text."""
    columns, rows = _locate(text, source, _is_mue_header, _MUE_FIELDS, _MUE_REQUIRED, "MUE")
    return [_mue_edit(columns, line, row) for line, row in _data_rows(rows, columns, "code", "units")]


def read_text(path: str | Path, what: str) -> str:
    """A file's text: UTF-8 (with or without a byte order mark), else Windows-1252 as CMS files often are."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot be read ({exc.strerror or exc})", source=str(path)) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_ptp_file(path: str | Path) -> list[PtpEdit]:
    """The edits of one CMS PTP file (.txt tab-separated or .csv)."""
    return parse_ptp_text(read_text(path, "PTP file"), source=str(path))


def load_mue_file(path: str | Path) -> list[MueEdit]:
    """The edits of one CMS MUE file (practitioner, outpatient hospital or DME supplier table)."""
    return parse_mue_text(read_text(path, "MUE file"), source=str(path))


def load_ncci_tables(ptp_paths: Iterable[str | Path], mue_paths: Iterable[str | Path]) -> NcciTables:
    """Tables from CMS files: every PTP file of a release (CMS splits them in parts), and MUE files.

    A code in more than one MUE file keeps the value of the last, so a local override file can follow the CMS
    table; load one MUE table (practitioner, outpatient hospital or DME) per kind of claim.
    """
    ptp = [edit for path in ptp_paths for edit in load_ptp_file(path)]
    mue = [edit for path in mue_paths for edit in load_mue_file(path)]
    return NcciTables.from_edits(ptp, mue)

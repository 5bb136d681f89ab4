"""Read charge CSV files (one row per service line) into canonical claims, for practices without an interface.

The layout is documented in docs/formats/charge-csv.md: UTF-8 (a byte order mark is allowed), comma
separated, RFC 4180 quoting, a header row first. Columns are found by their header name (any case, any
order); a name the layout does not define refuses the file, so that no column is silently ignored.

Rows of one claim share ``claim_id``; they may be anywhere in the file and claims keep the order their
first row has. Claim-level columns may be repeated on every row of a claim or given on one of them, but
two different values for one claim are a conflict. A bad value refuses its claim only (a located
``SourceIssue``), a bad file (encoding, CSV syntax, header, a row without ``claim_id``) refuses every claim.
Rows are numbered by the file line they start on, the header being row 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.charges import ChargeFile, CoverageFact, OtherCoverage, SourceClaim, SourceIssue
from rcmflow.domain.claim import Claim, HealthCareCode, Patient, ServiceLine, Subscriber, assign_line_control_numbers
from rcmflow.domain.identifiers import is_valid_tin
from rcmflow.domain.money import total
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.bank_issues import show
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS

FORMAT = "charge-csv"
CLAIM_COLUMNS = (
    "claim_id", "claim_type", "frequency", "original_claim_number", "patient_id",
    "patient_last_name", "patient_first_name", "patient_birth_date", "patient_sex",
    "patient_address", "patient_city", "patient_state", "patient_zip", "relationship",
    "subscriber_last_name", "subscriber_first_name", "subscriber_birth_date", "subscriber_sex",
    "subscriber_address", "subscriber_city", "subscriber_state", "subscriber_zip",
    "member_id", "group_number", "payer_id", "payer_name", "payer_order", "filing_indicator",
    "billing_npi", "billing_name", "billing_tax_id", "billing_taxonomy",
    "billing_address", "billing_city", "billing_state", "billing_zip",
    "rendering_npi", "rendering_last_name", "rendering_first_name", "rendering_taxonomy",
    "place_of_service", "bill_type", "prior_authorization", "diagnoses",
    "statement_from", "statement_to", "admission_date", "coverage_active", "coverage_start", "coverage_end",
    "secondary_payer_id", "secondary_payer_name", "secondary_member_id", "secondary_group_number",
    "secondary_filing_indicator",
)
LINE_COLUMNS = (
    "line_number", "service_date", "service_date_end", "procedure_code", "modifiers", "revenue_code", "units",
    "charge", "line_place_of_service", "diagnosis_pointers", "line_item_control_number",
)
CHARGE_CSV_COLUMNS = CLAIM_COLUMNS + LINE_COLUMNS
REQUIRED_COLUMNS = ("claim_id", "service_date", "charge")

# X12 maximum lengths of the elements free-text columns become (CLM01 38, REF02 50, NM103 60, NM104 35,
# N301 55, N401 30, SBR03 50, NM109 80): a longer value could not be sent.
_MAX_LENGTH = {
    "claim_id": 38, "original_claim_number": 50, "patient_id": 50, "prior_authorization": 50,
    "group_number": 50, "line_item_control_number": 50, "member_id": 80, "payer_id": 80,
    "secondary_payer_id": 80, "secondary_payer_name": 60, "secondary_member_id": 80, "secondary_group_number": 50,
    "billing_name": 60, "payer_name": 60, "patient_last_name": 60, "subscriber_last_name": 60,
    "rendering_last_name": 60, "patient_first_name": 35, "subscriber_first_name": 35, "rendering_first_name": 35,
    "patient_address": 55, "subscriber_address": 55, "billing_address": 55,
    "patient_city": 30, "subscriber_city": 30, "billing_city": 30,
}
# A value holding an X12 delimiter cannot be written into an 837 without corrupting it.
_UNWRITABLE = "".join(DEFAULT_DELIMITERS)
_FREQUENCIES = ("1", "7", "8")
_NEEDS_ORIGINAL = ("7", "8")
# PAT01 individual relationship codes of the 837 (18 self is SBR02, the others go to the patient level).
_RELATIONSHIPS = ("18", "01", "19", "20", "21", "39", "40", "53", "G8")
_SEXES = ("M", "F", "U")
_PAYER_ORDERS = ("P", "S", "T")
_FILING_INDICATORS = (
    "11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM", "MA", "MB", "MC",
    "OF", "TV", "VA", "WC", "ZZ",
)
_MAX_DIAGNOSES = {"P": 12, "I": 25}  # 837P: one HI of 12; 837I: principal plus two HIs of 12 others
_MAX_MODIFIERS = 4
_MAX_POINTERS = 4

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
_QUANTITY = re.compile(r"[0-9]+(?:\.[0-9]{1,3})?")
_TWO_DIGITS = re.compile(r"[0-9]{2}")
_BILL_TYPE = re.compile(r"0?[0-9]{2}[0-9A-Z]")
_STATE = re.compile(r"[A-Z]{2}")
_ZIP = re.compile(r"[0-9]{5}(?:-?[0-9]{4})?")
# Code shapes are checked loosely here (letters and digits of a length X12 can carry); whether a code is
# valid is the scrubber's to say, by a named rule, so a mistyped code holds the claim instead of dropping it.
_NPI_SHAPE = re.compile(r"[0-9]{10}")
_TAXONOMY = re.compile(r"[0-9A-Z]{1,50}")
_PROCEDURE = re.compile(r"[0-9A-Z]{1,48}")
_MODIFIER = re.compile(r"[0-9A-Z]{1,2}")
_REVENUE = re.compile(r"[0-9]{3,4}")
_ICD10 = re.compile(r"[0-9A-Z]{1,30}")
_LIST_SEPARATOR = re.compile(r"[:;]")
_HEAD = 8 * 1024
# .xlsx (a zip archive) and .xls (an OLE2 compound file): a workbook sent instead of its CSV export.
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


class _Row(NamedTuple):
    number: int  # the file line the record starts on; the header is row 1
    values: dict[str, str]  # column name -> stripped text, for the columns the row has


class _Problem(NamedTuple):
    row: int
    column: str
    message: str


class _Person(NamedTuple):
    """A patient's or subscriber's columns; field names are the column names without their prefix."""

    last_name: str
    first_name: str
    birth_date: date | None
    sex: str
    address: str
    city: str
    state: str
    zip: str


class _Fields:
    """The values of one claim (claim-level columns, merged over its rows) or of one row, each with the row it
    came from. Typed readers record a problem and return an empty value when the text is bad, so that every
    problem of a claim is reported at once."""

    def __init__(self, values: dict[str, tuple[str, int]], row: int, problems: list[_Problem]) -> None:
        self._values = values
        self._row = row
        self.problems = problems

    @classmethod
    def of_row(cls, row: _Row, problems: list[_Problem]) -> _Fields:
        return cls({name: (value, row.number) for name, value in row.values.items()}, row.number, problems)

    def raw(self, name: str) -> str:
        return self._values.get(name, ("", 0))[0]

    def row(self, name: str) -> int:
        """The row the value came from, or the claim's first row when it is blank."""
        return self._values.get(name, ("", self._row))[1]

    def bad(self, name: str, message: str, row: int | None = None) -> None:
        self.problems.append(_Problem(self.row(name) if row is None else row, name, message))

    def required(self, name: str, why: str = "") -> bool:
        if self.raw(name):
            return True
        self.bad(name, f"{name} is required{why}")
        return False

    def not_for(self, name: str, kind: str) -> bool:
        """Report a value the claim type has no place for (nothing given is silently dropped)."""
        if not self.raw(name):
            return False
        other = "institutional (I)" if kind == "P" else "professional (P)"
        self.bad(name, f"{name} {show(self.raw(name))} is only for {other} claims; this claim_type is {kind}")
        return True

    def text(self, name: str) -> str:
        value = self.raw(name)
        limit = _MAX_LENGTH.get(name, 80)
        if len(value) > limit:
            self.bad(name, f"{name} is {len(value)} characters long; the 837 allows at most {limit}")
            return ""
        if not value.isprintable() or any(char in _UNWRITABLE for char in value):
            self.bad(name, f"{name} {show(value)} holds a line break, a control character or one of "
                           f"{' '.join(_UNWRITABLE)}, which an 837 cannot carry")
            return ""
        return value

    def code(self, name: str, allowed: Iterable[str], default: str = "") -> str:
        value = self.raw(name).upper()
        if not value:
            return default
        if value not in allowed:
            self.bad(name, f"{name} {show(self.raw(name))} is not one of {', '.join(allowed)}")
            return default
        return value

    def matching(self, name: str, pattern: re.Pattern[str], expected: str) -> str:
        value = self.raw(name).upper()
        if value and not pattern.fullmatch(value):
            self.bad(name, f"{name} {show(self.raw(name))} is not {expected}")
            return ""
        return value

    def date(self, name: str) -> date | None:
        value = self.raw(name)
        if not value:
            return None
        if _DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.bad(name, f"{name} {show(value)} is not a date; expected YYYY-MM-DD, like 2024-03-05")
        return None

    def npi(self, name: str) -> str:
        # Only the shape: a wrong check digit is the scrubber's finding (billing-npi-invalid), so the claim
        # is still read and the coder sees the rule, not a reading error.
        return self.matching(name, _NPI_SHAPE, "an NPI of 10 digits")


# ---- the file: encoding, CSV records, header ------------------------------------------------------


def looks_like_charge_csv(data: bytes) -> bool:
    """True when the first line is a CSV header naming claim_id, service_date and charge (any case)."""
    head = data[:_HEAD].decode("utf-8", errors="replace").lstrip("\ufeff")
    first_line = head.split("\n", 1)[0].rstrip("\r")
    try:
        header = next(csv.reader([first_line]), [])
    except csv.Error:
        return False
    names = {cell.strip().lower() for cell in header}
    return all(name in names for name in REQUIRED_COLUMNS)


def read_charge_csv(data: bytes, *, filename: str = "") -> ChargeFile:
    """Read a charge CSV file into source claims; never raises for bad content.

    ``filename`` only names the file in the messages of encoding problems.
    """
    text = _decode(data, filename)
    if isinstance(text, SourceIssue):
        return ChargeFile(FORMAT, (), (text,))
    header, records, issues = _records(text)
    columns = _columns(header, issues) if not issues else {}
    rows, pre_problems = _rows(records, columns, len(header), issues) if not issues else ([], {})
    if issues:
        return ChargeFile(FORMAT, (), tuple(issues))
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(row.values["claim_id"], []).append(row)
    claims: list[SourceClaim] = []
    for claim_id, claim_rows in groups.items():
        problems = pre_problems.get(claim_id, [])
        claim = _read_claim(claim_id, claim_rows, problems)
        if claim is not None:
            claims.append(claim)
        issues += [SourceIssue(claim_id, f"row {problem.row}", problem.column, problem.message)
                   for problem in sorted(problems, key=lambda problem: problem.row)]
    return ChargeFile(FORMAT, tuple(claims), tuple(issues))


def _decode(data: bytes, filename: str) -> str | SourceIssue:
    name = filename or "the file"
    if data.startswith(_WORKBOOK_MAGIC):
        return SourceIssue("", "line 1", "", f"{name} is a spreadsheet workbook, not CSV text; save it as "
                                             "CSV UTF-8 (comma delimited)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return SourceIssue("", f"line {line}", "", f"byte 0x{data[exc.start]:02X} on line {line} of {name} is not "
                                                   "UTF-8; save the file as CSV UTF-8")


def _records(text: str) -> tuple[list[str], list[tuple[int, list[str]]], list[SourceIssue]]:
    """The header and the non-blank records with the line each starts on (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    line = 0  # the last line of the last record read
    try:
        header = next(reader, [])
        line = reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
    except csv.Error as exc:
        # Bad quoting may have swallowed rows of any claim: no claim of the file can be trusted.
        return [], [], [SourceIssue("", f"line {line + 1}", "", f"CSV syntax error in the record starting on "
                                                               f"line {line + 1}: {exc}")]
    if not any(cell.strip() for cell in header):
        return [], [], [SourceIssue("", "row 1", "", "the first line must be the header row naming the columns; "
                                                     "it is empty")]
    return header, records, []


def _columns(header: list[str], issues: list[SourceIssue]) -> dict[str, int]:
    """Column name -> index; unknown, unnamed, repeated and missing required columns become file issues."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = cell.strip().lower()
        if not name:
            issues.append(SourceIssue("", "row 1", "", f"column {index + 1} of the header row has no name"))
        elif name not in CHARGE_CSV_COLUMNS:
            issues.append(SourceIssue("", "row 1", cell.strip(), f"column {show(cell.strip())} is not a charge CSV "
                                                                 "column (see docs/formats/charge-csv.md)"))
        elif name in columns:
            issues.append(SourceIssue("", "row 1", name, f"column {name} appears twice (columns "
                                                         f"{columns[name] + 1} and {index + 1})"))
        else:
            columns[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            issues.append(SourceIssue("", "row 1", name, f"required column {name} is missing from the header row"))
    return columns


def _rows(records: list[tuple[int, list[str]]], columns: dict[str, int], width: int,
          issues: list[SourceIssue]) -> tuple[list[_Row], dict[str, list[_Problem]]]:
    """The rows by column name, and the problems of rows whose field count is not the header's."""
    rows: list[_Row] = []
    problems: dict[str, list[_Problem]] = {}
    for number, cells in records:
        values = {name: cells[index].strip() for name, index in columns.items() if index < len(cells)}
        claim_id = values.get("claim_id", "")
        if not claim_id:
            # The row may be a line of any claim: billing its claim without it would under-bill.
            issues.append(SourceIssue("", f"row {number}", "claim_id", "the row has no claim_id, so the claim it "
                                                                       "belongs to is unknown"))
            continue
        if len(cells) != width:
            problems.setdefault(claim_id, []).append(
                _Problem(number, "", f"the row has {len(cells)} fields, the header {width}"))
        rows.append(_Row(number, values))
    return rows, problems


# ---- one claim -----------------------------------------------------------------------------------


def _read_claim(claim_id: str, rows: list[_Row], problems: list[_Problem]) -> SourceClaim | None:
    c = _Fields(_claim_values(rows, problems), rows[0].number, problems)
    c.text("claim_id")
    kind = c.code("claim_type", ("P", "I"), "P")
    facility_code, facility_qualifier, frequency = _facility(c, kind)
    references = _references(c, frequency)
    subscriber, patient = _insured(c)
    payer_id = c.text("payer_id")
    payer = Party("PR", c.text("payer_name"), entity_type="2", id_qualifier="PI" if payer_id else "", id=payer_id)
    billing = _billing(c)
    providers = _rendering(c, kind, billing.id)
    diagnoses = _diagnoses(c, kind)
    lines = _lines(rows, kind, None if diagnoses is None else len(diagnoses), problems)
    # SV105 is sent only when it differs from the claim's place of service (CLM05-1).
    lines = tuple(line._replace(place_of_service="") if line.place_of_service == facility_code else line
                  for line in lines)
    dates = _claim_dates(c, kind, lines)
    coverage = _coverage(c, payer_id, subscriber.party.id)
    other = _secondary(c, subscriber, patient)
    if problems:
        return None
    claim = Claim(kind, claim_id, total(line.charge for line in lines), facility_code, facility_qualifier, frequency,
                  "Y", "A", "Y", "Y", billing_provider=billing, subscriber=subscriber, payer=payer, patient=patient,
                  dates=dates, references=references, health_care_codes=diagnoses or (), providers=providers,
                  service_lines=lines)
    return SourceClaim(claim_id, assign_line_control_numbers(claim), coverage,
                       _rows_text([row.number for row in rows]), other_coverage=other)


def _secondary(c: _Fields, subscriber: Subscriber, patient: Patient | None) -> tuple[OtherCoverage, ...]:
    """The secondary coverage (billed after the primary's 835): the same insured person as the primary, under
    the secondary payer's member id; none when no secondary payer is given."""
    payer_id = c.text("secondary_payer_id")
    member_id = c.text("secondary_member_id")
    name = c.text("secondary_payer_name")
    group = c.text("secondary_group_number")
    indicator = c.text("secondary_filing_indicator") or "CI"
    if not payer_id:
        for column in ("secondary_member_id", "secondary_payer_name", "secondary_group_number"):
            if c.raw(column):
                c.bad(column, f"{column} is given without a secondary_payer_id")
        return ()
    party = subscriber.party._replace(id=member_id, id_qualifier="MI" if member_id else "")
    return (OtherCoverage(Party("PR", name, entity_type="2", id_qualifier="PI", id=payer_id),
                          subscriber._replace(payer_responsibility="S", group_number=group,
                                              filing_indicator=indicator, party=party), patient),)


def _claim_values(rows: list[_Row], problems: list[_Problem]) -> dict[str, tuple[str, int]]:
    """Claim-level values with their row: a value may be given on one row of the claim or repeated, but two
    different values are a conflict."""
    merged: dict[str, tuple[str, int]] = {}
    for row in rows:
        for name in CLAIM_COLUMNS:
            value = row.values.get(name, "")
            if not value:
                continue
            first = merged.get(name)
            if first is None:
                merged[name] = (value, row.number)
            elif first[0] != value:
                problems.append(_Problem(row.number, name, f"{name} {show(value)} differs from {show(first[0])} on "
                                                           f"row {first[1]}; the rows of a claim must agree on it"))
    return merged


def _rows_text(numbers: list[int]) -> str:
    """'row 2', 'rows 2-4', 'rows 2-3, 7'."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    parts = [str(first) if first == last else f"{first}-{last}" for first, last in runs]
    return ("row " if len(numbers) == 1 else "rows ") + ", ".join(parts)


def _facility(c: _Fields, kind: str) -> tuple[str, str, str]:
    """CLM05: place of service (P, qualifier B) or facility type from the bill type (I, qualifier A), and the
    frequency (an institutional bill type's third digit)."""
    frequency = c.code("frequency", _FREQUENCIES)
    if kind == "P":
        c.not_for("bill_type", kind)
        place = c.matching("place_of_service", _TWO_DIGITS, "a two-digit place of service code like 11")
        return place, "B", frequency or "1"
    c.not_for("place_of_service", kind)
    bill_type = c.matching("bill_type", _BILL_TYPE, "a three-digit bill type like 131 (facility type 13, "
                                                    "frequency 1)")[-3:]
    if not bill_type:
        return "", "A", frequency or "1"
    if frequency and frequency != bill_type[2]:
        c.bad("frequency", f"frequency {frequency} differs from {bill_type[2]}, the third digit of bill_type "
                           f"{bill_type}")
    return bill_type[:2], "A", bill_type[2]


def _references(c: _Fields, frequency: str) -> tuple[Reference, ...]:
    """REF G1 prior authorization, F8 the payer's number of the claim replaced or voided, EA medical record."""
    references = []
    if authorization := c.text("prior_authorization"):
        references.append(Reference("G1", authorization))
    original = c.text("original_claim_number")
    frequency_row = c.row("frequency") if c.raw("frequency") else c.row("bill_type")
    if frequency in _NEEDS_ORIGINAL and not c.raw("original_claim_number"):
        c.bad("original_claim_number", f"frequency {frequency} (replacement or void) needs original_claim_number, "
                                       "the payer's number of the claim it replaces", frequency_row)
    elif frequency == "1" and original:
        c.bad("original_claim_number", f"original_claim_number {show(original)} is only for a replacement (7) or "
                                       "void (8); this claim's frequency is 1 (original)")
    elif original:
        references.append(Reference("F8", original))
    if patient_id := c.text("patient_id"):
        references.append(Reference("EA", patient_id))
    return tuple(references)


# ---- parties -------------------------------------------------------------------------------------


def _address_fields(c: _Fields, prefix: str) -> tuple[str, str, str, str]:
    return (c.text(f"{prefix}_address"), c.text(f"{prefix}_city"),
            c.matching(f"{prefix}_state", _STATE, "a two-letter state code like CT"),
            c.matching(f"{prefix}_zip", _ZIP, "a ZIP code of 5 or 9 digits like 06101 or 06101-1234").replace("-", ""))


def _address(line1: str, city: str, state: str, postal_code: str) -> Address | None:
    if not (line1 or city or state or postal_code):
        return None
    return Address(line1, "", city, state, postal_code)


def _person(c: _Fields, prefix: str) -> _Person:
    return _Person(c.text(f"{prefix}_last_name"), c.text(f"{prefix}_first_name"), c.date(f"{prefix}_birth_date"),
                   c.code(f"{prefix}_sex", _SEXES), *_address_fields(c, prefix))


def _same_person(c: _Fields, patient: _Person, subscriber: _Person) -> _Person:
    """With relationship 18 the subscriber is the patient: each field from either set of columns, which must
    agree when both are given."""
    merged = []
    for field, mine, theirs in zip(_Person._fields, patient, subscriber, strict=True):
        if mine and theirs and mine != theirs:
            c.bad(f"subscriber_{field}", f"subscriber_{field} {show(str(theirs))} differs from patient_{field} "
                                         f"{show(str(mine))}; with relationship 18 (self) they are the same person")
        merged.append(mine or theirs)
    return _Person(*merged)


def _party(role: str, person: _Person, id_qualifier: str = "", id: str = "") -> Party:
    return Party(role, person.last_name, person.first_name, entity_type="1", id_qualifier=id_qualifier, id=id,
                 address=_address(person.address, person.city, person.state, person.zip),
                 birth_date=person.birth_date, gender=person.sex)


def _insured(c: _Fields) -> tuple[Subscriber, Patient | None]:
    """The subscriber (carrying the patient's demographics when they are the same person) and the patient
    when not. SBR02 is 18 for self and empty otherwise: the relationship then goes to PAT01."""
    relationship = c.code("relationship", _RELATIONSHIPS, "18")
    patient = _person(c, "patient")
    subscriber = _person(c, "subscriber")
    is_self = relationship == "18"
    if is_self:
        subscriber = _same_person(c, patient, subscriber)
    member_id = c.text("member_id")
    insured = _party("IL", subscriber, "MI" if member_id else "", member_id)
    return (Subscriber(c.code("payer_order", _PAYER_ORDERS, "P"), "18" if is_self else "", c.text("group_number"),
                       "", "", c.code("filing_indicator", _FILING_INDICATORS, "CI"), insured),
            None if is_self else Patient(relationship, _party("QC", patient)))


def _billing(c: _Fields) -> Party:
    npi = c.npi("billing_npi")
    tax_id = c.raw("billing_tax_id")
    if tax_id and not is_valid_tin(tax_id):
        c.bad("billing_tax_id", f"billing_tax_id {show(tax_id)} is not a tax id; expected 9 digits like "
                                "12-3456789 or 123456789")
        tax_id = ""
    return Party("85", c.text("billing_name"), entity_type="2", id_qualifier="XX" if npi else "", id=npi,
                 address=_address(*_address_fields(c, "billing")),
                 references=(Reference("EI", tax_id.replace("-", "")),) if tax_id else (),
                 taxonomy=c.matching("billing_taxonomy", _TAXONOMY, "a code of letters and digits like 207Q00000X"))


def _rendering(c: _Fields, kind: str, billing_npi: str) -> tuple[Party, ...]:
    """The rendering (P, NM1*82) or attending (I, NM1*71) provider, unless it is the billing provider."""
    npi = c.npi("rendering_npi")
    last, first = c.text("rendering_last_name"), c.text("rendering_first_name")
    taxonomy = c.matching("rendering_taxonomy", _TAXONOMY, "a code of letters and digits like 207Q00000X")
    if not (npi or last or first or taxonomy) or (npi and npi == billing_npi):
        return ()
    return (Party("82" if kind == "P" else "71", last, first, entity_type="1", id_qualifier="XX" if npi else "",
                  id=npi, taxonomy=taxonomy),)


# ---- diagnoses, dates, coverage ------------------------------------------------------------------


def _diagnoses(c: _Fields, kind: str) -> tuple[HealthCareCode, ...] | None:
    """HI: the first code is the principal diagnosis (ABK), the others ABF; None when the column is bad."""
    codes = [part.strip().replace(".", "").upper() for part in c.raw("diagnoses").split(";") if part.strip()]
    for code in codes:
        if not _ICD10.fullmatch(code):
            c.bad("diagnoses", f"diagnosis {show(code)} is not a code of letters and digits like J20.9")
            return None
    limit = _MAX_DIAGNOSES[kind]
    if len(codes) > limit:
        c.bad("diagnoses", f"{len(codes)} diagnoses given; a {'professional' if kind == 'P' else 'institutional'} "
                           f"claim carries at most {limit}")
        return None
    return tuple(HealthCareCode("ABK" if index == 0 else "ABF", code) for index, code in enumerate(codes))


def _claim_dates(c: _Fields, kind: str, lines: tuple[ServiceLine, ...]) -> tuple[QualifiedDate, ...]:
    """DTP 434 statement period (I: defaults to the span of the lines' dates) and 435 admission."""
    start, end = c.date("statement_from"), c.date("statement_to")
    admission = (QualifiedDate("435", day),) if (day := c.date("admission_date")) else ()
    if kind == "P":
        c.not_for("statement_from", kind)
        c.not_for("statement_to", kind)
        return admission
    if lines:
        start = start or min(line.dates[0].value for line in lines)
        end = end or max(line.dates[0].end or line.dates[0].value for line in lines)
    if start and end and end < start:
        c.bad("statement_to", f"statement_to {end} is before statement_from {start}")
        return admission
    return ((QualifiedDate("434", start, end),) if start and end else ()) + admission


def _coverage(c: _Fields, payer_id: str, member_id: str) -> CoverageFact | None:
    """Eligibility on file, only when the practice system said something about it."""
    active = c.code("coverage_active", ("Y", "N"))
    start, end = c.date("coverage_start"), c.date("coverage_end")
    if start and end and end < start:
        c.bad("coverage_end", f"coverage_end {end} is before coverage_start {start}")
    if not (c.raw("coverage_active") or c.raw("coverage_start") or c.raw("coverage_end")):
        return None
    return CoverageFact(payer_id, member_id, {"Y": True, "N": False}.get(active), start, end)


# ---- service lines -------------------------------------------------------------------------------


def _lines(rows: list[_Row], kind: str, diagnosis_count: int | None,
           problems: list[_Problem]) -> tuple[ServiceLine, ...]:
    """One line per row, ordered by line number."""
    lines = []
    used: dict[str, int] = {}
    for row, number in zip(rows, _line_numbers(rows, problems), strict=True):
        fields = _Fields.of_row(row, problems)
        line = _line(fields, number, kind, diagnosis_count)
        control = row.values.get("line_item_control_number", "")
        if control in used:
            fields.bad("line_item_control_number", f"line_item_control_number {show(control)} is already used on "
                                                   f"row {used[control]}; payers echo it to find the line")
        elif control:
            used[control] = row.number
        if line is not None:
            lines.append(line)
    return tuple(sorted(lines, key=lambda line: line.line_number))


def _line_numbers(rows: list[_Row], problems: list[_Problem]) -> list[int]:
    """line_number as given (on every row of the claim, 1 to n) or 1..n in row order when left blank."""
    given = [row.values.get("line_number", "") for row in rows]
    if not any(given):
        return list(range(1, len(rows) + 1))
    count = len(rows)
    seen: dict[int, int] = {}
    numbers: list[int] = []
    for row, text in zip(rows, given, strict=True):
        number = int(text) if text.isascii() and text.isdigit() else 0
        if not text:
            message = "line_number is blank here but given on other rows of the claim; give it on all or none"
        elif not 1 <= number <= count:
            message = f"line_number {show(text)} is not a number from 1 to {count}, the claim's number of lines"
        elif number in seen:
            message = f"line_number {number} is already used on row {seen[number]}"
        else:
            seen[number] = row.number
            message = ""
        if message:
            problems.append(_Problem(row.number, "line_number", message))
        numbers.append(number)
    return numbers


def _line(f: _Fields, number: int, kind: str, diagnosis_count: int | None) -> ServiceLine | None:
    start = f.date("service_date") if f.required("service_date") else None
    end = f.date("service_date_end")
    if start and end and end < start:
        f.bad("service_date_end", f"service_date_end {end} is before service_date {start}")
    charge = _amount(f, "charge")
    units = _units(f)
    procedure = _procedure(f, kind)
    revenue_code = _revenue_code(f, kind)
    place = "" if kind == "I" and f.not_for("line_place_of_service", kind) else f.matching(
        "line_place_of_service", _TWO_DIGITS, "a two-digit place of service code like 11")
    pointers = _pointers(f, kind, diagnosis_count)
    control = f.text("line_item_control_number")
    if start is None or charge is None:
        return None
    dates = (QualifiedDate("472", start, end if end and end != start else None),)
    return ServiceLine(number, charge, procedure, revenue_code, unit_basis="UN", units=units, place_of_service=place,
                       diagnosis_pointers=pointers, dates=dates, line_item_control_number=control)


def _amount(f: _Fields, name: str) -> Decimal | None:
    if not f.required(name):
        return None
    text = f.raw(name)
    if not _AMOUNT.fullmatch(text):
        f.bad(name, f"{name} {show(text)} is not an amount; expected dollars with at most two decimals, like 125.00")
        return None
    return Decimal(text)


def _units(f: _Fields) -> Decimal:
    text = f.raw("units")
    if not text:
        return Decimal("1")
    if _QUANTITY.fullmatch(text) and Decimal(text) > 0:
        return Decimal(text)
    f.bad("units", f"units {show(text)} is not a positive number; expected a count like 1 or 2.5")
    return Decimal("1")


def _procedure(f: _Fields, kind: str) -> Procedure | None:
    """SV101 / SV202: a CPT or HCPCS code with up to four modifiers; required on professional lines."""
    code = f.matching("procedure_code", _PROCEDURE, "a code of letters and digits like 99213")
    modifiers = tuple(part.strip().upper() for part in _LIST_SEPARATOR.split(f.raw("modifiers")) if part.strip())
    if kind == "P" and not f.raw("procedure_code"):
        f.required("procedure_code", " on the lines of a professional claim")
    if modifiers and not f.raw("procedure_code"):
        f.bad("modifiers", "modifiers are given without a procedure_code to modify")
    bad = [modifier for modifier in modifiers if not _MODIFIER.fullmatch(modifier)]
    if bad:
        f.bad("modifiers", f"modifier {show(bad[0])} is not a modifier; expected letters or digits like 25")
    elif len(modifiers) > _MAX_MODIFIERS:
        f.bad("modifiers", f"{len(modifiers)} modifiers given; a line carries at most {_MAX_MODIFIERS}")
    return Procedure("HC", code, modifiers) if code else None


def _revenue_code(f: _Fields, kind: str) -> str:
    """SV201, required on institutional lines; 3 digits get their leading zero back (spreadsheets drop it)."""
    if kind == "P":
        f.not_for("revenue_code", kind)
        return ""
    if not f.required("revenue_code", " on the lines of an institutional claim"):
        return ""
    return f.matching("revenue_code", _REVENUE, "a revenue code of four digits like 0450").zfill(4)


def _pointers(f: _Fields, kind: str, diagnosis_count: int | None) -> tuple[str, ...]:
    """SV107: 1-based positions in the claim's diagnoses; the principal diagnosis when left blank."""
    text = f.raw("diagnosis_pointers")
    if kind == "I":
        f.not_for("diagnosis_pointers", kind)
        return ()
    if not text:
        return ("1",) if diagnosis_count else ()
    pointers = tuple(part.strip() for part in _LIST_SEPARATOR.split(text) if part.strip())
    for pointer in pointers:
        if not (pointer.isascii() and pointer.isdigit() and int(pointer) >= 1):
            f.bad("diagnosis_pointers", f"diagnosis pointer {show(pointer)} is not a position like 1 or 2")
            return ()
        if diagnosis_count is not None and int(pointer) > diagnosis_count:
            f.bad("diagnosis_pointers", f"diagnosis pointer {pointer} is beyond the claim's {diagnosis_count} "
                                        "diagnoses")
            return ()
    if len(pointers) > _MAX_POINTERS or len(set(pointers)) != len(pointers):
        f.bad("diagnosis_pointers", f"diagnosis_pointers {show(text)}: a line points to at most {_MAX_POINTERS} "
                                    "different diagnoses")
        return ()
    return tuple(str(int(pointer)) for pointer in pointers)

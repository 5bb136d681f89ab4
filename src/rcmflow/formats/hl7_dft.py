"""Read HL7 v2 DFT^P03 (detail financial transaction) messages into ``SourceClaim``s (``domain.charges``).

One DFT^P03 posts one visit's charges: MSH, PID, PV1, one FT1 per charge, DG1 diagnoses, GT1, IN1. It
becomes at most one professional claim (837P) whose ``source_id`` is the PV1-19 visit number, else the first
FT1-2 transaction id, else the MSH-10 message control id. HL7 v2 has no billing provider field: the caller
configures one per sending (or servicing) facility as an ``HL7BillingProvider``.

Like the other charge readers this never raises for bad content. A message that is not a DFT^P03, or has no
PID or no FT1, is refused with a file-level ``SourceIssue`` (empty ``source_id``); a bad value (a date, an
amount, a credit posted as FT1-6 CD) keeps the claim out with an issue whose ``location`` is the segment
("FT1[2]") and whose ``field`` is the field ("FT1[2]-11"): the location an ACK's ERR-2 reports.

The message syntax is read here rather than with python-hl7 (0.4.5), which splits segments on CR only (a
message saved with CR LF or LF loses every segment after MSH), raises IndexError on a truncated MSH, and whose
``unescape`` calls the deprecated ``Logger.warn`` and decodes ``\\X..\\`` byte by byte as Latin-1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.charges import ChargeFile, CoverageFact, SourceClaim, SourceIssue
from rcmflow.domain.claim import Claim, HealthCareCode, Patient, ServiceLine, Subscriber, assign_line_control_numbers
from rcmflow.domain.money import CENT, round_cents, total
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.bank_issues import show
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS

__all__ = [
    "STANDARD_DELIMITERS", "Delimiters", "DftResult", "HL7BillingProvider", "Hl7Message", "Hl7SyntaxError",
    "Segment", "decode_message", "dtm_day", "escape", "read_delimiters", "read_dft_message", "split_message",
    "unescape",
]

FORMAT = "hl7v2"

# ---- HL7 v2 message syntax -----------------------------------------------------------------------


class Delimiters(NamedTuple):
    """MSH-1 and the MSH-2 encoding characters."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


STANDARD_DELIMITERS = Delimiters()


class Hl7SyntaxError(ValueError):
    """A message whose structure cannot be read; ``location`` is the segment, ``field`` the field."""

    def __init__(self, location: str, field: str, message: str) -> None:
        super().__init__(message)
        self.location, self.field, self.message = location, field, message


class Segment(NamedTuple):
    """One segment with its fields still escaped: ``fields[n]`` is field n (for MSH, ``fields[1]`` is the field
    separator and ``fields[2]`` the encoding characters, so MSH-n is ``fields[n]`` too)."""

    id: str
    occurrence: int  # 1-based among the message's segments with this id
    fields: tuple[str, ...]

    @property
    def name(self) -> str:
        """How problems name the segment: "PID" for segments a DFT^P03 holds once, "FT1[2]" for others."""
        return self.id if self.id in _SINGLE_SEGMENTS else f"{self.id}[{self.occurrence}]"

    def field(self, number: int) -> str:
        return self.fields[number] if number < len(self.fields) else ""


_SINGLE_SEGMENTS = frozenset({"MSH", "EVN", "PID", "PD1", "PV1", "PV2"})
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
# MSH-18 character sets (HL7 table 0211) a US feed sends; no MSH-18 means ASCII, which UTF-8 decodes too.
_CHARSETS = {"": "utf-8", "ASCII": "utf-8", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "8859/1": "latin-1",
             **{f"8859/{n}": f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 15)}}


class Hl7Message(NamedTuple):
    """A message split into segments; values are read by field, repetition, component and subcomponent."""

    delimiters: Delimiters
    segments: tuple[Segment, ...]
    encoding: str = "utf-8"  # for \\Xhh..\\ escapes

    def all(self, segment_id: str) -> tuple[Segment, ...]:
        return tuple(segment for segment in self.segments if segment.id == segment_id)

    def first(self, segment_id: str) -> Segment | None:
        return next((segment for segment in self.segments if segment.id == segment_id), None)

    def repetitions(self, segment: Segment, number: int) -> list[str]:
        """The raw repetitions of a field (none for an empty field)."""
        raw = segment.field(number)
        if segment.id == "MSH" and number <= 2:
            return [raw]
        return raw.split(self.delimiters.repetition) if raw else []

    def part(self, raw: str, component: int = 1, subcomponent: int = 1) -> str:
        """One subcomponent of a raw field repetition, unescaped and stripped; HL7 null ("") reads as empty."""
        components = raw.split(self.delimiters.component)
        if component > len(components):
            return ""
        subcomponents = components[component - 1].split(self.delimiters.subcomponent)
        if subcomponent > len(subcomponents):
            return ""
        value = unescape(subcomponents[subcomponent - 1], self.delimiters, self.encoding).strip()
        return "" if value == '""' else value

    def value(self, segment: Segment | None, number: int, component: int = 1, subcomponent: int = 1) -> str:
        """A subcomponent of a field's first repetition ("" when the segment is absent)."""
        if segment is None:
            return ""
        if segment.id == "MSH" and number <= 2:
            return segment.field(number)
        reps = self.repetitions(segment, number)
        return self.part(reps[0], component, subcomponent) if reps else ""


def decode_message(message: bytes | str) -> str:
    """The message as text, decoded with the MSH-18 character set; Hl7SyntaxError when it cannot be."""
    if isinstance(message, str):
        return message
    charset = _declared_charset(message)
    codec = _CHARSETS.get(charset.upper())
    if codec is None:
        raise Hl7SyntaxError("MSH", "MSH-18", f"character set {show(charset)} is not supported; send UNICODE UTF-8 "
                                              "or 8859/1")
    try:
        return message.decode(codec)
    except UnicodeDecodeError as exc:
        raise Hl7SyntaxError("MSH", "MSH-18", f"byte 0x{message[exc.start]:02X} at offset {exc.start} is not "
                                              f"{charset or 'ASCII/UTF-8'} text") from exc


def _declared_charset(data: bytes) -> str:
    """MSH-18 (first repetition) read from the raw bytes: every HL7 character set keeps ASCII delimiters."""
    start = data.find(b"MSH")
    if start < 0 or len(data) < start + 4:
        return ""
    header = re.split(rb"[\r\n]", data[start:], maxsplit=1)[0]
    fields = header.split(header[3:4])
    # fields[0] is "MSH", so MSH-18 (MSH-1 being the separator itself) is fields[17].
    return fields[17].split(b"~")[0].decode("ascii", errors="replace").strip() if len(fields) > 17 else ""


def split_message(text: str, encoding: str = "utf-8") -> Hl7Message:
    """Segments and delimiters of one message. Segments end with CR as the standard says; a message without
    any CR (saved by an editor, pasted from a log) is split on line feeds instead."""
    body = text.strip("\ufeff\x0b\x1c\r\n\t ")
    lines = body.split("\r") if "\r" in body else body.split("\n")
    lines = [line.lstrip("\n\t ") for line in lines]
    lines = [line for line in lines if line]
    if not lines or not lines[0].startswith("MSH"):
        raise Hl7SyntaxError("MSH", "MSH", "the message does not start with an MSH segment")
    delimiters = read_delimiters(lines[0])
    segments: list[Segment] = []
    counts: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        segment_id = line[:3]
        if not _SEGMENT_ID.fullmatch(segment_id) or line[3:4] not in ("", delimiters.field):
            raise Hl7SyntaxError(f"segment {number}", "", f"segment {number} ({show(line[:20])}) does not start with "
                                                         "a segment id like PID")
        counts[segment_id] = counts.get(segment_id, 0) + 1
        fields = line.split(delimiters.field)
        if segment_id == "MSH":
            fields = ["MSH", delimiters.field, *fields[1:]]
        segments.append(Segment(segment_id, counts[segment_id], tuple(fields)))
    return Hl7Message(delimiters, tuple(segments), encoding)


def read_delimiters(msh: str) -> Delimiters:
    """MSH-1 and MSH-2: four distinct encoding characters (2.7 adds a fifth, truncation, not used here)."""
    separator = msh[3:4]
    if not separator or separator.isalnum() or separator.isspace():
        raise Hl7SyntaxError("MSH", "MSH-1", "MSH-1, the character after MSH, must be the field separator, like |")
    encoding = msh[4:].split(separator, 1)[0]
    chars = encoding[:4]
    if len(chars) < 4 or len(set(chars + separator)) != 5 or any(c.isalnum() or c.isspace() for c in chars):
        raise Hl7SyntaxError("MSH", "MSH-2", f"MSH-2 encoding characters {show(encoding)} must be four distinct "
                                             "symbols, like ^~\\&")
    return Delimiters(separator, chars[0], chars[1], chars[2], chars[3])


def unescape(text: str, delimiters: Delimiters = STANDARD_DELIMITERS, encoding: str = "utf-8") -> str:
    """Resolve HL7 escape sequences: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ delimiters, \\Xhh..\\ bytes in the message's
    character set, \\.br\\ a line break. Highlighting, other formatting, character set switches and local
    \\Z..\\ sequences are dropped, as the standard tells receivers that do not support them; an escape
    character without its closing one is kept as sent."""
    esc = delimiters.escape
    if esc not in text:
        return text
    named = {"F": delimiters.field, "S": delimiters.component, "T": delimiters.subcomponent,
             "R": delimiters.repetition, "E": esc, ".br": "\n"}
    out: list[str] = []
    position = 0
    while (start := text.find(esc, position)) >= 0:
        end = text.find(esc, start + 1)
        if end < 0:
            break
        out.append(text[position:start])
        sequence = text[start + 1:end]
        if sequence in named:
            out.append(named[sequence])
        elif sequence[:1] == "X" and _HEX.fullmatch(sequence[1:]):
            out.append(bytes.fromhex(sequence[1:]).decode(encoding, errors="replace"))
        position = end + 1
    out.append(text[position:])
    return "".join(out)


def escape(text: str, delimiters: Delimiters = STANDARD_DELIMITERS) -> str:
    """Text made safe for one HL7 field component: delimiters escaped, line breaks and control characters
    (which would end the segment) turned into spaces."""
    replacements = {delimiters.escape: "E", delimiters.field: "F", delimiters.component: "S",
                    delimiters.subcomponent: "T", delimiters.repetition: "R"}
    out = []
    for char in text:
        if char in replacements:
            out.append(f"{delimiters.escape}{replacements[char]}{delimiters.escape}")
        else:
            out.append(" " if not char.isprintable() else char)
    return "".join(out)


# YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
_DTM = re.compile(r"([0-9]{4})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})"
                  r"(?:([0-9]{2})(?:\.[0-9]{1,4})?)?)?)?)?)?([+-][0-9]{4})?")


def dtm_day(text: str) -> date:
    """The calendar day of an HL7 DTM/TS value (YYYYMMDD[HH[MM[SS[.S]]]][+/-ZZZZ]) as the sender wrote it: a
    date of service is the local day, so the offset is checked but not applied. ValueError says why not."""
    match = _DTM.fullmatch(text)
    if match is None:
        raise ValueError("is not an HL7 date; expected YYYYMMDD[HHMM[SS]][+/-ZZZZ], like 20240304")
    year, month, day, hour, minute, second, zone = match.groups()
    if day is None:
        raise ValueError("is not a full date; a day (YYYYMMDD) is needed")
    try:
        result = date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError("is not a calendar date") from None
    late = (hour and int(hour) > 23) or (minute and int(minute) > 59) or (second and int(second) > 59)
    if late or (zone and (int(zone[1:3]) > 14 or int(zone[3:]) > 59)):
        raise ValueError("has a time of day or UTC offset out of range")
    return result


# ---- configuration and result --------------------------------------------------------------------


class HL7BillingProvider(NamedTuple):
    """The billing provider (837 2010AA) of the claims a sending or servicing facility's messages become,
    and the place of service each PV1-2 patient class bills with."""

    npi: str
    name: str
    tax_id: str = ""  # EIN, with or without its hyphen
    taxonomy: str = ""
    address: Address | None = None
    outpatient_place_of_service: str = "11"  # PV1-2 O (and classes not listed here): office
    emergency_place_of_service: str = "23"  # PV1-2 E: hospital emergency room
    inpatient_place_of_service: str = "21"  # PV1-2 I: inpatient hospital

    def place_of_service(self, patient_class: str) -> str:
        return {"E": self.emergency_place_of_service, "I": self.inpatient_place_of_service}.get(
            patient_class, self.outpatient_place_of_service)

    def party(self) -> Party:
        tax_id = self.tax_id.replace("-", "")
        return Party("85", self.name, entity_type="2", id_qualifier="XX", id=self.npi, address=self.address,
                     references=(Reference("EI", tax_id),) if tax_id else (), taxonomy=self.taxonomy)


class DftResult(NamedTuple):
    """What one message became: its header facts, the claim (zero or one) and the located problems."""

    control_id: str  # MSH-10
    sending_application: str  # MSH-3 (namespace id)
    sending_facility: str  # MSH-4 (namespace id)
    charges: ChargeFile

    @property
    def problems(self) -> tuple[SourceIssue, ...]:
        return self.charges.issues

    @property
    def ack_code(self) -> str:
        """AA when the claim was read; AR when the message was refused as a whole (not a DFT^P03, no PID or FT1,
        unreadable); AE when its content kept the claim out."""
        if not self.problems:
            return "AA"
        return "AR" if self.charges.file_issues else "AE"


# ---- reading a DFT^P03 ---------------------------------------------------------------------------

# X12 default delimiters and maximum element lengths: a value that breaks them could not be written to the 837.
_UNWRITABLE = "".join(DEFAULT_DELIMITERS)
MAX_PCN = 20  # CLM01 as payers process it
MAX_DIAGNOSES = 12  # one HI segment on an 837P
MAX_POINTERS = MAX_MODIFIERS = 4
_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CODE = re.compile(r"[0-9A-Z]{1,48}")
_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_ICD10 = re.compile(r"[0-9A-Z]{3,7}")
_NPI_SHAPE = re.compile(r"[0-9]{10}")
NPI_OID = "2.16.840.1.113883.4.6"
# Coding systems (HL7 table 0396 and common local spellings) whose codes are CPT or HCPCS; an FT1-7 in another
# system is a chargemaster code, which no payer knows.
PROCEDURE_SYSTEMS = frozenset({"", "C4", "C5", "CPT", "CPT4", "CPT-4", "HCPCS", "HCPT", "HPC"})
# IN1-17 -> PAT01. CHD and SPO read as the patient's relationship to the insured, as most senders fill IN1-17;
# PAR is the standard's own reading (the insured is the patient's parent), which makes the patient a child too.
RELATIONSHIPS = {"SEL": "18", "SPO": "01", "DOM": "53", "CHD": "19", "NCH": "19", "PAR": "19"}
SEXES = {"M": "M", "F": "F"}  # DMG03 has only F, M, U: O, A, N and U become U
FILING_INDICATORS = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM", "MA", "MB", "MC",
    "OF", "TV", "VA", "WC", "ZZ",
})
_US = ("", "US", "USA")


class _Problem(NamedTuple):
    location: str
    field: str
    message: str


class _Person(NamedTuple):
    last_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    suffix: str = ""
    birth_date: date | None = None
    sex: str = ""
    address: Address | None = None

    def party(self, role: str, id_qualifier: str = "", id: str = "") -> Party:
        return Party(role, self.last_name, self.first_name, self.middle_name, self.suffix, "1", id_qualifier, id,
                     self.address, birth_date=self.birth_date, gender=self.sex)


def read_dft_message(message: bytes | str,
                     billing: HL7BillingProvider | Mapping[str, HL7BillingProvider] | None = None) -> DftResult:
    """Read one DFT^P03 into a ChargeFile of zero or one claim; never raises for bad content.

    ``billing`` is the billing provider, or billing providers by facility: the first of PV1-39 servicing
    facility, PV1-3 location facility, the first FT1-16 location facility and MSH-4 sending facility that
    has one configured is used.
    """
    try:
        parsed = split_message(decode_message(message), _codec(message))
    except Hl7SyntaxError as problem:
        return DftResult("", "", "", ChargeFile(FORMAT, (), (SourceIssue("", problem.location, problem.field,
                                                                         problem.message),)))
    msh = parsed.segments[0]
    control_id = parsed.value(msh, 10)
    header = (control_id, _hd(parsed, msh, 3), _hd(parsed, msh, 4))
    refusal = _refusal(parsed)
    if refusal is not None:
        return DftResult(*header, ChargeFile(FORMAT, (), (SourceIssue("", *refusal),)))
    source_id, source_segment, source_number = _source_id(parsed)
    reading = _Reading(parsed)
    claim = _read_claim(reading, source_id, (source_segment, source_number), billing)
    issues = tuple(SourceIssue(source_id, *problem) for problem in reading.problems)
    claims = () if claim is None or issues else (
        SourceClaim(source_id, assign_line_control_numbers(claim[0]), claim[1], f"message {control_id}"),)
    return DftResult(*header, ChargeFile(FORMAT, claims, issues))


def _codec(message: bytes | str) -> str:
    """The codec \\X..\\ escapes decode with: the MSH-18 one for bytes, UTF-8 for text already decoded."""
    return _CHARSETS.get(_declared_charset(message).upper(), "utf-8") if isinstance(message, bytes) else "utf-8"


def _hd(message: Hl7Message, segment: Segment, number: int) -> str:
    """An HD field (application, facility): its namespace id, else its universal id."""
    return message.value(segment, number, 1) or message.value(segment, number, 2)


def _refusal(message: Hl7Message) -> _Problem | None:
    """Why the message is not one this reader takes, if it is not."""
    msh = message.segments[0]
    kind, event = message.value(msh, 9, 1), message.value(msh, 9, 2)
    if (kind, event) != ("DFT", "P03"):
        shown = f"{kind}^{event}" if event else kind or "empty"
        return _Problem("MSH", "MSH-9", f"message type {show(shown)} is not DFT^P03; this channel takes only "
                                        "detail financial transactions")
    if not message.value(msh, 10):
        return _Problem("MSH", "MSH-10", "MSH-10 message control id is required")
    for required, what in (("PID", "patient"), ("FT1", "charge")):
        if message.first(required) is None:
            return _Problem(required, required, f"the message has no {required} segment: no {what} to bill")
    return None


def _source_id(message: Hl7Message) -> tuple[str, Segment, int]:
    """The claim's id in the source and the field it came from: PV1-19, else the first FT1-2, else MSH-10."""
    for segment, number in ((message.first("PV1"), 19), (message.first("FT1"), 2), (message.segments[0], 10)):
        if segment is not None and (value := message.value(segment, number)):
            return value, segment, number
    raise AssertionError("_refusal requires MSH-10")


class _Reading:
    """Typed values of one message. A bad value records a located problem and reads as empty, so that every
    problem of the message is reported at once."""

    def __init__(self, message: Hl7Message) -> None:
        self.message = message
        self.problems: list[_Problem] = []

    def bad(self, segment: Segment | str, number: int | None, message: str) -> None:
        name = segment if isinstance(segment, str) else segment.name
        self.problems.append(_Problem(name, f"{name}-{number}" if number is not None else name, message))

    def text(self, segment: Segment, number: int, value: str, limit: int = 80) -> str:
        """A value the 837 will carry: refused when longer than its element or holding an X12 delimiter."""
        if len(value) > limit:
            self.bad(segment, number, f"{segment.id}-{number} is {len(value)} characters long; the 837 allows at "
                                      f"most {limit}")
            return ""
        if not value.isprintable() or any(char in _UNWRITABLE for char in value):
            self.bad(segment, number, f"{segment.id}-{number} {show(value)} holds a line break, a control character "
                                      f"or one of {' '.join(_UNWRITABLE)}, which an 837 cannot carry")
            return ""
        return value

    def day(self, segment: Segment, number: int, value: str) -> date | None:
        if not value:
            return None
        try:
            return dtm_day(value)
        except ValueError as exc:
            self.bad(segment, number, f"{segment.id}-{number} {show(value)} {exc}")
            return None

    def decimal(self, segment: Segment, number: int, value: str, what: str) -> Decimal | None:
        if not value:
            return None
        if not _AMOUNT.fullmatch(value):
            self.bad(segment, number, f"{segment.id}-{number} {show(value)} is not {what}")
            return None
        return Decimal(value)


def _read_claim(r: _Reading, source_id: str, source: tuple[Segment, int],
                billing: HL7BillingProvider | Mapping[str, HL7BillingProvider] | None
                ) -> tuple[Claim, CoverageFact | None] | None:
    m = r.message
    pid, pv1 = m.first("PID"), m.first("PV1")
    assert pid is not None  # _refusal saw it
    if len(source_id) > MAX_PCN:
        r.bad(*source, f"{source[0].id}-{source[1]} {show(source_id)} is longer than the {MAX_PCN} characters of a "
                       "patient control number")
    else:
        r.text(*source, source_id)
    provider = _billing_provider(r, billing)
    patient = _person(r, pid, name=5, birth=7, sex=8, address=11)
    subscriber, claim_patient, payer, coverage = _insurance(r, patient)
    codes = _diagnoses(r)
    attending = m.repetitions(pv1, 7) if pv1 is not None else []
    rendering = _provider(r, pv1, 7, attending[0], provider) if pv1 is not None and attending else None
    lines = _lines(r, codes, provider)
    if provider is None or not lines:
        return None
    if rendering is None:  # the first performer renders the claim when PV1-7 names no one
        rendering = next((line.providers[0] for line in lines if line.providers), None)
    # A line names its performer (2420A) only when it is not the claim's rendering provider.
    lines = tuple(line._replace(providers=()) if line.providers == (rendering,) else line for line in lines)
    patient_class = m.value(pv1, 2).upper()
    admitted = r.day(pv1, 44, m.value(pv1, 44)) if pv1 is not None and patient_class == "I" else None
    mrn = _medical_record_number(r, pid)
    claim = Claim(
        "P", source_id, total(line.charge for line in lines), provider.place_of_service(patient_class), "B", "1",
        "Y", "A", "Y", "Y", billing_provider=provider.party(), subscriber=subscriber, payer=payer,
        patient=claim_patient, dates=(QualifiedDate("435", admitted),) if admitted else (),
        references=(Reference("EA", mrn),) if mrn else (), health_care_codes=tuple(codes),
        providers=(rendering,) if rendering is not None else (), service_lines=lines,
    )
    return claim, coverage


# ---- parties -------------------------------------------------------------------------------------


def _billing_provider(r: _Reading, billing: HL7BillingProvider | Mapping[str, HL7BillingProvider] | None
                      ) -> HL7BillingProvider | None:
    if isinstance(billing, HL7BillingProvider):
        return billing
    m = r.message
    pv1, ft1 = m.first("PV1"), m.first("FT1")
    keys = [m.value(pv1, 39), m.value(pv1, 3, 4), m.value(ft1, 16, 4), _hd(m, m.segments[0], 4)]
    for key in keys:
        if key and billing and key in billing:
            return billing[key]
    tried = ", ".join(show(key) for key in dict.fromkeys(keys) if key) or "none given"
    r.bad("MSH", 4, f"no billing provider is configured for the message's facilities ({tried}): HL7 v2 has no "
                    "billing provider field")
    return None


def _pick(reps: list[str], m: Hl7Message, component: int, preferred: tuple[str, ...]) -> str:
    """The first repetition whose type (``component``) is preferred, else the first repetition."""
    for wanted in preferred:
        for rep in reps:
            if m.part(rep, component).upper() == wanted:
                return rep
    return reps[0] if reps else ""


def _person(r: _Reading, segment: Segment, *, name: int, birth: int, sex: int, address: int) -> _Person:
    """Name (XPN, the legal one first), birth date, sex and address (XAD, home first) of a PID, IN1 or GT1."""
    m = r.message
    xpn = _pick(m.repetitions(segment, name), m, 7, ("L",))
    last, first, middle, suffix = (r.text(segment, name, m.part(xpn, component), limit)
                                   for component, limit in ((1, 60), (2, 35), (3, 25), (4, 10)))
    sex_code = m.value(segment, sex).upper()
    return _Person(last, first, middle, suffix, r.day(segment, birth, m.value(segment, birth)),
                   SEXES.get(sex_code, "U") if sex_code else "", _address(r, segment, address))


def _address(r: _Reading, segment: Segment, number: int) -> Address | None:
    m = r.message
    xad = _pick(m.repetitions(segment, number), m, 7, ("H", "L", "M"))
    line1, line2, city, state, postal_code, country = (
        r.text(segment, number, m.part(xad, component), limit)
        for component, limit in ((1, 55), (2, 55), (3, 30), (4, 2), (5, 15), (6, 3)))
    if not (line1 or line2 or city or state or postal_code):
        return None
    return Address(line1, line2, city, state.upper(), postal_code.replace("-", "").replace(" ", ""),
                   "" if country.upper() in _US else country)


def _medical_record_number(r: _Reading, pid: Segment) -> str:
    """PID-3: the identifier typed MR, else the first."""
    m = r.message
    return r.text(pid, 3, m.part(_pick(m.repetitions(pid, 3), m, 5, ("MR",))), 50)


def _provider(r: _Reading, segment: Segment, number: int, rep: str, billing: HL7BillingProvider | None
              ) -> Party | None:
    """A rendering provider (NM1*82) from an XCN: its id is an NPI only when XCN-13 id type or XCN-9
    assigning authority says so; None when it names no one or is the billing provider."""
    m = r.message
    authority = (m.part(rep, 9, 1).upper(), m.part(rep, 9, 2))
    is_npi = m.part(rep, 13).upper() == "NPI" or authority[0] == "NPI" or authority[1] == NPI_OID
    npi = m.part(rep, 1) if is_npi else ""
    if npi and not _NPI_SHAPE.fullmatch(npi):
        r.bad(segment, number, f"{segment.id}-{number} NPI {show(npi)} is not 10 digits")
        npi = ""
    last, first, middle, suffix = (r.text(segment, number, m.part(rep, component), limit)
                                   for component, limit in ((2, 60), (3, 35), (4, 25), (5, 10)))
    if not (npi or last) or (npi and billing is not None and npi == billing.npi):
        return None
    return Party("82", last, first, middle, suffix, "1", "XX" if npi else "", npi)


def _insurance(r: _Reading, patient: _Person
               ) -> tuple[Subscriber, Patient | None, Party, CoverageFact | None]:
    """Subscriber, patient level, payer and coverage from the first IN1 by set id (the primary plan); a
    message without IN1 is self-pay and gets empty ones, for the scrubber to hold."""
    m = r.message
    plans = sorted(m.all("IN1"), key=lambda seg: (_set_id(m, seg), seg.occurrence))
    if not plans:
        return Subscriber("P", "18", party=patient.party("IL")), None, Party("PR"), None
    in1 = plans[0]
    payer_id = r.text(in1, 3, m.value(in1, 3)) or r.text(in1, 2, m.value(in1, 2))
    payer = Party("PR", r.text(in1, 4, m.value(in1, 4), 60), entity_type="2", id_qualifier="PI", id=payer_id)
    member_id = r.text(in1, 36, m.value(in1, 36)) or r.text(in1, 49, m.value(in1, 49))
    relationship_code = m.value(in1, 17).upper()
    relationship = RELATIONSHIPS.get(relationship_code, "G8") if relationship_code else "18"
    is_self = relationship == "18"
    insured = patient if is_self else _insured(r, in1)
    group_number = r.text(in1, 8, m.value(in1, 8), 50)
    filing = m.value(in1, 15).upper()
    subscriber = Subscriber(
        "P", "18" if is_self else "", group_number, "" if group_number else r.text(in1, 9, m.value(in1, 9), 60),
        filing_indicator=filing if filing in FILING_INDICATORS else "CI",
        party=insured.party("IL", "MI" if member_id else "", member_id))
    start, end = r.day(in1, 12, m.value(in1, 12)), r.day(in1, 13, m.value(in1, 13))
    if start and end and end < start:
        r.bad(in1, 13, f"IN1-13 plan expiration {end} is before IN1-12 plan effective date {start}")
    claim_patient = None if is_self else Patient(relationship, patient.party("QC"))
    return subscriber, claim_patient, payer, CoverageFact(payer_id, member_id, None, start, end)


def _insured(r: _Reading, in1: Segment) -> _Person:
    """The insured when not the patient: IN1-16/18/43/19, else the first GT1 (feeds often leave IN1-16 empty
    when the guarantor holds the policy)."""
    m = r.message
    if m.value(in1, 16):
        return _person(r, in1, name=16, birth=18, sex=43, address=19)
    gt1 = m.first("GT1")
    return _person(r, gt1, name=3, birth=8, sex=9, address=5) if gt1 is not None else _Person()


def _set_id(message: Hl7Message, segment: Segment) -> int:
    """Field 1, the set id, when it is a number (segments without one sort last, in message order)."""
    value = message.value(segment, 1)
    return int(value) if value.isdigit() else 1_000_000


# ---- diagnoses and charges -----------------------------------------------------------------------


def _icd10(r: _Reading, segment: Segment, number: int, code: str) -> str:
    """An ICD-10 code as the 837 sends it (upper case, no dot); whether it exists is the scrubber's to say."""
    normal = code.replace(".", "").strip().upper()
    if not _ICD10.fullmatch(normal):
        r.bad(segment, number, f"{segment.id}-{number} diagnosis {show(code)} is not an ICD-10 code like J20.9")
        return ""
    return normal


def _diagnoses(r: _Reading) -> list[HealthCareCode]:
    """DG1 codes in set id order, the principal first: DG1-15 priority 1, else the first final (F) or
    admitting (A) one, else the first; then FT1-19 codes that no DG1 lists."""
    m = r.message
    found: list[tuple[str, bool, bool]] = []  # (code, priority 1, final or admitting)
    for dg1 in sorted(m.all("DG1"), key=lambda seg: (_set_id(m, seg), seg.occurrence)):
        code = _icd10(r, dg1, 3, m.value(dg1, 3)) if m.value(dg1, 3) else ""
        if code and code not in (item[0] for item in found):
            found.append((code, m.value(dg1, 15) == "1", m.value(dg1, 6).upper() in ("F", "A")))
    principal = next((item for item in found if item[1]), None) or next((item for item in found if item[2]), None)
    ordered = [item[0] for item in found]
    if principal is not None:
        ordered.remove(principal[0])
        ordered.insert(0, principal[0])
    for ft1 in m.all("FT1"):
        for rep in m.repetitions(ft1, 19):
            code = _icd10(r, ft1, 19, m.part(rep)) if m.part(rep) else ""
            if code and code not in ordered:
                ordered.append(code)
    if len(ordered) > MAX_DIAGNOSES:
        r.bad("DG1", 3, f"{len(ordered)} diagnoses; an 837P carries at most {MAX_DIAGNOSES}")
    return [HealthCareCode("ABK" if n == 0 else "ABF", code) for n, code in enumerate(ordered)]


def _lines(r: _Reading, codes: list[HealthCareCode], billing: HL7BillingProvider | None) -> tuple[ServiceLine, ...]:
    """One service line per FT1, in message order; a line's control number (REF*6R) is its FT1-2 transaction
    id, so the payer's 835 names the EHR's own charge."""
    m = r.message
    positions = {code.code: str(n) for n, code in enumerate(codes, start=1)}
    lines: list[ServiceLine] = []
    used: set[str] = set()
    for number, ft1 in enumerate(m.all("FT1"), start=1):
        line = _line(r, ft1, number, positions, billing)
        if line is None:
            continue
        control = m.value(ft1, 2)
        writable = control.isprintable() and not any(char in _UNWRITABLE for char in control)
        if control and control not in used and len(control) <= 50 and writable:
            used.add(control)
            line = line._replace(line_item_control_number=control)
        lines.append(line)
    return tuple(lines)


def _line(r: _Reading, ft1: Segment, number: int, positions: dict[str, str],
          billing: HL7BillingProvider | None) -> ServiceLine | None:
    m = r.message
    kind = m.value(ft1, 6).upper()
    if kind != "CG":
        what = {"CD": "a credit", "PY": "a payment", "AJ": "an adjustment"}.get(kind, f"type {show(kind)}")
        r.bad(ft1, 6, f"FT1-6 transaction type is {what if kind else 'missing'}; only CG charges are billed "
                      "(credits, payments and adjustments are worked in the practice system)")
        return None
    start = r.day(ft1, 4, m.value(ft1, 4, 1, 1))
    end = _range_end(r, ft1)
    if not m.value(ft1, 4, 1, 1):
        r.bad(ft1, 4, "FT1-4 transaction date (the date of service) is required")
    if start and end and end < start:
        r.bad(ft1, 4, f"FT1-4 range end {end} is before its start {start}")
    units = _quantity(r, ft1)
    charge = _charge(r, ft1, units)
    procedure = _procedure(r, ft1)
    pointers = _pointers(r, ft1, positions)
    performers = m.repetitions(ft1, 20)
    performer = _provider(r, ft1, 20, performers[0], billing) if performers else None
    if start is None or charge is None or procedure is None or units is None:
        return None
    return ServiceLine(number, charge, procedure, unit_basis="UN", units=units, diagnosis_pointers=pointers,
                       dates=(QualifiedDate("472", start, end if end and end != start else None),),
                       providers=(performer,) if performer is not None else ())


def _range_end(r: _Reading, ft1: Segment) -> date | None:
    """FT1-4.2, the end of a DR range (2.4+); in 2.3 the second component of a TS is a precision code."""
    value = r.message.value(ft1, 4, 2, 1)
    return r.day(ft1, 4, value) if value[:1].isdigit() else None


def _quantity(r: _Reading, ft1: Segment) -> Decimal | None:
    """FT1-10, one when absent; must be positive (a negative quantity reverses a charge)."""
    value = r.message.value(ft1, 10)
    if not value:
        return Decimal("1")
    quantity = r.decimal(ft1, 10, value, "a quantity")
    if quantity is not None and quantity <= 0:
        r.bad(ft1, 10, f"FT1-10 quantity {show(value)} is not positive")
        return None
    return quantity


def _charge(r: _Reading, ft1: Segment, units: Decimal | None) -> Decimal | None:
    """FT1-11 extended amount, else FT1-12 unit amount times the quantity (rounded to the cent)."""
    m = r.message
    for number in (11, 12):
        value, currency = m.value(ft1, number, 1, 1), m.value(ft1, number, 1, 2).upper()
        if not value:
            continue
        amount = r.decimal(ft1, number, value, "an amount, like 125.00")
        if currency and currency != "USD":
            r.bad(ft1, number, f"FT1-{number} currency {show(currency)} is not USD")
            return None
        if amount is None:
            return None
        if amount < 0:
            r.bad(ft1, number, f"FT1-{number} amount {show(value)} is negative; a charge cannot be (credits are CD)")
            return None
        if number == 11:
            if amount != amount.quantize(CENT):
                r.bad(ft1, 11, f"FT1-11 amount {show(value)} has fractions of a cent")
                return None
            return amount.quantize(CENT)
        return round_cents(amount * units) if units is not None else None
    r.bad(ft1, 11, "FT1-11 extended amount is required (or FT1-12 unit amount)")
    return None


def _procedure(r: _Reading, ft1: Segment) -> Procedure | None:
    """FT1-25 procedure code (CPT/HCPCS) when sent, else FT1-7 transaction code when it is one; FT1-26
    modifiers."""
    m = r.message
    code, number = "", 7
    for candidate in (25, 7):
        value, system = m.value(ft1, candidate, 1), m.value(ft1, candidate, 3).upper()
        if value and system in PROCEDURE_SYSTEMS:
            code, number = value.upper(), candidate
            break
    if not code:
        sent = m.value(ft1, 7, 1)
        why = (f"FT1-7 {show(sent)} is a {m.value(ft1, 7, 3)} code, not CPT/HCPCS, and FT1-25 gives none" if sent
               else "FT1-25 procedure code or FT1-7 transaction code (CPT/HCPCS) is required")
        r.bad(ft1, 25 if m.value(ft1, 25) else 7, why)
        return None
    if not _CODE.fullmatch(code):
        r.bad(ft1, number, f"FT1-{number} procedure code {show(code)} is not a code of letters and digits like 99213")
        return None
    modifiers = tuple(m.part(rep).upper() for rep in m.repetitions(ft1, 26) if m.part(rep))
    if bad := [modifier for modifier in modifiers if not _MODIFIER.fullmatch(modifier)]:
        r.bad(ft1, 26, f"FT1-26 modifier {show(bad[0])} is not two letters or digits like 25")
        return None
    if len(modifiers) > MAX_MODIFIERS:
        r.bad(ft1, 26, f"{len(modifiers)} modifiers; an 837P line carries at most {MAX_MODIFIERS}")
        return None
    return Procedure("HC", code, modifiers)


def _pointers(r: _Reading, ft1: Segment, positions: dict[str, str]) -> tuple[str, ...]:
    """SV107 from FT1-19 (the first four, in the order sent); the principal diagnosis when FT1-19 is empty."""
    m = r.message
    codes = [m.part(rep).replace(".", "").upper() for rep in m.repetitions(ft1, 19) if m.part(rep)]
    pointers = tuple(dict.fromkeys(positions[code] for code in codes if code in positions))
    if not codes:
        return ("1",) if positions else ()
    return pointers[:MAX_POINTERS]

"""Segment definitions as data: each segment's elements with position, name, type and requirement.

The tables serve four purposes: strict validation of every element (``validate_segment``), locating
the element behind a failed conversion in the fast readers, the element reference numbers a 999
reports, and documentation. Transaction modules register the segments they read with ``define``.

Element types follow X12.6: AN string, ID code, R decimal number, N0/N2 implied-decimal integer,
DT date (CCYYMMDD, or YYMMDD in the ISA), TM time (HHMM[SS[d..]]), C composite (checked by parts).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from rcmflow.domain.money import is_amount_text


class ElementSpec(NamedTuple):
    """One element of a segment definition."""

    position: int
    name: str
    type: str = "AN"
    required: bool = False
    min_length: int = 1
    max_length: int = 80
    reference: str = ""  # X12 data element reference number, reported in 999 IK4-2
    codes: frozenset[str] | None = None
    repeat: int = 1  # maximum repetitions (EB03, EQ01 repeat up to 99 times)


class SegmentSpec(NamedTuple):
    """A segment definition: id, name and its elements in order."""

    id: str
    name: str
    elements: tuple[ElementSpec, ...]

    @property
    def max_elements(self) -> int:
        return max((e.position for e in self.elements), default=0)

    @property
    def required_positions(self) -> tuple[int, ...]:
        return tuple(e.position for e in self.elements if e.required)


SEGMENTS: dict[str, SegmentSpec] = {}
# Definitions narrowed by one implementation guide, keyed by (transaction type, segment id): the 835
# requires SVC03 while the 276 leaves it unused, so one global SVC cannot serve both.
NARROWED: dict[tuple[str, str], SegmentSpec] = {}


def define(seg_id: str, name: str, *elements: tuple, transaction: str = "") -> SegmentSpec:
    """Register a segment; each element is (name, type, required[, min, max[, reference[, codes[, repeat]]]]).

    With ``transaction`` ("276", "277CA", ...) the definition applies to that transaction type only.
    """
    specs = []
    for position, element in enumerate(elements, start=1):
        el_name, el_type, required, *rest = element
        min_length = rest[0] if len(rest) > 0 else 1
        max_length = rest[1] if len(rest) > 1 else 80
        reference = rest[2] if len(rest) > 2 else ""
        codes = frozenset(rest[3]) if len(rest) > 3 and rest[3] else None
        repeat = rest[4] if len(rest) > 4 else 1
        specs.append(ElementSpec(position, el_name, el_type, required, min_length, max_length, reference, codes,
                                 repeat))
    spec = SegmentSpec(seg_id, name, tuple(specs))
    if transaction:
        NARROWED[(transaction, seg_id)] = spec
    else:
        SEGMENTS[seg_id] = spec
    return spec


def spec_for(seg_id: str, transaction: str = "") -> SegmentSpec | None:
    """The definition of a segment in a transaction type: the narrowed one if any, else the shared one."""
    return NARROWED.get((transaction, seg_id)) or SEGMENTS.get(seg_id)


R, AN, ID, DT, TM, N0, C = "R", "AN", "ID", "DT", "TM", "N0", "C"

# Segments shared by several transaction sets (005010 definitions).
define("ST", "Transaction set header",
       ("transaction set identifier code", ID, True, 3, 3, "143"),
       ("transaction set control number", AN, True, 4, 9, "329"),
       ("implementation convention reference", AN, False, 1, 35, "1705"))
define("SE", "Transaction set trailer",
       ("number of included segments", N0, True, 1, 10, "96"),
       ("transaction set control number", AN, True, 4, 9, "329"))
define("BHT", "Beginning of hierarchical transaction",
       ("hierarchical structure code", ID, True, 4, 4, "1005"),
       ("transaction set purpose code", ID, True, 2, 2, "353"),
       ("reference identification", AN, False, 1, 50, "127"),
       ("date", DT, False, 8, 8, "373"),
       ("time", TM, False, 4, 8, "337"),
       ("transaction type code", ID, False, 2, 2, "640"))
define("HL", "Hierarchical level",
       ("hierarchical id number", AN, True, 1, 12, "628"),
       ("hierarchical parent id number", AN, False, 1, 12, "734"),
       ("hierarchical level code", ID, True, 1, 2, "735"),
       ("hierarchical child code", ID, False, 1, 1, "736"))
define("NM1", "Individual or organizational name",
       ("entity identifier code", ID, True, 2, 3, "98"),
       ("entity type qualifier", ID, True, 1, 1, "1065"),
       ("name last or organization name", AN, False, 1, 60, "1035"),
       ("name first", AN, False, 1, 35, "1036"),
       ("name middle", AN, False, 1, 25, "1037"),
       ("name prefix", AN, False, 1, 10, "1038"),
       ("name suffix", AN, False, 1, 10, "1039"),
       ("identification code qualifier", ID, False, 1, 2, "66"),
       ("identification code", AN, False, 2, 80, "67"),
       ("entity relationship code", ID, False, 2, 2, "706"),
       ("entity identifier code", ID, False, 2, 3, "98"),
       ("name last or organization name", AN, False, 1, 60, "1035"))
define("N1", "Party identification",
       ("entity identifier code", ID, True, 2, 3, "98"),
       ("name", AN, False, 1, 60, "93"),
       ("identification code qualifier", ID, False, 1, 2, "66"),
       ("identification code", AN, False, 2, 80, "67"))
define("N3", "Party location",
       ("address information", AN, True, 1, 55, "166"),
       ("address information", AN, False, 1, 55, "166"))
define("N4", "Geographic location",
       ("city name", AN, False, 2, 30, "19"),
       ("state or province code", ID, False, 2, 2, "156"),
       ("postal code", ID, False, 3, 15, "116"),
       ("country code", ID, False, 2, 3, "26"),
       ("location qualifier", ID, False, 1, 2, "309"),
       ("location identifier", AN, False, 1, 30, "310"),
       ("country subdivision code", ID, False, 1, 3, "1715"))
define("REF", "Reference information",
       ("reference identification qualifier", ID, True, 2, 3, "128"),
       ("reference identification", AN, False, 1, 50, "127"),
       ("description", AN, False, 1, 80, "352"),
       ("reference identifier", C, False, 1, 80, "C040"))
define("PER", "Administrative communications contact",
       ("contact function code", ID, True, 2, 2, "366"),
       ("name", AN, False, 1, 60, "93"),
       ("communication number qualifier", ID, False, 2, 2, "365"),
       ("communication number", AN, False, 1, 256, "364"),
       ("communication number qualifier", ID, False, 2, 2, "365"),
       ("communication number", AN, False, 1, 256, "364"),
       ("communication number qualifier", ID, False, 2, 2, "365"),
       ("communication number", AN, False, 1, 256, "364"))
define("DTM", "Date/time reference",
       ("date/time qualifier", ID, True, 3, 3, "374"),
       ("date", DT, True, 8, 8, "373"),
       ("time", TM, False, 4, 8, "337"))
define("DTP", "Date or time or period",
       ("date/time qualifier", ID, True, 3, 3, "374"),
       ("date time period format qualifier", ID, True, 2, 3, "1250"),
       ("date time period", AN, True, 1, 35, "1251"))
define("AMT", "Monetary amount information",
       ("amount qualifier code", ID, True, 1, 3, "522"),
       ("monetary amount", R, True, 1, 18, "782"),
       ("credit/debit flag code", ID, False, 1, 1, "478"))
define("QTY", "Quantity information",
       ("quantity qualifier", ID, True, 2, 2, "673"),
       ("quantity", R, True, 1, 15, "380"))
define("TRN", "Trace",
       ("trace type code", ID, True, 1, 2, "481"),
       ("reference identification", AN, True, 1, 50, "127"),
       ("originating company identifier", AN, False, 10, 10, "509"),
       ("reference identification", AN, False, 1, 50, "127"))
define("DMG", "Demographic information",
       ("date time period format qualifier", ID, False, 2, 3, "1250"),
       ("date time period", AN, False, 1, 35, "1251"),
       ("gender code", ID, False, 1, 1, "1068"))
define("NTE", "Note/special instruction",
       ("note reference code", ID, False, 3, 3, "363"),
       ("description", AN, True, 1, 80, "352"))
define("PRV", "Provider information",
       ("provider code", ID, True, 1, 3, "1221"),
       ("reference identification qualifier", ID, False, 2, 3, "128"),
       ("reference identification", AN, False, 1, 50, "127"))


def is_valid_date(text: str) -> bool:
    """CCYYMMDD that names a real calendar day."""
    if len(text) != 8 or not text.isdigit():
        return False
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def is_valid_time(text: str) -> bool:
    """HHMM, HHMMSS or HHMMSSd..d with hours < 24, minutes and seconds < 60."""
    if len(text) < 4 or len(text) > 8 or not text.isdigit():
        return False
    if int(text[:2]) > 23 or int(text[2:4]) > 59:
        return False
    return len(text) < 6 or int(text[4:6]) < 60


def is_valid_decimal(text: str) -> bool:
    """X12 R type: optional leading minus, digits with at most one decimal point."""
    return is_amount_text(text)


def validate_element(spec: ElementSpec, value: str) -> tuple[str, str] | None:
    """(issue code, message) for a present element that breaks its definition, else None."""
    kind = spec.type
    if kind == R and not is_valid_decimal(value):
        return "bad_number", f"{spec.name} {value!r} is not a decimal number"
    if kind == N0 and not (value.isdigit() or (value[:1] == "-" and value[1:].isdigit())):
        return "bad_number", f"{spec.name} {value!r} is not a whole number"
    if kind == DT and not is_valid_date(value):
        return "bad_date", f"{spec.name} {value!r} is not a valid CCYYMMDD date"
    if kind == TM and not is_valid_time(value):
        return "bad_time", f"{spec.name} {value!r} is not a valid HHMM time"
    if spec.codes is not None and value not in spec.codes:
        return "bad_code", f"{spec.name} {value!r} is not one of the allowed codes"
    if kind != C and kind != R and len(value) > spec.max_length:
        return "too_long", f"{spec.name} is {len(value)} characters long; at most {spec.max_length} allowed"
    return None


def validate_segment(elements: list[str], spec: SegmentSpec,
                     repetition: str = "") -> list[tuple[int, str, str, str]]:
    """Problems of one segment as (element position, code, message, value); empty when valid.

    ``repetition`` is the interchange's repetition separator: repeated elements are checked one
    repetition at a time.
    """
    problems: list[tuple[int, str, str, str]] = []
    count = len(elements) - 1
    if count > spec.max_elements:
        problems.append((spec.max_elements + 1, "too_many_elements",
                         f"{spec.id} has {count} elements; its definition has {spec.max_elements}",
                         elements[spec.max_elements + 1]))
    for element in spec.elements:
        value = elements[element.position] if element.position <= count else ""
        if not value:
            if element.required:
                problems.append((element.position, "missing_element",
                                 f"{spec.id}{element.position:02d} ({element.name}) is required", ""))
            continue
        values = value.split(repetition) if element.repeat > 1 and repetition else (value,)
        for part in values:
            found = validate_element(element, part) if part else None
            if found:
                problems.append((element.position, found[0], f"{spec.id}{element.position:02d}: {found[1]}", part))
                break
    return problems

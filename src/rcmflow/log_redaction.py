"""Keep protected health information out of log output: a structlog processor and the scrubbing behind it.

Two defences, because a log line carries PHI in two ways:

* by key: a field named for a direct identifier (``member_id=...``, ``patient_last_name=...``) has its
  value replaced whatever it is. :data:`IDENTIFIER_KEYS` lists the names; a key also matches when it ends
  with ``_<name>`` (``subscriber_member_id``), in snake, kebab or camel case (``patientFirstName``).
* by pattern: every other string (the event message, formatted exceptions and tracebacks, string values,
  strings inside lists and dicts) is scrubbed of the identifiers that raw inputs put into text: X12
  segments (NM1 person names and member ids, N3, N4, DMG, PER, identifier REFs), HL7 v2 PID/NK1/GT1/IN1/
  IN2/MRG fields, FHIR JSON names, birth dates, telecom and addresses, US SSNs, phone numbers, e-mail
  addresses, ``identifier-key: value`` pairs and dates next to "DOB"/"birth".

Identifiers are replaced element by element, so segment ids, element positions, qualifiers, claim ids,
document ids, NPIs, amounts and error codes stay readable. A name written into free prose ("patient Ana
Rivera") cannot be recognised: log ids and pass identifiers as keyed fields, never interpolate them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

REDACTED: Final = "[REDACTED]"

# Direct identifiers (HIPAA Safe Harbor: names, geography below state, dates of birth, phone and fax numbers,
# e-mail addresses, SSNs, medical record and health-plan beneficiary numbers, account numbers of the person).
IDENTIFIER_KEYS: Final = frozenset({
    "patient_name", "subscriber_name", "insured_name", "guarantor_name", "full_name", "given_name",
    "family_name", "first_name", "last_name", "middle_name", "name_suffix", "maiden_name",
    "birth_date", "birthdate", "date_of_birth", "dob",
    "member_id", "subscriber_id", "insured_id", "policy_number", "medical_record_number", "mrn", "ssn",
    "social_security_number", "medicare_number", "medicaid_number",
    "address", "address_line", "address_line_1", "address_line_2", "street", "city", "zip", "zip_code",
    "postal_code",
    "phone", "phone_number", "telephone", "mobile", "fax", "email", "email_address",
})

_SUFFIXES: Final = tuple(f"_{key}" for key in IDENTIFIER_KEYS)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=4096)  # the same few hundred keys, over and over
def is_identifier_key(key: str) -> bool:
    """Whether a field of this name holds a direct identifier (see :data:`IDENTIFIER_KEYS`): the name itself, or
    ``<anything>_<name>``, in snake, kebab, camel or spaced form (``subscriber_member_id``, ``memberId``,
    ``date of birth``)."""
    name = _CAMEL_BOUNDARY.sub("_", key).lower().replace("-", "_").replace(" ", "_")
    return name in IDENTIFIER_KEYS or name.endswith(_SUFFIXES)


# A segment starts the text, follows a non-alphanumeric character, or follows a *printed* "\r"/"\n" (an
# escaped message inside a repr or JSON string): checked in the callbacks, because a pattern that starts with a
# lookbehind loses the regex engine's fast scan for its first character. The body runs to the segment
# terminator, again printed or not.
_X12_BODY = r"(?:[^~\r\n\\]|\\(?![rn]))*"
_HL7_BODY = r"(?:[^\r\n\\]|\\(?![rn]))*"

# --- X12 5010 -------------------------------------------------------------------------------------------
_X12_SEGMENT = re.compile(r"(NM1|N3|N4|DMG|PER|REF)([*|])(" + _X12_BODY + ")")

# NM101 entity codes that always name the patient side (2010BA subscriber, 2010CA patient, 835 2100 patient
# and insured, 277/271 dependents), whatever NM102 says.
_PERSON_ENTITIES: Final = frozenset({"IL", "QC", "03", "74", "QD", "GB", "IC", "PAT"})
_NAME_ELEMENTS: Final = frozenset({3, 4, 5, 6, 7})
# REF02 under these qualifiers identifies the person: SSN, member id, insurance policy number, subscriber
# number, medical record number, identity card, client number, family unit, Medicare and Medicaid numbers.
_PERSON_REFS: Final = frozenset({"SY", "1W", "IG", "0F", "EA", "HJ", "23", "49", "F6", "NQ", "6P"})


def _at_boundary(match: re.Match[str]) -> bool:
    start, text = match.start(), match.string
    return start == 0 or not text[start - 1].isalnum() or text[start - 2:start] in ("\\n", "\\r")


def _redact_positions(elements: list[str], positions: frozenset[int] | set[int]) -> list[str]:
    return [REDACTED if index in positions and value else value for index, value in enumerate(elements)]


def _x12_positions(segment_id: str, elements: list[str]) -> set[int] | frozenset[int]:
    """Element positions (1-based; 0 is the segment id) that carry identifiers."""
    if segment_id == "NM1":
        entity = elements[1] if len(elements) > 1 else ""
        person = len(elements) > 2 and elements[2] == "1"
        if entity in _PERSON_ENTITIES:
            return _NAME_ELEMENTS | {9}
        if person:  # a provider in person: the name goes, the NPI (NM108 "XX") is public and kept
            return _NAME_ELEMENTS if len(elements) > 8 and elements[8] == "XX" else _NAME_ELEMENTS | {9}
        return frozenset()
    if segment_id == "N3":
        return {1, 2}
    if segment_id == "N4":
        return {1, 3}  # city and postal code; the state stays
    if segment_id == "DMG":
        return {2}
    if segment_id == "PER":
        return {2, 4, 6, 8}
    # REF
    return {2} if len(elements) > 1 and elements[1] in _PERSON_REFS else frozenset()


def _scrub_x12(match: re.Match[str]) -> str:
    if not _at_boundary(match):
        return match.group(0)
    segment_id, separator, body = match.group(1), match.group(2), match.group(3)
    elements = [segment_id, *body.split(separator)]
    positions = _x12_positions(segment_id, elements)
    if not positions:
        return match.group(0)
    return separator.join(_redact_positions(elements, positions))


# --- HL7 v2 ---------------------------------------------------------------------------------------------
_HL7_SEGMENT = re.compile(r"(PID|NK1|GT1|IN1|IN2|MRG)\|(" + _HL7_BODY + ")")

# Field numbers (PID-5 is index 5) that carry identifiers, per segment (HL7 v2.5.1).
_HL7_FIELDS: Final[Mapping[str, frozenset[int]]] = {
    # ids, name, mother's maiden name, DOB, alias, address, county, phones, account, SSN, licence, birthplace,
    # death date
    "PID": frozenset({2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 18, 19, 20, 21, 23, 29}),
    # name, address, phones, DOB, contact name/phone/address/ids, SSN
    "NK1": frozenset({2, 4, 5, 6, 16, 30, 31, 32, 33, 37}),
    # guarantor number, name, spouse, address, phones, DOB, SSN, employer name/address/phone, employee id
    "GT1": frozenset({2, 3, 4, 5, 6, 7, 8, 12, 16, 17, 18, 19}),
    # insured's name, DOB, address, policy number, insured's id
    "IN1": frozenset({16, 18, 19, 36, 49}),
    # employee id, SSN, Medicare and Medicaid numbers, patient member number
    "IN2": frozenset({1, 2, 6, 8, 61}),
    # prior ids and prior name
    "MRG": frozenset({1, 2, 3, 4, 5, 6, 7}),
}


def _scrub_hl7(match: re.Match[str]) -> str:
    if not _at_boundary(match):
        return match.group(0)
    segment_id, body = match.group(1), match.group(2)
    fields = [segment_id, *body.split("|")]
    return "|".join(_redact_positions(fields, _HL7_FIELDS[segment_id]))


# --- JSON (FHIR resources, serialised payloads) ------------------------------------------------------------
_JSON_STRING = r'"(?:[^"\\]|\\.)*(?:"|$)'  # closed, or cut off by the end of the text
# A list of strings, closed or cut off by the end of the text (a truncated payload still hides its names).
_JSON_STRINGS = rf"\[\s*(?:{_JSON_STRING}\s*,?\s*)*(?:\]|$)"
# Keys whose string (or list of strings) value is an identifier: FHIR HumanName, birthDate, Address and
# ContactPoint, plus the identifier keys above as they appear in serialised payloads.
# "name" and "text" are also an organisation's name and a code's display text: hiding those too loses a
# little context, where telling them apart from a HumanName's would need the JSON parsed.
_FHIR_KEYS: Final = frozenset({"family", "given", "prefix", "suffix", "birthDate", "line", "city", "postalCode",
                               "district", "name", "text"})
_JSON_FIELD = re.compile(r'"([A-Za-z_][\w-]*)"(\s*:\s*)(' + _JSON_STRING + "|" + _JSON_STRINGS + ")")


def _scrub_json_field(match: re.Match[str]) -> str:
    key, value = match.group(1), match.group(3)
    if key not in _FHIR_KEYS and not is_identifier_key(key):
        return match.group(0)
    replacement = f'["{REDACTED}"]' if value.startswith("[") else f'"{REDACTED}"'
    return f'"{key}"{match.group(2)}{replacement}'


# --- Located error messages -------------------------------------------------------------------------------
# A parser's message names the element or field, then quotes its value: "PID-7 '19710431' is not a calendar
# date", "DMG02 '19801301' is not a date". Without the segment around it, the position decides.
_X12_REFERENCE_POSITIONS: Final[Mapping[str, frozenset[int]]] = {
    "NM1": _NAME_ELEMENTS | {9}, "N3": frozenset({1, 2}), "N4": frozenset({1, 3}), "DMG": frozenset({2}),
    "PER": frozenset({2, 4, 6, 8}), "REF": frozenset({2}),
}
_QUOTED_AFTER_REFERENCE = re.compile(
    r"(?:(PID|NK1|GT1|IN1|IN2|MRG)(?:\[\d+\])?-(\d+)(?:[.-]\d+)*|(NM1|N3|N4|DMG|PER|REF)(\d{2}))"
    r"(\s*[:=]?\s*)('[^'\n]*'|\"[^\"\n]*\")"
)


_REFERENCED_SEGMENTS: Final = (*_HL7_FIELDS, *_X12_REFERENCE_POSITIONS)


def _scrub_reference(match: re.Match[str]) -> str:
    hl7_segment, hl7_field, x12_segment, x12_element = match.group(1, 2, 3, 4)
    if not _at_boundary(match):
        sensitive = False
    elif hl7_segment is not None:
        sensitive = int(hl7_field) in _HL7_FIELDS[hl7_segment]
    else:
        sensitive = int(x12_element) in _X12_REFERENCE_POSITIONS[x12_segment]
    if not sensitive:
        return match.group(0)
    quote = match.group(6)[0]
    return match.group(0)[: match.start(6) - match.start(0)] + f"{quote}{REDACTED}{quote}"


# --- Free text ------------------------------------------------------------------------------------------
# "member_id: XKB884120301", "patient_birth_date='1984-07-19'", "dob=07/19/1984", "patient_birth_date '1984-
# 13-45' is not a date": a word followed by ":" / "=" or by a quoted value is a candidate key; it is an
# identifier key by the same rule as event fields (is_identifier_key), so prose and fields never disagree.
# Found from the separators, which are rare, rather than from every word, which is slow.
_SEPARATOR = re.compile(r"[:=]|\s(?=['\"])")
# The value: quoted, or running to the next delimiter or the next "key=" / "key:", so "12 Oak St" goes whole;
# an address also runs over commas ("12 Oak St, Hartford, CT 06105").
_KEYED_VALUE = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|(?:(?!\s+[A-Za-z_][\w-]*\s*[:=])[^;)}\]\n])+")
_ADDRESS_KEY = re.compile(r"(?i)(?:address|street)")
_PHRASES: Final = ("date of birth", "birth date")


def _key_before(text: str, end: int) -> str:
    """The word (or "date of birth" / "birth date") ending at ``end``, past a closing quote and spaces."""
    while end > 0 and text[end - 1].isspace():
        end -= 1
    if end > 0 and text[end - 1] in "'\"":
        end -= 2 if end > 1 and text[end - 2] == "\\" else 1
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
        start -= 1
    for phrase in _PHRASES:
        if text[max(0, end - len(phrase)):end].lower() == phrase:
            return phrase
    return text[start:end] if start < end and text[start].isalpha() else ""


def _scrub_keyed_values(text: str) -> str:
    pieces: list[str] = []
    done = 0
    for separator in _SEPARATOR.finditer(text):
        if separator.start() < done or not is_identifier_key(key := _key_before(text, separator.start())):
            continue
        value_start = separator.end()
        while value_start < len(text) and text[value_start] in " \t":
            value_start += 1
        value = _KEYED_VALUE.match(text, value_start)
        if value is None or REDACTED in value.group(0):  # nothing there, or hidden already by a structural rule
            continue
        end = value.end()
        if value.group(0)[0] not in "'\"" and not _ADDRESS_KEY.search(key):
            comma = text.find(",", value_start, end)
            end = comma if comma != -1 else end  # the clause after a comma is prose, not part of the value
        pieces.append(text[done:value_start])
        pieces.append(REDACTED)
        done = end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


# A date next to DOB/birth without a key separator: "DOB 07/19/1984", "born 1984-07-19".
_BIRTH_DATE = re.compile(
    r"(?i)((?<![a-z])(?:dob|born|birth(?:[\s_-]*date|day)?)\W{1,4})"
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{8}|\d{1,2}/\d{1,2}/\d{2,4})\b"
)
_SSN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
# North American numbers with separators; bare 10-digit runs are NPIs and ids and are left alone.
_PHONE = re.compile(r"(?<![\w.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])")
# Both end in "ddd-dddd" or the like: one fast scan for that tail decides whether they run at all.
_NUMBER_TAIL = re.compile(r"\d[ .-]\d{4}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def scrub_text(text: str) -> str:
    """``text`` with the identifiers it carries replaced by ``[REDACTED]`` (see the module docstring)."""
    # Cheap membership tests skip the patterns that cannot match: most log lines hold none of these marks.
    if "*" in text or "|" in text:
        text = _X12_SEGMENT.sub(_scrub_x12, text)
    if "|" in text:
        text = _HL7_SEGMENT.sub(_scrub_hl7, text)
    if '"' in text:
        text = _JSON_FIELD.sub(_scrub_json_field, text)
    if ("'" in text or '"' in text) and any(segment_id in text for segment_id in _REFERENCED_SEGMENTS):
        text = _QUOTED_AFTER_REFERENCE.sub(_scrub_reference, text)
    if ":" in text or "=" in text or "'" in text or '"' in text:
        text = _scrub_keyed_values(text)
    if "@" in text:
        text = _EMAIL.sub(REDACTED, text)
    lowered = text.lower()
    if "dob" in lowered or "born" in lowered or "birth" in lowered:
        text = _BIRTH_DATE.sub(lambda m: m.group(1) + REDACTED, text)
    if _NUMBER_TAIL.search(text):
        text = _SSN.sub(REDACTED, text)
        text = _PHONE.sub(REDACTED, text)
    return text


_MAX_DEPTH: Final = 8


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with strings scrubbed and identifier-keyed entries of mappings redacted."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)) and depth >= _MAX_DEPTH:
        return REDACTED  # deeper than any log payload should be: hide rather than walk
    if isinstance(value, Mapping):
        return {key: REDACTED if isinstance(key, str) and is_identifier_key(key) else redact_value(item, depth + 1)
                for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(item, depth + 1) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return scrub_text(bytes(value).decode("utf-8", "replace"))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # Anything else is rendered through str() or repr() (a dataclass, a Path, a Decimal): scrub that text now.
    return scrub_text(str(value))


# Keys the logging machinery owns: never identifiers, and not worth scrubbing.
_TRUSTED_KEYS: Final = frozenset({"timestamp", "level", "logger", "request_id", "principal_id", "_record",
                                  "_from_structlog", "exc_info"})


def redact_phi(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: redact identifier-keyed values and scrub every other value of the event.

    Runs after exception formatting (so tracebacks are text to scrub) and before rendering."""
    for key, value in event_dict.items():
        if key in _TRUSTED_KEYS:
            continue
        if is_identifier_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(value)
    return event_dict

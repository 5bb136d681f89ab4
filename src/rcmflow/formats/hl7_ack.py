"""HL7 v2.5.1 original-mode acknowledgements (ACK) of inbound messages.

``ack_for`` answers any message, however broken: when its MSH cannot be read the answer is an AR carrying
what could be recovered (the control id when the field separator is readable, nothing otherwise), so the
sender learns its message was refused instead of waiting for an answer that never comes.

The ACK uses the inbound message's delimiters, so the fields it echoes (MSH-3 to MSH-6, MSH-10) are copied
as sent, escapes included; our own text is escaped for them.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import NamedTuple

from rcmflow.formats.hl7_dft import STANDARD_DELIMITERS, Delimiters, Hl7SyntaxError, escape, read_delimiters

__all__ = ["ACK_CODES", "ack_for", "error_location_erl"]

ACK_CODES = ("AA", "AE", "AR")
DEFAULT_VERSION = "2.5.1"
DEFAULT_TRIGGER = "P03"  # the only event this channel takes
# HL7 table 0357 message error condition codes.
ERROR_TEXTS = {
    "100": "Segment sequence error", "101": "Required field missing", "102": "Data type error",
    "103": "Table value not found", "200": "Unsupported message type", "201": "Unsupported event code",
    "203": "Unsupported version id", "207": "Application internal error",
}
MSA_TEXT_LENGTH = 80  # MSA-3 (kept for receivers of earlier versions)
ERR_TEXT_LENGTH = 2048  # ERR-7 diagnostic information
# "FT1[2]-11", "PID-7", "FT1[2]-26.1", "MSH": how readers name a place in a message.
_LOCATION = re.compile(r"([A-Z][A-Z0-9]{2})(?:\[([0-9]+)\])?(?:-([0-9]+)(?:\.([0-9]+)(?:\.([0-9]+))?)?)?")


class _Inbound(NamedTuple):
    """What could be read of the inbound MSH: its fields (MSH-n at index n, still escaped) and delimiters;
    ``delimiters`` is None when MSH-2 is unreadable (the fields are then plain text to escape)."""

    fields: tuple[str, ...]
    delimiters: Delimiters | None

    def raw(self, number: int) -> str:
        """Field ``number`` ready to echo in the ACK."""
        value = self.fields[number] if number < len(self.fields) else ""
        return value if self.delimiters is not None else escape(value, STANDARD_DELIMITERS)

    def component(self, number: int, component: int) -> str:
        """A component as plain text (no escapes expected in codes such as MSH-9 and MSH-12)."""
        if self.delimiters is None:
            return ""
        parts = self.raw(number).split(self.delimiters.component)
        return parts[component - 1] if component <= len(parts) else ""


def ack_for(message_text: str | bytes, code: str, text: str = "", error_location: str = "", *,
            error_code: str = "", control_id: str = "", now: datetime | None = None) -> str:
    """The ACK of ``message_text``, segments ended by CR.

    ``code`` is AA (accepted), AE (error: processed but refused) or AR (rejected); ``text`` goes to MSA-3 and,
    for AE/AR, to ERR-7 with ``error_location`` ("FT1[2]-11" style) as the ERR-2 error location and
    ``error_code`` (HL7 table 0357) as ERR-3: by default 100 for a missing segment, 200 for MSH-9, else 207.
    A message whose MSH (or its MSH-2) cannot be read is answered AR whatever ``code`` says. ``control_id``
    (MSH-10 of the ACK) and ``now`` (MSH-7) are generated when not given.
    """
    if code not in ACK_CODES:
        raise ValueError(f"acknowledgement code {code!r} is not one of {', '.join(ACK_CODES)}")
    if isinstance(message_text, bytes):
        message_text = message_text.decode("utf-8", errors="replace")
    inbound = _inbound(message_text)
    if inbound is None or inbound.delimiters is None:
        code = "AR"
        why = "no MSH segment" if inbound is None else "MSH-2 encoding characters are not four distinct symbols"
        text = why + (f": {text}" if text else "")
        error_location, error_code = ("MSH", "100") if inbound is None else ("MSH-2", "102")
    d = inbound.delimiters if inbound is not None and inbound.delimiters is not None else STANDARD_DELIMITERS
    fields = inbound or _Inbound((), STANDARD_DELIMITERS)
    stamp = (now or datetime.now().astimezone()).strftime("%Y%m%d%H%M%S%z")
    trigger = fields.component(9, 2) or DEFAULT_TRIGGER
    version = fields.component(12, 1) or DEFAULT_VERSION
    message_type = d.component.join(("ACK", escape(trigger, d), "ACK"))
    msh = [f"MSH{d.field}{d.component}{d.repetition}{d.escape}{d.subcomponent}", fields.raw(5), fields.raw(6),
           fields.raw(3), fields.raw(4), stamp, "", message_type, escape(control_id or _new_control_id(), d),
           fields.raw(11) or "P", escape(version, d)]
    msa = ["MSA", code, fields.raw(10), escape(text[:MSA_TEXT_LENGTH], d)]
    segments = [d.field.join(msh), d.field.join(msa).rstrip(d.field)]
    if code != "AA":
        segments.append(_err(d, text, error_location, error_code))
    return "\r".join(segments) + "\r"


def _inbound(text: str) -> _Inbound | None:
    """The inbound MSH as far as it can be read; None without an MSH segment and field separator."""
    body = text.lstrip("\ufeff\x0b\r\n\t ")
    line = re.split(r"[\r\n]", body, maxsplit=1)[0]
    separator = line[3:4]
    if not line.startswith("MSH") or not separator or separator.isalnum() or separator.isspace():
        return None
    fields = ("MSH", separator, *line[4:].split(separator))
    try:
        delimiters: Delimiters | None = read_delimiters(line)
    except Hl7SyntaxError:
        delimiters = None
    return _Inbound(fields, delimiters)


def _err(d: Delimiters, text: str, location: str, error_code: str) -> str:
    """ERR: ERR-2 location, ERR-3 HL7 error code, ERR-4 severity E, ERR-7 the text."""
    erl = error_location_erl(location, d)
    if location and not erl:  # not a place ERR-2 can name: keep it in the text
        text = f"at {location}: {text}" if text else f"at {location}"
    code = error_code or _default_error_code(location)
    condition = d.component.join((code, escape(ERROR_TEXTS.get(code, ""), d), "HL70357"))
    return d.field.join(("ERR", "", erl, condition, "E", "", "", escape(text[:ERR_TEXT_LENGTH], d))).rstrip(d.field)


def _default_error_code(location: str) -> str:
    match = _LOCATION.fullmatch(location)
    if match is None:
        return "207"
    if match.group(3) is None:
        return "100"  # a segment without a field: a required segment is missing or out of place
    return "200" if (match.group(1), match.group(3)) == ("MSH", "9") else "207"


def error_location_erl(location: str, delimiters: Delimiters = STANDARD_DELIMITERS) -> str:
    """An ERL (segment id^sequence^field^repetition^component^subcomponent) from a location like "FT1[2]-11";
    empty when ``location`` does not name a segment."""
    match = _LOCATION.fullmatch(location)
    if match is None:
        return ""
    segment, sequence, field, component, subcomponent = match.groups()
    parts = [segment, sequence or "1"]
    if field is not None:
        parts.append(field)
        if component is not None:
            parts += ["1", component] + ([subcomponent] if subcomponent is not None else [])
    return delimiters.component.join(parts)


def _new_control_id() -> str:
    """A unique MSH-10 within the 20 characters v2.5.1 allows."""
    return uuid.uuid4().hex[:20].upper()

"""Tell what an inbound file is from its first bytes, without parsing it (for the document store)."""

from __future__ import annotations

from rcmflow.formats.x12.envelope import transaction_type
from rcmflow.formats.x12.tokenizer import IsaProblem, read_delimiters

_HEAD = 64 * 1024
NOT_X12 = "not_x12"
UNKNOWN = "unknown"


def detect_type(content: bytes) -> str:
    """The transaction type of the first transaction set ("835", "837P", ...), "x12" when X12 without
    a recognisable set, "not_x12" when the bytes are not X12 at all."""
    head = content[:_HEAD].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n\x00")
    if not head.startswith("ISA"):
        return NOT_X12
    try:
        delimiters, _ = read_delimiters(head)
    except IsaProblem:
        return UNKNOWN
    segments = head.replace("\r", "").replace("\n", "").split(delimiters.segment)
    implementation = ""
    for segment in segments[1:40]:
        elements = segment.split(delimiters.element)
        if elements[0] == "GS" and len(elements) > 8:
            implementation = elements[8]
        elif elements[0] == "ST" and len(elements) > 1:
            st03 = elements[3] if len(elements) > 3 else ""
            return transaction_type(elements[1], st03 or implementation) or elements[1]
    return UNKNOWN

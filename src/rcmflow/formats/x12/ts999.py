"""Read a 999 implementation acknowledgment (005010X231A1) into a ``FunctionalAck``.

Loop structure (005010X231A1):

    header     AK1                        the functional group acknowledged
    2000       AK2 ... IK5                one per transaction set acknowledged
    2100       IK3 CTX                    a segment in error, with business unit / trigger context
    2110       IK4 CTX                    a data element in error
    trailer    AK9                        the verdict on the group and its counts

Everything a 999 says is kept, including the CTX contexts, so a rejected claim batch can be traced
back to the claim (CTX*CLM01) and element that failed.
"""

from __future__ import annotations

from rcmflow.domain.acknowledgment import Context, ElementError, FunctionalAck, SegmentError, TransactionAck
from rcmflow.formats.x12.envelope import RawTransaction
from rcmflow.formats.x12.issues import ElementError as BadElement
from rcmflow.formats.x12.reading import ReadContext, element
from rcmflow.formats.x12.registry import register
from rcmflow.formats.x12.segments import AN, ID, N0, C, define

ACK_CODES = ("A", "E", "M", "P", "R", "W", "X")

# AK1*HC*17456*005010X222A1
define("AK1", "Functional group response header",
       ("functional identifier code", ID, True, 2, 2, "479"),
       ("group control number", N0, True, 1, 9, "28"),
       ("version / release / industry identifier code", AN, True, 1, 12, "480"))
# AK2*837*0001*005010X222A1
define("AK2", "Transaction set response header",
       ("transaction set identifier code", ID, True, 3, 3, "143"),
       ("transaction set control number", AN, True, 4, 9, "329"),
       ("implementation convention reference", AN, False, 1, 35, "1705"))
# IK3*NM1*8*2010BA*8
define("IK3", "Error identification",
       ("segment id code", ID, True, 2, 3, "721"),
       ("segment position in transaction set", N0, True, 1, 10, "719"),
       ("loop identifier code", AN, False, 1, 6, "447"),
       ("implementation segment syntax error code", ID, True, 1, 3, "620"))
# CTX*CLM01:123456789
define("CTX", "Context",
       ("context identification", C, True, 1, 80, "C998"),
       ("segment id code", ID, False, 2, 3, "721"),
       ("segment position in transaction set", N0, False, 1, 10, "719"),
       ("loop identifier code", AN, False, 1, 6, "447"),
       ("position in segment", C, False, 1, 80, "C030"),
       ("reference in segment", C, False, 1, 80, "C999"))
# IK4*2*66*1
define("IK4", "Implementation data element note",
       ("position in segment", C, True, 1, 80, "C030"),
       ("data element reference number", N0, False, 1, 4, "725"),
       ("implementation data element syntax error code", ID, True, 1, 3, "621"),
       ("copy of bad data element", AN, False, 1, 99, "724"))
# IK5*R*5
define("IK5", "Transaction set response trailer",
       ("transaction set acknowledgment code", ID, True, 1, 1, "717", ACK_CODES),
       *[("implementation transaction set syntax error code", ID, False, 1, 3, "618") for _ in range(5)])
# AK9*P*2*2*1
define("AK9", "Functional group response trailer",
       ("functional group acknowledge code", ID, True, 1, 1, "715", ACK_CODES),
       ("number of transaction sets included", N0, True, 1, 6, "97"),
       ("number of received transaction sets", N0, True, 1, 6, "123"),
       ("number of accepted transaction sets", N0, True, 1, 6, "2"),
       *[("functional group syntax error code", ID, False, 1, 3, "716") for _ in range(5)])

# (loop, segment) -> the loop the segment leaves the reader in. A missing AK1 or IK5 is reported once
# (after the walk) and the segments after it are still read.
LOOPS: dict[tuple[str, str], str] = {
    ("header", "AK1"): "group",
    **{(loop, "AK2"): "2000" for loop in ("header", "group", "2000", "2100", "2110", "ack")},
    **{(loop, "IK3"): "2100" for loop in ("2000", "2100", "2110")},
    ("2100", "CTX"): "2100", ("2110", "CTX"): "2110",
    ("2100", "IK4"): "2110", ("2110", "IK4"): "2110",
    **{(loop, "IK5"): "ack" for loop in ("2000", "2100", "2110")},
    **{(loop, "AK9"): "trailer" for loop in ("header", "group", "2000", "2100", "2110", "ack")},
}
KNOWN = frozenset(seg for _, seg in LOOPS)


def _int(text: str, position: int) -> int:
    if not text.isdigit():
        raise BadElement(position, "bad_number" if text else "missing_element",
                         f"{text!r} is not a whole number", text)
    return int(text)


def _optional_int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def context(elements: list[str], component: str) -> Context:
    """A CTX segment."""
    name, _, ref = element(elements, 1).partition(component)
    if not name:
        raise BadElement(1, "missing_element", "CTX01-1 (context name) is required")
    position = element(elements, 3)
    return Context(
        name=name, reference=ref, segment_id=element(elements, 2),
        segment_position=_int(position, 3) if position else None, loop_id=element(elements, 4),
        element_position=tuple(element(elements, 5).split(component)) if element(elements, 5) else (),
        element_reference=tuple(element(elements, 6).split(component)) if element(elements, 6) else (),
    )


SegmentNote = tuple[list[str], list[Context], list[tuple[list[str], list[Context]]]]


class _Set:
    """An AK2 loop being read: its IK3s (each with its CTXs and IK4s) and its IK5."""

    __slots__ = ("header", "segments", "trailer")

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.segments: list[SegmentNote] = []
        self.trailer: list[str] = []


@register("999")
def read_999(raw: RawTransaction, ctx: ReadContext) -> FunctionalAck:  # noqa: C901 - one loop, read top to bottom
    """Read one 999 transaction set."""
    component = ctx.component
    loop = "header"
    ak1: list[str] = []
    ak9: list[str] = []
    sets: list[_Set] = []
    current: _Set | None = None
    note: SegmentNote | None = None  # the IK3 being read; None after a bad one, so its IK4s go nowhere
    element_note: tuple[list[str], list[Context]] | None = None
    segments = raw.segments
    last = len(segments) - 1
    for offset in range(1, len(segments)):
        elements = segments[offset].split(ctx.element)
        seg_id = elements[0]
        if seg_id == "SE" and offset == last:
            break
        following = LOOPS.get((loop, seg_id))
        if following is None:
            if seg_id in KNOWN:
                ctx.unexpected(offset, seg_id, f"in the 999 {'before AK1' if loop == 'header' else 'here'}")
            else:
                ctx.unknown(offset, seg_id, "the 999")
            continue
        loop = following
        try:
            if seg_id == "AK2":
                current, note, element_note = _Set(elements), None, None
                sets.append(current)
            elif seg_id == "IK3":
                note, element_note = None, None
                _int(element(elements, 2), 2)
                if not element(elements, 4):
                    raise BadElement(4, "missing_element", "IK304 (segment syntax error code) is required")
                note = (elements, [], [])
                if current is not None:
                    current.segments.append(note)
            elif seg_id == "IK4":
                element_note = None
                _int(element(elements, 1).split(component)[0], 1)
                if not element(elements, 3):
                    raise BadElement(3, "missing_element", "IK403 (element syntax error code) is required")
                if note is not None:
                    element_note = (elements, [])
                    note[2].append(element_note)
            elif seg_id == "CTX":
                found = context(elements, component)
                if loop == "2110" and element_note is not None:
                    element_note[1].append(found)
                elif loop == "2100" and note is not None:
                    note[1].append(found)
            elif seg_id == "IK5":
                if current is not None:
                    current.trailer = elements
                if not element(elements, 1):
                    raise BadElement(1, "missing_element", "IK501 (acknowledgment code) is required")
            elif seg_id == "AK1":
                ak1 = elements
            elif seg_id == "AK9":
                ak9 = elements
                for position in (2, 3, 4):
                    _int(element(elements, position), position)
        except (ValueError, IndexError, ArithmeticError) as exc:
            ctx.bad_segment(offset, elements, exc)
    if not ak1:
        ctx.missing(1, "AK1", "at the start of the 999")
    for found in sets:
        if not found.trailer:
            ctx.missing(last, "IK5", f"for transaction set {element(found.header, 2)!r}")
    if not ak9:
        ctx.missing(last, "AK9", "at the end of the 999")
    return FunctionalAck(
        functional_id=element(ak1, 1), group_control_number=element(ak1, 2), version=element(ak1, 3),
        status=element(ak9, 1), sets_included=_optional_int(element(ak9, 2)) or 0,
        sets_received=_optional_int(element(ak9, 3)) or 0, sets_accepted=_optional_int(element(ak9, 4)) or 0,
        codes=tuple(code for code in ak9[5:10] if code),
        transactions=tuple(_transaction(found, component) for found in sets),
    )


def _transaction(found: _Set, component: str) -> TransactionAck:
    errors = []
    for ik3, contexts, notes in found.segments:
        elements = []
        for ik4, element_contexts in notes:
            position = element(ik4, 1).split(component)
            elements.append(ElementError(
                position=int(position[0]), code=element(ik4, 3), reference=element(ik4, 2),
                component=_optional_int(position[1]) if len(position) > 1 else None,
                repetition=_optional_int(position[2]) if len(position) > 2 else None,
                value=element(ik4, 4), contexts=tuple(element_contexts),
            ))
        errors.append(SegmentError(
            segment_id=element(ik3, 1), position=int(element(ik3, 2)), code=element(ik3, 4),
            loop_id=element(ik3, 3), contexts=tuple(contexts), elements=tuple(elements),
        ))
    trailer = found.trailer
    return TransactionAck(
        transaction_set=element(found.header, 1), control_number=element(found.header, 2),
        implementation=element(found.header, 3), status=element(trailer, 1),
        codes=tuple(code for code in trailer[2:7] if code), segment_errors=tuple(errors),
    )

"""Acknowledge any parsed X12 input with 999 implementation acknowledgments (005010X231A1).

``acknowledge`` turns what the parser found into ``FunctionalAck`` records, one per functional
group; ``build_999`` renders them as 999 transaction sets; ``write_999`` wraps them in interchanges
addressed back to each inbound sender. Parse with ``strict=True`` so that every element is checked
against its definition: lenient parsing reports fewer problems, and the 999 can only say what was
found.

How issues become 999 codes (the mapping lives in ``issues.ISSUE_CODES``):

- segment-level issues (unknown, misplaced, missing segment) give an IK3 with their own code;
- element-level issues give IK3 code 8 and an IK4 with the element's position, its reference
  number from the segment tables, the IK4 code and a copy of the bad value;
- transaction set issues (unsupported set, SE count or control number) give IK5 codes;
- group issues (GE count or control number, missing GE) give AK9 codes;
- semantic issues (amounts that do not balance) have no 999 code: a 999 answers syntax only.

A set with an error-severity issue is rejected (IK5 R); one with only warnings, such as segments a
lenient parse skipped, is accepted with errors noted (E); otherwise accepted (A).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rcmflow.domain.acknowledgment import (
    Context,
    ElementError,
    FunctionalAck,
    SegmentError,
    TransactionAck,
    group_status,
)
from rcmflow.formats.x12.envelope import GroupSummary
from rcmflow.formats.x12.issues import ERROR, X12Error, X12Issue, ack_code
from rcmflow.formats.x12.parser import ParsedTransaction, X12Document
from rcmflow.formats.x12.segments import spec_for
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters
from rcmflow.formats.x12.writing import (
    ControlNumbers,
    CountingControlNumbers,
    FunctionalGroup,
    Party,
    TransactionBuilder,
    build_interchange,
)

FUNCTIONAL_ID = "FA"
IMPLEMENTATION = "005010X231A1"
MAX_CODES = 5  # IK502-IK506, AK905-AK909
MAX_BAD_VALUE = 99  # IK404

# Group-level issue codes (GroupSummary.issues) and the AK9 code each gives.
GROUP_CODES = {
    "envelope": "3",  # GE missing: the next GS or the IEA came first
    "truncated": "3",
    "control_number_mismatch": "4",
    "count_mismatch": "5",
}


def acknowledge(document: X12Document, delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[FunctionalAck]:
    """One ``FunctionalAck`` per functional group of the document, in file order."""
    return [_group_ack(group, transactions, delimiters) for group, transactions in grouped(document)]


def grouped(document: X12Document) -> list[tuple[GroupSummary, list[ParsedTransaction]]]:
    """Each functional group with its transaction sets (sets outside any group are left out)."""
    pending = list(document.transactions)
    cursor = 0
    result = []
    for group in document.groups:
        interchange = group.interchange_control_number.strip()
        members: list[ParsedTransaction] = []
        while cursor < len(pending) and len(members) < group.transaction_count:
            tx = pending[cursor]
            cursor += 1
            if (tx.group_control_number, tx.functional_id, tx.interchange_control_number) == (
                    group.control_number, group.functional_id, interchange):
                members.append(tx)
        result.append((group, members))
    return result


def _group_ack(group: GroupSummary, transactions: list[ParsedTransaction], delimiters: Delimiters) -> FunctionalAck:
    acks = tuple(transaction_ack(tx, delimiters) for tx in transactions)
    codes = [GROUP_CODES[issue.code] for issue in group.issues if issue.code in GROUP_CODES]
    if group.declared_count is None:  # no GE closed the group, whatever came instead
        codes.append("3")
    if not group.control_number.isdigit():
        codes.append("6")
    group_codes = tuple(dict.fromkeys(codes))[:MAX_CODES]
    accepted = sum(1 for ack in acks if ack.accepted)
    received = len(acks)
    included = group.declared_count if group.declared_count is not None else group.transaction_count
    return FunctionalAck(
        functional_id=_safe(group.functional_id, delimiters), group_control_number=_safe(group.control_number,
                                                                                          delimiters),
        version=_safe(group.version, delimiters),
        status=group_status(received, accepted, any(ack.status == "E" for ack in acks), group_codes),
        sets_included=included, sets_received=received, sets_accepted=accepted, codes=group_codes,
        transactions=acks,
    )


class _Note:
    """A segment in error being collected: its IK3 code and IK4s."""

    __slots__ = ("segment_id", "code", "elements")

    def __init__(self, segment_id: str) -> None:
        self.segment_id = segment_id
        self.code = ""
        self.elements: dict[tuple[int, str], ElementError] = {}


def transaction_ack(tx: ParsedTransaction, delimiters: Delimiters = DEFAULT_DELIMITERS) -> TransactionAck:
    """The IK3/IK4/IK5 verdict on one parsed transaction set."""
    notes: dict[int, _Note] = {}
    set_codes: list[str] = []
    rejected = False
    noted = False
    for issue in _unique(tx.issues):
        level, code = ack_code(issue.code)
        if not level or level == "AK9":
            continue
        rejected = rejected or issue.severity == ERROR
        if level == "IK5":
            set_codes.append(code)
            continue
        noted = True
        position = max(1, issue.segment_index - tx.start_index + 1)
        note = notes.get(position)
        if note is None:
            note = notes[position] = _Note(_safe(issue.segment_id or "", delimiters)[:3])
        if level == "IK3":
            note.code = note.code or code
        elif issue.element is not None and (issue.element, code) not in note.elements:
            note.elements[(issue.element, code)] = ElementError(
                position=issue.element, code=code, reference=_reference(issue, tx.type),
                value=_safe(issue.value or "", delimiters)[:MAX_BAD_VALUE])
    if noted:
        set_codes.append("5")
    errors = tuple(
        SegmentError(note.segment_id, position, note.code or "8", elements=tuple(note.elements.values()))
        for position, note in sorted(notes.items())
    )
    status = "R" if rejected else "E" if set_codes else "A"
    return TransactionAck(
        transaction_set=_safe(tx.transaction_set, delimiters), control_number=_safe(tx.control_number, delimiters),
        implementation=_safe(tx.implementation, delimiters), status=status,
        codes=tuple(dict.fromkeys(set_codes))[:MAX_CODES], segment_errors=errors,
    )


def _unique(issues: Iterable[X12Issue]) -> list[X12Issue]:
    # Strict validation and a reader may both report one bad element; the 999 names it once.
    seen: set[tuple[int, str | None, int | None, str]] = set()
    found = []
    for issue in issues:
        key = (issue.segment_index, issue.segment_id, issue.element, issue.code)
        if key not in seen:
            seen.add(key)
            found.append(issue)
    return found


def _reference(issue: X12Issue, tx_type: str | None) -> str:
    spec = spec_for(issue.segment_id or "", tx_type or "")
    if spec is None or issue.element is None or not 1 <= issue.element <= len(spec.elements):
        return ""
    reference = spec.elements[issue.element - 1].reference
    # A composite (C003) has no element number of its own; IK402 names a component's, which is not known.
    return reference if reference.isdigit() else ""


def _safe(text: str, delimiters: Delimiters) -> str:
    """Inbound text without the characters that are delimiters of the 999 being written."""
    for delimiter in delimiters:
        if delimiter:
            text = text.replace(delimiter, "")
    return text


def render_999(ack: FunctionalAck, control_number: str,
               delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[str]:
    """One 999 transaction set (ST..SE) for one functional group acknowledgment."""
    builder = TransactionBuilder("999", control_number, IMPLEMENTATION, delimiters)
    builder.add("AK1", ack.functional_id, ack.group_control_number, ack.version)
    for tx in ack.transactions:
        builder.add("AK2", tx.transaction_set, tx.control_number, tx.implementation)
        for error in tx.segment_errors:
            builder.add("IK3", error.segment_id, error.position, error.loop_id, error.code)
            _contexts(builder, error.contexts)
            for item in error.elements:
                position = [str(item.position), _text(item.component), _text(item.repetition)]
                builder.add("IK4", position, item.reference, item.code, item.value)
                _contexts(builder, item.contexts)
        builder.add("IK5", tx.status, *tx.codes)
    builder.add("AK9", ack.status, ack.sets_included, ack.sets_received, ack.sets_accepted, *ack.codes)
    return builder.finish()


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _contexts(builder: TransactionBuilder, contexts: tuple[Context, ...]) -> None:
    for item in contexts:
        builder.add("CTX", [item.name, item.reference], item.segment_id, _text(item.segment_position),
                    item.loop_id, list(item.element_position), list(item.element_reference))


def build_999(document: X12Document, control_numbers: ControlNumbers | None = None, *,
              delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[list[str]]:
    """The 999 transaction sets (each ST..SE) acknowledging every functional group of a document."""
    numbers = control_numbers or CountingControlNumbers()
    return [render_999(ack, f"{numbers.next_transaction():04d}", delimiters)
            for ack in acknowledge(document, delimiters)]


def write_999(
    document: X12Document,
    *,
    sender: Party | None = None,
    receiver: Party | None = None,
    control_numbers: ControlNumbers | None = None,
    created: datetime | None = None,
    usage: str | None = None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = True,
) -> str:
    """The whole 999 text: one interchange per inbound interchange, addressed back to its sender.

    ``sender`` and ``receiver`` default to the inbound ISA receiver and sender (with their GS
    application codes), ``usage`` to the inbound ISA15. Raises ``X12Error`` when the document has
    no functional group to acknowledge (not X12, or no GS at all).
    """
    numbers = control_numbers or CountingControlNumbers()
    found = grouped(document)
    if not found:
        issues = document.errors or [X12Issue(0, None, None, "envelope", "no functional group to acknowledge")]
        raise X12Error(list(issues))
    created = created or datetime.now()
    interchanges: list[tuple[GroupSummary, list[list[str]]]] = []
    for group, transactions in found:
        ack = _group_ack(group, transactions, delimiters)
        rendered = render_999(ack, f"{numbers.next_transaction():04d}", delimiters)
        key = group.interchange_control_number
        if interchanges and interchanges[-1][0].interchange_control_number == key:
            interchanges[-1][1].append(rendered)
        else:
            interchanges.append((group, [rendered]))
    parts = []
    for group, sets in interchanges:
        parts.append(build_interchange(
            [FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, sets)],
            sender or _reply_sender(group, delimiters), receiver or _reply_receiver(group, delimiters), numbers,
            usage=usage or group.usage or "P", created=created, delimiters=delimiters, line_breaks=line_breaks,
        ))
    return "".join(parts)


def _reply_sender(group: GroupSummary, delimiters: Delimiters) -> Party:
    """We answer as the inbound receiver (ISA07/ISA08, GS03)."""
    return Party(_safe(group.interchange_receiver_id, delimiters), group.interchange_receiver_qualifier or "ZZ",
                 _safe(group.receiver_id, delimiters))


def _reply_receiver(group: GroupSummary, delimiters: Delimiters) -> Party:
    """To the inbound sender (ISA05/ISA06, GS02)."""
    return Party(_safe(group.interchange_sender_id, delimiters), group.interchange_sender_qualifier or "ZZ",
                 _safe(group.sender_id, delimiters))

"""Write a 271 eligibility response (005010X279A1) from an ``EligibilityResponse``.

The mirror of ``ts270.read_271``: reading the result gives the response back. The flat records are
put back in the HL hierarchy, as ``ts270_write`` does for the 270:

    2000A      HL*20 AAA(2000A)   2100A NM1 PER AAA(2100A)                     information source
    2000B      HL*21              2100B NM1 REF N3 N4 AAA PRV                  information receiver
    2000C      HL*22 TRN          2100C NM1 REF N3 N4 AAA PRV DMG INS HI DTP MPI
    2110C      EB HSD REF DTP AAA MSG, 2115C III, LS 2120C NM1 N3 N4 PER PRV LE
    2000D      HL*23 TRN          2100D, 2110D as in C

Consecutive members with the same payer share an information source level, then the same provider
(and PRV01 code) a receiver level, the same subscriber a subscriber level, under which each dependent
gets its own level. A subscriber level holds at most one record of its own, and one with no data of
its own (no trace, dates, benefits, errors...) gets a level without dependents, since the reader
only makes a record of a subscriber level with dependents when it carries data.

Request errors: the response's own (``EligibilityResponse.errors``) are placed by their loop (2000A,
2100A, 2100B) and party, at the place of the first member below that party, or after the members
when none is. A receiver error does not record the payer above it: it goes under the payer of the
members beside it, else ``payer``, else a payer named by its NM1 qualifiers alone. Member and benefit
errors are written where they are kept; their loop and party follow from that place when read.

Parties are written as the guide places them: PER only for the information source; REF, N3, N4 and
PRV for the receiver and members; DMG for members; a benefit related entity (2120) has N3, N4, PER
and PRV. The reader keeps only the taxonomy (PRV03) of a member's or entity's PRV (and a receiver's
PRV01 only on the members below it), so PRV01 is a usual code where the record has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from rcmflow.domain.eligibility import Benefit, EligibilityResponse, MemberEligibility, RequestError
from rcmflow.domain.parties import Address, Contact, Party
from rcmflow.formats.x12.hierarchy import HLNumbers, procedure_value, write_dates, write_demographics, write_name
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters
from rcmflow.formats.x12.writing import (
    ControlNumbers,
    FunctionalGroup,
    Repeated,
    TransactionBuilder,
    Value,
    WriteError,
    build_interchange,
)
from rcmflow.formats.x12.writing import Party as EnvelopeParty

IMPLEMENTATION = "005010X279A1"
FUNCTIONAL_ID = "HB"  # eligibility, coverage or benefit information
LEVEL_CODES = ("20", "21", "22", "23")  # HL03 by depth: source, receiver, subscriber, dependent
SOURCE_LOOPS = ("2000A", "2100A")  # the order they are written in at one information source level
RECEIVER_LOOP = "2100B"
NAMELESS_PAYER = Party("PR", entity_type="2")
DEFAULT_PROVIDER_CODE = "PE"  # PRV01 where the record does not keep it (members, entities, receivers of errors)
ENTITY_PROVIDER_CODES = {"P3": "PC"}  # PRV01 of a benefit related entity by its role
MAX_DIAGNOSES = 8  # HI01-HI08
MAX_MODIFIERS = 4
MAX_NUMBERS = 3  # PER03-PER08
ENTITY_LOOP = "2120"

Item = RequestError | MemberEligibility


class _Key(NamedTuple):
    """What a level is told apart by: its party and, for a receiver, its PRV01 provider code."""

    party: Party
    code: str = ""


Path = tuple[_Key, ...]


class _Builder(TransactionBuilder):
    """A ``TransactionBuilder`` that refuses amounts X12 cannot carry (NaN, Infinity)."""

    def add(self, seg_id: str, *elements: Value) -> None:
        for value in elements:
            if isinstance(value, Decimal) and not value.is_finite():
                raise WriteError(f"{seg_id}: {value} is not a finite amount")
        super().add(seg_id, *elements)


class _Node:
    """One HL level to write: its key, its own records (errors, or one member), the levels below."""

    __slots__ = ("key", "items", "children")

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.items: list[Item] = []
        self.children: list[_Node] = []


def write_271(response: EligibilityResponse, control_number: str, delimiters: Delimiters = DEFAULT_DELIMITERS,
              *, payer: Party | None = None) -> list[str]:
    """The segments ST..SE of one 271 transaction set.

    ``payer`` names the information source above receiver-level errors when no member names one.
    """
    if not response.members and not response.errors:
        raise WriteError("a 271 needs a member or a request error: it has at least one hierarchical level")
    builder = _Builder("271", control_number, response.implementation or IMPLEMENTATION, delimiters)
    builder.add("BHT", "0022", response.purpose or "11", response.reference, response.created,
                response.created_time, response.transaction_type)
    hl = HLNumbers(builder)
    for node in _tree(_placed(response, payer)):
        _node(builder, hl, node, "", 1)
    return builder.finish()


def write_271_interchange(
    responses: Iterable[EligibilityResponse],
    sender: EnvelopeParty,
    receiver: EnvelopeParty,
    control_numbers: ControlNumbers,
    *,
    usage: str = "P",
    created: datetime | None = None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = True,
    payer: Party | None = None,
) -> str:
    """A whole 271 interchange: one HB functional group holding one set per response, each numbered by
    ``control_numbers`` (``payer`` as in ``write_271``)."""
    transactions = [write_271(response, f"{control_numbers.next_transaction():04d}", delimiters, payer=payer)
                    for response in responses]
    group = FunctionalGroup(FUNCTIONAL_ID, IMPLEMENTATION, transactions)
    return build_interchange([group], sender, receiver, control_numbers, usage=usage, created=created,
                             delimiters=delimiters, line_breaks=line_breaks)


# -- the hierarchy ----------------------------------------------------------------------------------

def _placed(response: EligibilityResponse, payer: Party | None) -> list[tuple[Path, Item]]:
    """Response errors and members in one order (each kept in its own) with the levels above them."""
    members = [(_member_path(member), member) for member in response.members]
    codes: dict[Party, str] = {}
    for member in response.members:
        codes.setdefault(member.provider, member.provider_code)
    placed: list[tuple[Path, Item]] = []
    position = 0
    for error in response.errors:
        _check_error(error)
        while position < len(members) and not _above(error, members[position][0]):
            placed.append(members[position])
            position += 1
        assert error.party is not None  # checked above
        if error.loop in SOURCE_LOOPS:
            path: Path = (_Key(error.party),)
        elif position < len(members):  # the error is above this member: under its payer and provider code
            following = members[position][0]
            path = following[0], _Key(error.party, following[1].code)
        else:
            source = placed[-1][0][0] if placed else _Key(payer or NAMELESS_PAYER)
            path = source, _Key(error.party, codes.get(error.party, _member_code(error.party)))
        placed.append((path, error))
    placed.extend(members[position:])
    return placed


def _member_path(member: MemberEligibility) -> Path:
    path = (_Key(member.payer), _Key(member.provider, member.provider_code), _Key(member.subscriber))
    return path + (_Key(member.dependent),) if member.dependent is not None else path


def _check_error(error: RequestError) -> None:
    if error.loop not in (*SOURCE_LOOPS, RECEIVER_LOOP):
        raise WriteError(f"a response-level AAA is in loop 2000A, 2100A or 2100B, not {error.loop!r}; "
                         "member and benefit errors belong to their member or benefit")
    if error.party is None:
        raise WriteError(f"AAA*{error.reason} in {error.loop}: the party of its level places it")


def _above(error: RequestError, path: Path) -> bool:
    """Whether the error belongs on a level above the member at ``path``."""
    if error.loop in SOURCE_LOOPS:
        return path[0].party == error.party
    return path[1].party == error.party


def _tree(placed: list[tuple[Path, Item]]) -> list[_Node]:
    """Consecutive records with the same levels share them, as far as the reader can tell them apart again."""
    root = _Node(_Key(Party("")))
    for path, item in placed:
        node = root
        for depth, key in enumerate(path, 1):
            last = node.children[-1] if node.children else None
            if last is None or last.key != key or not _joins(last, depth, item, depth == len(path)):
                last = _Node(key)
                node.children.append(last)
            node = last
        node.items.append(item)
    return root.children


def _joins(node: _Node, depth: int, item: Item, own: bool) -> bool:
    """Whether ``item`` (its own record when ``own``, else a level below) can go in an existing level."""
    first = node.items[0] if node.items else None
    if not own:
        # A subscriber record without data would not be read once its level has dependents.
        return not (depth == 3 and isinstance(first, MemberEligibility) and not _has_data(first))
    if node.children:  # a level's own records come before the levels below it
        return False
    if depth >= 3:  # one record per subscriber or dependent level
        return first is None
    return _rank(item) >= _rank(node.items[-1]) if node.items else True


def _rank(item: Item) -> int:
    """Where an error goes in its level: 2000A errors are written before 2100A ones."""
    if isinstance(item, RequestError) and item.loop in SOURCE_LOOPS:
        return SOURCE_LOOPS.index(item.loop)
    return 0


def _has_data(member: MemberEligibility) -> bool:
    """What the reader counts as a subscriber level's data of its own (its party aside)."""
    return bool(member.traces or member.insured or member.diagnoses or member.dates or member.military
                or member.errors or member.benefits)


def _node(builder: TransactionBuilder, hl: HLNumbers, node: _Node, parent: str, depth: int) -> None:
    hl_id = hl.open(parent, LEVEL_CODES[depth - 1], bool(node.children))
    errors = [item for item in node.items if isinstance(item, RequestError)]
    members = [item for item in node.items if isinstance(item, MemberEligibility)]
    if depth == 1:
        _errors(builder, [error for error in errors if error.loop == SOURCE_LOOPS[0]])
        write_name(builder, node.key.party)
        _contacts(builder, node.key.party.contacts)
        _errors(builder, [error for error in errors if error.loop == SOURCE_LOOPS[1]])
    elif depth == 2:
        _party(builder, node.key.party, errors=errors, provider_code=node.key.code)
    elif members:
        _member(builder, node.key.party, members[0])
    else:  # a subscriber level leading only to dependents
        _party(builder, node.key.party, provider_code=_member_code(node.key.party), demographics=True)
    for child in node.children:
        _node(builder, hl, child, hl_id, depth + 1)


# -- segments ---------------------------------------------------------------------------------------

def _party(builder: TransactionBuilder, party: Party, *, errors: Iterable[RequestError] = (), provider_code: str = "",
           demographics: bool = False) -> None:
    """2100B/C/D: NM1 REF N3 N4 AAA PRV (DMG)."""
    write_name(builder, party)
    for ref in party.references:
        builder.add("REF", ref.qualifier, ref.value)
    _address(builder, party.address)
    _errors(builder, errors)
    if party.taxonomy or provider_code:
        builder.add("PRV", provider_code, "PXC" if party.taxonomy else "", party.taxonomy)
    if demographics:
        write_demographics(builder, party)


def _member_code(party: Party) -> str:
    """PRV01 for a party whose record keeps none: needed only to send its taxonomy."""
    return DEFAULT_PROVIDER_CODE if party.taxonomy else ""


def _address(builder: TransactionBuilder, address: Address | None) -> None:
    if address is None:
        return
    if address.line1 or address.line2:
        builder.add("N3", address.line1, address.line2)
    if address.city or address.state or address.postal_code or address.country:
        builder.add("N4", address.city, address.state, address.postal_code, address.country)


def _contacts(builder: TransactionBuilder, contacts: Iterable[Contact]) -> None:
    for contact in contacts:
        if len(contact.numbers) > MAX_NUMBERS:
            raise WriteError(f"PER carries at most {MAX_NUMBERS} communication numbers, not {len(contact.numbers)}")
        builder.add("PER", contact.function, contact.name, *[part for pair in contact.numbers for part in pair])


def _errors(builder: TransactionBuilder, errors: Iterable[RequestError]) -> None:
    for error in errors:
        if not error.valid or not error.reason:
            raise WriteError("AAA01 (valid request indicator) and AAA03 (reject reason code) are required")
        builder.add("AAA", error.valid, "", error.reason, error.follow_up)


def _member(builder: TransactionBuilder, party: Party, member: MemberEligibility) -> None:
    """The subscriber or dependent level: TRN, then 2100 (NM1 ... MPI), then the EB loops."""
    for trace in member.traces:
        builder.add("TRN", trace.type, trace.number, trace.originator, trace.supplemental)
    _party(builder, party, errors=member.errors, provider_code=_member_code(party), demographics=True)
    if member.insured:
        builder.add("INS", *member.insured)
    for start in range(0, len(member.diagnoses), MAX_DIAGNOSES):
        chunk = member.diagnoses[start:start + MAX_DIAGNOSES]
        builder.add("HI", *[[qualifier, code] for qualifier, code in chunk])
    write_dates(builder, member.dates)
    if member.military:
        builder.add("MPI", *member.military)
    for benefit in member.benefits:
        _benefit(builder, benefit)


def _benefit(builder: TransactionBuilder, benefit: Benefit) -> None:
    """One 2110 loop with its 2115 III and its 2120 benefit related entities."""
    if not benefit.information:
        raise WriteError("EB01 (eligibility or benefit information code) is required")
    procedure = None
    if benefit.procedure is not None:
        if len(benefit.procedure.modifiers) > MAX_MODIFIERS:
            raise WriteError(f"procedure {benefit.procedure.code!r} has {len(benefit.procedure.modifiers)} "
                             f"modifiers; at most {MAX_MODIFIERS}")
        procedure = procedure_value(benefit.procedure)
    builder.add("EB", benefit.information, benefit.coverage_level, Repeated(benefit.service_types),
                benefit.insurance_type, benefit.plan_description, benefit.time_period, benefit.amount, benefit.percent,
                benefit.quantity_qualifier, benefit.quantity, benefit.authorization_required, benefit.in_network,
                procedure, list(benefit.diagnosis_pointers))
    for delivery in benefit.deliveries:
        builder.add("HSD", *delivery)
    for ref in benefit.references:
        builder.add("REF", ref.qualifier, ref.value)
    write_dates(builder, benefit.dates)
    _errors(builder, benefit.errors)
    for message in benefit.messages:
        builder.add("MSG", message)
    for additional in benefit.additional:
        builder.add("III", *additional)
    if benefit.entities:
        builder.add("LS", ENTITY_LOOP)
        for entity in benefit.entities:
            _entity(builder, entity)
        builder.add("LE", ENTITY_LOOP)


def _entity(builder: TransactionBuilder, entity: Party) -> None:
    """2120: NM1 N3 N4 PER PRV."""
    write_name(builder, entity)
    _address(builder, entity.address)
    _contacts(builder, entity.contacts)
    if entity.taxonomy:
        builder.add("PRV", ENTITY_PROVIDER_CODES.get(entity.role, DEFAULT_PROVIDER_CODE), "PXC", entity.taxonomy)

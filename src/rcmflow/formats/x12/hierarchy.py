"""What the HL-structured inquiry and response sets share (270/271, 276/277/277CA).

These transaction sets nest their parties in an HL hierarchy: information source (payer), receiver,
provider, subscriber, dependent. ``HierarchyReader`` walks one transaction set with a table of rules
``(loop, segment id) -> (next loop, handler)`` that each reader declares; HL segments are handled
explicitly: every HL must name an earlier HL of the level its implementation guide puts above it,
and opens loop ``2000`` + the level's letter. The readers turn the tree into flat records (one per
claim or member) carrying their ancestors' parties.

The party segments (NM1, N3, N4, REF, PER, PRV, DMG) and the conversions every one of these sets
uses live here too, with their inverses for the writers (``write_party``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from itertools import groupby
from typing import Any, TypeVar

from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate
from rcmflow.formats.x12.envelope import RawTransaction
from rcmflow.formats.x12.issues import ElementError
from rcmflow.formats.x12.reading import ReadContext, element, to_date, to_period
from rcmflow.formats.x12.writing import TransactionBuilder

Handler = Callable[[Any, list[str], int], None]
Rules = dict[tuple[str, str], tuple[str, Handler]]

T = TypeVar("T")

HEADER = "HEADER"  # before the first HL: BHT
SKIP = "SKIP"  # inside an HL that could not be placed: its segments are skipped (the HL was reported)
NO_PARTY = Party("")


def rules(loops: str, seg_ids: str, target: str, handler: Handler) -> Rules:
    """Rules for each loop in ``loops`` and segment in ``seg_ids`` (both space separated).

    ``target`` is the number of the loop the segment opens ("2110"), keeping the level letter of the
    loop it was found in, or "" when the segment stays in its loop.
    """
    table: Rules = {}
    for loop in loops.split():
        following = target + loop[4:] if target else loop
        for seg_id in seg_ids.split():
            table[(loop, seg_id)] = (following, handler)
    return table


class Node:
    """One HL level while reading: its place in the tree and the party its NM1 names."""

    __slots__ = ("id", "level", "letter", "parent", "offset", "party", "has_children")

    def __init__(self, hl_id: str, level: str, letter: str, parent: Node | None, offset: int) -> None:
        self.id = hl_id
        self.level = level  # HL03
        self.letter = letter  # loop letter: A source, B receiver, C, D, E below
        self.parent = parent
        self.offset = offset
        self.party = NO_PARTY
        self.has_children = False

    def ancestor(self, letter: str) -> Node | None:
        """This node or the nearest one above it at ``letter``."""
        node: Node | None = self
        while node is not None and node.letter != letter:
            node = node.parent
        return node

    def party_at(self, letter: str) -> Party | None:
        """The party named at ``letter`` on the way up, None when that level is absent or unnamed."""
        node = self.ancestor(letter)
        return node.party if node is not None and node.party.role else None


class HierarchyReader:
    """Base of the HL readers: the segment loop, the HL tree and the shared party handlers."""

    name = "this transaction set"
    levels: dict[str, str] = {}  # HL03 -> loop letter
    parents: dict[str, str] = {}  # loop letter -> letter of the level that must be above it
    rules: Rules = {}
    known: frozenset[str] = frozenset()  # segment ids the transaction set defines anywhere

    def __init__(self, raw: RawTransaction, ctx: ReadContext) -> None:
        self.raw = raw
        self.ctx = ctx
        self.nodes: dict[str, Node] = {}
        self.order: list[Node] = []
        self.node: Node | None = None
        self.bht: list[str] = []

    # -- the walk ---------------------------------------------------------------------------------

    def walk(self) -> None:
        """Read every segment between ST and SE, dispatching by (loop, segment id)."""
        ctx = self.ctx
        segments = self.raw.segments
        last = len(segments) - 1
        loop = HEADER
        for offset in range(1, len(segments)):
            elements = segments[offset].split(ctx.element)
            seg_id = elements[0]
            if seg_id == "SE" and offset == last:
                break
            if seg_id == "HL":
                if loop == HEADER and not self.bht:
                    ctx.missing(offset, "BHT", f"at the start of {self.name}")
                loop = self.hl(elements, offset)
                continue
            if loop == SKIP:
                continue
            step = self.rules.get((loop, seg_id))
            if step is None:
                if seg_id in self.known:
                    ctx.unexpected(offset, seg_id, f"in loop {loop} of {self.name}")
                else:
                    ctx.unknown(offset, seg_id, self.name)
                continue
            loop, handler = step
            try:
                handler(self, elements, offset)
            except (ValueError, IndexError, ArithmeticError) as exc:
                ctx.bad_segment(offset, elements, exc)
        if not self.bht and loop == HEADER:
            ctx.missing(min(1, last), "BHT", f"at the start of {self.name}")
        if not self.order:
            ctx.missing(last if last > 0 else 1, "HL", f"in {self.name}: it has no hierarchical level")
        for node in self.order:
            if not node.party.role:
                ctx.missing(node.offset + 1, "NM1", f"in the HL {node.id!r} (level {node.level})")

    def hl(self, elements: list[str], offset: int) -> str:
        """Place an HL in the tree; the loop it opens, or SKIP when it cannot be placed."""
        ctx = self.ctx
        hl_id, parent_id, level = element(elements, 1), element(elements, 2), element(elements, 3)
        letter = self.levels.get(level)
        if not hl_id:
            ctx.issue(offset, "HL", 1, "missing_element", "HL01 (hierarchical id number) is required")
            return SKIP
        if letter is None:
            ctx.issue(offset, "HL", 3, "bad_code", f"HL03 {level!r} is not a hierarchical level of {self.name}",
                      value=level)
            return SKIP
        if hl_id in self.nodes:
            ctx.issue(offset, "HL", 1, "bad_code", f"HL01 {hl_id!r} repeats an earlier HL", value=hl_id)
        expected = self.parents.get(letter)
        parent = self.nodes.get(parent_id) if parent_id else None
        if expected is None:
            if parent_id:
                ctx.issue(offset, "HL", 2, "bad_code",
                          f"HL02 {parent_id!r}: a level {level} HL is the top of the hierarchy", value=parent_id)
            parent = None
        elif parent is None or parent.letter != expected:
            above = next((n for n in reversed(self.order) if n.letter == expected), None)
            ctx.issue(offset, "HL", 2, "bad_code" if parent_id else "missing_element",
                      f"HL02 {parent_id!r} does not name an earlier HL of the level above level {level}",
                      value=parent_id)
            if above is None:
                return SKIP
            parent = above
        node = Node(hl_id, level, letter, parent, offset)
        if parent is not None:
            parent.has_children = True
        self.nodes[hl_id] = node
        self.order.append(node)
        self.node = node
        self.opened(node)
        return "2000" + letter

    def opened(self, node: Node) -> None:
        """Hook: a new HL level begins (readers close the records of the previous one here)."""

    # -- handlers shared by every HL transaction --------------------------------------------------

    def on_bht(self, elements: list[str], offset: int) -> None:
        self.bht = elements
        if element(elements, 4):
            to_date(element(elements, 4), 4)

    def on_nm1(self, elements: list[str], offset: int) -> None:
        node = self._current()
        node.party = name_party(elements, node.party)

    def on_n3(self, elements: list[str], offset: int) -> None:
        node = self._current()
        node.party = with_street(node.party, elements)

    def on_n4(self, elements: list[str], offset: int) -> None:
        node = self._current()
        node.party = with_city(node.party, elements)

    def on_party_ref(self, elements: list[str], offset: int) -> None:
        node = self._current()
        node.party = node.party._replace(references=(*node.party.references, reference(elements)))

    def on_per(self, elements: list[str], offset: int) -> None:
        node = self._current()
        node.party = node.party._replace(contacts=(*node.party.contacts, contact(elements)))

    def on_prv(self, elements: list[str], offset: int) -> None:
        node = self._current()
        node.party = node.party._replace(taxonomy=element(elements, 3))

    def on_dmg(self, elements: list[str], offset: int) -> None:
        node = self._current()
        node.party = with_demographics(node.party, elements)

    def _current(self) -> Node:
        if self.node is None:  # rules only send party segments after an HL; this is a guard
            raise ValueError("no hierarchical level is open")
        return self.node

    # -- header -----------------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        """BHT02-BHT06 as keyword arguments of the canonical record (BHT04 converted)."""
        bht = self.bht
        created: date | None = None
        if element(bht, 4):
            try:
                created = to_date(element(bht, 4), 4)
            except ElementError:
                created = None  # reported when the BHT was read
        return {
            "purpose": element(bht, 2),
            "reference": element(bht, 3),
            "created": created,
            "created_time": element(bht, 5),
        }


# -- conversions ------------------------------------------------------------------------------------

def name_party(elements: list[str], base: Party = NO_PARTY) -> Party:
    """NM1 onto a party (keeping what DMG or other segments already set)."""
    return base._replace(
        role=element(elements, 1), entity_type=element(elements, 2), name=element(elements, 3),
        first_name=element(elements, 4), middle_name=element(elements, 5), suffix=element(elements, 7),
        id_qualifier=element(elements, 8), id=element(elements, 9),
    )


def with_street(party: Party, elements: list[str]) -> Party:
    """N3 onto a party's address."""
    address = party.address or Address()
    return party._replace(address=address._replace(line1=element(elements, 1), line2=element(elements, 2)))


def with_city(party: Party, elements: list[str]) -> Party:
    """N4 onto a party's address."""
    address = party.address or Address()
    return party._replace(address=address._replace(
        city=element(elements, 1), state=element(elements, 2), postal_code=element(elements, 3),
        country=element(elements, 4)))


def with_demographics(party: Party, elements: list[str]) -> Party:
    """DMG onto a party: birth date (DMG01 must be D8) and gender."""
    fmt, text = element(elements, 1), element(elements, 2)
    birth = None
    if text:
        if fmt != "D8":
            raise ElementError(1, "bad_code", f"DMG01 {fmt!r} must be D8 when DMG02 is sent", fmt)
        birth = to_date(text, 2)
    return party._replace(birth_date=birth, gender=element(elements, 3))


def reference(elements: list[str]) -> Reference:
    """REF01/REF02."""
    return Reference(element(elements, 1), element(elements, 2))


def contact(elements: list[str]) -> Contact:
    """PER: function, name and up to three qualified numbers."""
    numbers = tuple(
        (element(elements, k), element(elements, k + 1))
        for k in (3, 5, 7) if element(elements, k) or element(elements, k + 1)
    )
    return Contact(element(elements, 1), element(elements, 2), numbers)


def qualified_date(elements: list[str]) -> QualifiedDate:
    """DTP: qualifier and D8 date or RD8 period."""
    fmt = element(elements, 2)
    if fmt not in ("D8", "RD8"):
        raise ElementError(2, "bad_code", f"DTP02 {fmt!r} must be D8 or RD8", fmt)
    start, end, _ = to_period(fmt, element(elements, 3), 3)
    return QualifiedDate(element(elements, 1), start, end)


def procedure(text: str, component: str) -> Procedure:
    """A C003 composite: qualifier, code, up to four modifiers, description."""
    parts = text.split(component)
    return Procedure(
        parts[0], parts[1] if len(parts) > 1 else "",
        tuple(modifier for modifier in parts[2:6] if modifier), parts[6] if len(parts) > 6 else "",
    )


# -- writing ----------------------------------------------------------------------------------------

def procedure_value(proc: Procedure) -> list[str]:
    """The C003 composite parts of a procedure (modifiers padded so the description lands in -7)."""
    parts = [proc.qualifier, proc.code, *proc.modifiers]
    if proc.description:
        parts += [""] * (6 - len(parts)) + [proc.description]
    return parts


def date_value(item: QualifiedDate) -> tuple[str, str]:
    """DTP02/DTP03 of a date or period."""
    if item.end is None:
        return "D8", item.value.strftime("%Y%m%d")
    return "RD8", f"{item.value:%Y%m%d}-{item.end:%Y%m%d}"


def write_dates(builder: TransactionBuilder, dates: tuple[QualifiedDate, ...]) -> None:
    """One DTP per date."""
    for item in dates:
        builder.add("DTP", item.qualifier, *date_value(item))


def write_party(builder: TransactionBuilder, party: Party, *, provider_code: str = "",
                demographics: bool = False, contacts: bool = False) -> None:
    """NM1 with the REF, N3, N4, PER, PRV (and DMG when asked) an implementation guide puts after it.

    DMG is written by the caller where its guide wants it (before NM1 in the 276) unless asked here.
    """
    write_name(builder, party)
    for ref in party.references:
        builder.add("REF", ref.qualifier, ref.value)
    if party.address is not None:
        address = party.address
        if address.line1 or address.line2:
            builder.add("N3", address.line1, address.line2)
        if address.city or address.state or address.postal_code or address.country:
            builder.add("N4", address.city, address.state, address.postal_code, address.country)
    if contacts:
        for item in party.contacts:
            builder.add("PER", item.function, item.name, *[value for pair in item.numbers for value in pair])
    if party.taxonomy or provider_code:
        builder.add("PRV", provider_code, "PXC" if party.taxonomy else "", party.taxonomy)
    if demographics:
        write_demographics(builder, party)


def write_name(builder: TransactionBuilder, party: Party) -> None:
    """NM1 alone (the 276 and the 270 source level carry nothing else)."""
    builder.add("NM1", party.role, party.entity_type, party.name, party.first_name, party.middle_name, "",
                party.suffix, party.id_qualifier, party.id)


def write_demographics(builder: TransactionBuilder, party: Party) -> None:
    """DMG when the party has a birth date or gender."""
    if party.birth_date is not None or party.gender:
        builder.add("DMG", "D8" if party.birth_date is not None else "", party.birth_date, party.gender)


class HLNumbers:
    """Hands out HL01 numbers and writes HL segments."""

    def __init__(self, builder: TransactionBuilder) -> None:
        self.builder = builder
        self.count = 0

    def open(self, parent: str, level: str, has_children: bool) -> str:
        """Write an HL and return its id."""
        self.count += 1
        hl_id = str(self.count)
        self.builder.add("HL", hl_id, parent, level, "1" if has_children else "0")
        return hl_id


def runs(items: Iterable[T], key: Callable[[T], Any]) -> list[tuple[Any, list[T]]]:
    """Consecutive items sharing a key (a party), in order: each run is one HL level when written."""
    return [(value, list(group)) for value, group in groupby(items, key)]


def subscriber_blocks(items: list[T], is_own: Callable[[T], bool],
                      max_own: int | None = None) -> list[tuple[list[T], list[T]]]:
    """Split one subscriber's records into HL blocks of (own records, dependents' records).

    In a written HL the subscriber's own records come before its dependents' levels, so an own
    record that follows a dependent's, or one past ``max_own``, opens a new subscriber HL; that
    keeps the records in their order when read back.
    """
    blocks: list[tuple[list[T], list[T]]] = []
    own: list[T] = []
    dependents: list[T] = []
    for item in items:
        if is_own(item):
            if dependents or (max_own is not None and len(own) >= max_own):
                blocks.append((own, dependents))
                own, dependents = [], []
            own.append(item)
        else:
            dependents.append(item)
    if own or dependents:
        blocks.append((own, dependents))
    return blocks

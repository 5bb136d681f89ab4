"""Write a 277 claim status response (005010X212) or a 277CA claim acknowledgment (005010X214) from a
``ClaimStatusResponse``.

The mirror of ``ts277.read_277`` and ``read_277ca``: reading the result gives the response back.
The flat records are put back in the HL hierarchy, loop by loop as the reader takes them:

    header     BHT
    2000A      HL*20    2100A NM1 PER          2200A TRN DTP            level status 20 (277CA batch)
    2000B      HL*21    2100B NM1              2200B TRN STC QTY AMT    level status 21
    2000C      HL*19    2100C NM1              2200C TRN STC REF QTY AMT    level status 19
    2000D      HL*22 (277) or HL*PT (277CA)    2100D NM1
    2200D      TRN STC REF*1K REF DTP          a claim
    2220D      SVC STC REF*FJ REF DTP          its service lines
    2000E      HL*23 (277 only)                2100E NM1, then 2200E / 2220E as in D

Consecutive records with the same parties share levels, so a 277CA's batch, receiver and provider
statuses sit on the levels of the claims they count: a level status is written at the place of the
first claim below it, or after the claims when none is. A provider level status does not record its
information receiver; it goes under the receiver of the claims beside it.

Parties are written as the guides name them, NM1 (with PER for the information source): an address,
references or demographics have no place in a 277 and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from itertools import chain

from rcmflow.domain.claim_status import ClaimStatus, ClaimStatusResponse, LevelStatus, ServiceLineStatus, StatusEntry
from rcmflow.domain.parties import Contact, Party, Reference
from rcmflow.formats.x12.hierarchy import HLNumbers, procedure_value, write_dates, write_name
from rcmflow.formats.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters
from rcmflow.formats.x12.writing import (
    ControlNumbers,
    FunctionalGroup,
    TransactionBuilder,
    Value,
    WriteError,
    build_interchange,
)
from rcmflow.formats.x12.writing import Party as EnvelopeParty

IMPLEMENTATION = "005010X212"
IMPLEMENTATION_277CA = "005010X214"
FUNCTIONAL_ID = "HN"  # health care claim status notification: both the 277 and the 277CA

LEVEL_CODES = ("20", "21", "19", "22", "23")  # HL03 by depth: source, receiver, provider, subscriber, dependent
LEVEL_CODES_277CA = ("20", "21", "19", "PT")
# What the reader takes from a level status TRN loop at each level; anything else could not be read back.
LEVEL_FIELDS = {
    "20": frozenset({"dates"}),
    "21": frozenset({"statuses", "quantities", "amounts"}),
    "19": frozenset({"statuses", "references", "quantities", "amounts"}),
}
LEVEL_TRACE_TYPES = {"20": "1", "21": "2", "19": "1"}  # TRN01 the guides use when a level status has none
MAX_STATUSES = 3  # STC01, STC10, STC11
MAX_MODIFIERS = 4
MAX_NUMBERS = 3  # PER03-PER08

Item = LevelStatus | ClaimStatus
Path = tuple[Party, ...]


class _Builder(TransactionBuilder):
    """A ``TransactionBuilder`` that refuses amounts X12 cannot carry (NaN, Infinity)."""

    def add(self, seg_id: str, *elements: Value) -> None:
        for value in elements:
            if isinstance(value, Decimal) and not value.is_finite():
                raise WriteError(f"{seg_id}: {value} is not a finite amount")
        super().add(seg_id, *elements)


class _Node:
    """One HL level to write: its party, its own records (level statuses or claims), the levels below."""

    __slots__ = ("party", "items", "children")

    def __init__(self, party: Party) -> None:
        self.party = party
        self.items: list[Item] = []
        self.children: list[_Node] = []


def write_277(response: ClaimStatusResponse, control_number: str,
              delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[str]:
    """The segments ST..SE of one 277 claim status response (005010X212)."""
    return _write(response, control_number, delimiters, acknowledgment=False)


def write_277ca(response: ClaimStatusResponse, control_number: str,
                delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[str]:
    """The segments ST..SE of one 277CA claim acknowledgment (005010X214)."""
    return _write(response, control_number, delimiters, acknowledgment=True)


def write_277_interchange(
    responses: Iterable[ClaimStatusResponse],
    sender: EnvelopeParty,
    receiver: EnvelopeParty,
    control_numbers: ControlNumbers,
    *,
    usage: str = "P",
    created: datetime | None = None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = True,
) -> str:
    """A whole interchange of 277s and 277CAs (each by its ``is_claim_acknowledgment``), numbered by
    ``control_numbers``: one HN functional group per run of sets of one guide, since GS08 names it."""
    groups: list[FunctionalGroup] = []
    for response in responses:
        acknowledgment = response.is_claim_acknowledgment
        segments = _write(response, f"{control_numbers.next_transaction():04d}", delimiters, acknowledgment)
        version = IMPLEMENTATION_277CA if acknowledgment else IMPLEMENTATION
        if groups and groups[-1].version == version:
            groups[-1].transactions.append(segments)
        else:
            groups.append(FunctionalGroup(FUNCTIONAL_ID, version, [segments]))
    return build_interchange(groups, sender, receiver, control_numbers, usage=usage, created=created,
                             delimiters=delimiters, line_breaks=line_breaks)


def _write(response: ClaimStatusResponse, control_number: str, delimiters: Delimiters,
           acknowledgment: bool) -> list[str]:
    if not response.levels and not response.claims:
        raise WriteError("a 277 needs a level status or a claim: it has at least one hierarchical level")
    implementation = IMPLEMENTATION_277CA if acknowledgment else IMPLEMENTATION
    builder = _Builder("277", control_number, implementation, delimiters)
    # BHT01 (hierarchical structure) is the guide's; BHT02 08 status and BHT06 TH receipt
    # acknowledgment / DG response are the guides' only codes, used when the record has none.
    transaction_type = response.transaction_type or ("TH" if acknowledgment else "DG")
    builder.add("BHT", "0085" if acknowledgment else "0010", response.purpose or "08", response.reference,
                response.created, response.created_time, transaction_type)
    codes = LEVEL_CODES_277CA if acknowledgment else LEVEL_CODES
    hl = HLNumbers(builder)
    for node in _tree(_placed(response, acknowledgment)):
        _node(builder, hl, node, "", codes, 1)
    return builder.finish()


# -- the hierarchy ----------------------------------------------------------------------------------

def _placed(response: ClaimStatusResponse, acknowledgment: bool) -> list[tuple[Path, Item]]:
    """Level statuses and claims in one order (each kept in its own) with the parties above them."""
    claims = [(_claim_path(claim, acknowledgment), claim) for claim in response.claims]
    receivers: list[Path] = [(level.payer, level.party) for level in response.levels
                             if level.level == "21" and level.payer is not None and level.party is not None]
    placed: list[tuple[Path, Item]] = []
    position = 0
    for level in response.levels:
        _check_level(level)
        while position < len(claims) and not _above(level, claims[position][0]):
            placed.append(claims[position])
            position += 1
        following = [claims[position][0]] if position < len(claims) else []
        last = [placed[-1][0]] if placed else []
        candidates = chain(following, last, (path for path, _ in claims), receivers)
        placed.append((_level_path(level, candidates), level))
    placed.extend(claims[position:])
    return placed


def _claim_path(claim: ClaimStatus, acknowledgment: bool) -> Path:
    """Payer, receiver, provider, then the subscriber (and dependent) of a 277 or the patient of a 277CA."""
    if acknowledgment:
        if claim.subscriber is not None:
            raise WriteError(f"claim {claim.patient_control_number!r}: a 277CA names the patient, not a subscriber")
        labels = ("information source", "information receiver", "provider", "patient")
        parties = (claim.payer, claim.receiver, claim.provider, claim.patient)
    else:
        labels = ("information source", "information receiver", "provider", "subscriber", "dependent")
        parties = (claim.payer, claim.receiver, claim.provider, claim.subscriber)
        parties += (claim.patient,) if claim.patient is not None else ()
    path = []
    for label, party in zip(labels, parties, strict=False):
        if party is None:
            raise WriteError(f"claim {claim.patient_control_number!r}: the {label} level needs its party")
        path.append(party)
    return tuple(path)


def _check_level(level: LevelStatus) -> None:
    allowed = LEVEL_FIELDS.get(level.level)
    if allowed is None:
        raise WriteError(f"level status HL03 {level.level!r}: level statuses are at level 20, 21 or 19")
    if level.party is None:
        raise WriteError(f"level {level.level} status {level.trace_number!r} needs its party")
    if (level.payer is None) != (level.level == "20"):
        raise WriteError(f"level {level.level} status {level.trace_number!r}: only a level below the information "
                         "source has a payer, and it must have one")
    if not level.trace_number:
        raise WriteError(f"level {level.level} status: TRN02 (trace number) is required")
    for field in ("statuses", "references", "dates", "quantities", "amounts"):
        if getattr(level, field) and field not in allowed:
            raise WriteError(f"level {level.level} status {level.trace_number!r}: a 277 carries no {field} there")


def _above(level: LevelStatus, path: Path) -> bool:
    """Whether the level status belongs on a level above the claim at ``path``."""
    if level.level == "20":
        return path[0] == level.party
    if level.level == "21":
        return path[:2] == (level.payer, level.party)
    return path[0] == level.payer and path[2] == level.party


def _level_path(level: LevelStatus, candidates: Iterator[Path]) -> Path:
    assert level.party is not None  # checked by _check_level
    if level.level == "20":
        return (level.party,)
    assert level.payer is not None
    if level.level == "21":
        return level.payer, level.party
    # A provider level status does not record its receiver: take the first candidate's of the same payer.
    for path in candidates:
        if len(path) > 1 and path[0] == level.payer:
            return level.payer, path[1], level.party
    raise WriteError(f"provider level status {level.trace_number!r}: no claim or receiver level status of its "
                     "payer names the information receiver to write it under")


def _tree(placed: list[tuple[Path, Item]]) -> list[_Node]:
    """Consecutive records with the same parties share levels; a level's own records come before the levels
    below it, so one that follows them opens a new level (keeping every record's order)."""
    root = _Node(Party(""))
    for path, item in placed:
        node = root
        for depth, party in enumerate(path, 1):
            last = node.children[-1] if node.children else None
            if last is None or last.party != party or (depth == len(path) and last.children):
                last = _Node(party)
                node.children.append(last)
            node = last
        node.items.append(item)
    return root.children


def _node(builder: TransactionBuilder, hl: HLNumbers, node: _Node, parent: str, codes: tuple[str, ...],
          depth: int) -> None:
    if depth < len(codes):
        hl_id = hl.open(parent, codes[depth - 1], bool(node.children))
    else:  # HL04 is not used at the patient (277CA) and dependent (277) levels
        hl.count += 1
        hl_id = str(hl.count)
        builder.add("HL", hl_id, parent, codes[depth - 1])
    write_name(builder, node.party)
    if depth == 1:
        _contacts(builder, node.party.contacts)
    for item in node.items:
        if isinstance(item, LevelStatus):
            _level(builder, item)
        else:
            _claim(builder, item)
    for child in node.children:
        _node(builder, hl, child, hl_id, codes, depth + 1)


# -- segments ---------------------------------------------------------------------------------------

def _contacts(builder: TransactionBuilder, contacts: Iterable[Contact]) -> None:
    for contact in contacts:
        if len(contact.numbers) > MAX_NUMBERS:
            raise WriteError(f"PER carries at most {MAX_NUMBERS} communication numbers, not {len(contact.numbers)}")
        builder.add("PER", contact.function, contact.name, *[part for pair in contact.numbers for part in pair])


def _level(builder: TransactionBuilder, level: LevelStatus) -> None:
    """One 2200A/B/C TRN loop."""
    builder.add("TRN", level.trace_type or LEVEL_TRACE_TYPES[level.level], level.trace_number)
    _statuses(builder, level.statuses)
    _references(builder, level.references)
    write_dates(builder, level.dates)
    for quantity in level.quantities:
        builder.add("QTY", quantity.qualifier, quantity.value)
    for amount in level.amounts:
        builder.add("AMT", amount.qualifier, amount.value)


def _claim(builder: TransactionBuilder, claim: ClaimStatus) -> None:
    """One 2200D/E loop with its 2220 service lines."""
    if not claim.patient_control_number:
        raise WriteError("a claim needs its patient control number (TRN02)")
    builder.add("TRN", claim.trace_type or "2", claim.patient_control_number)
    _statuses(builder, claim.statuses)
    if claim.payer_claim_control_number:
        builder.add("REF", "1K", claim.payer_claim_control_number)
    _references(builder, claim.references, reserved="1K", field="payer_claim_control_number")
    write_dates(builder, claim.dates)
    for line in claim.lines:
        _line(builder, line)


def _line(builder: TransactionBuilder, line: ServiceLineStatus) -> None:
    if len(line.procedure.modifiers) > MAX_MODIFIERS:
        raise WriteError(f"procedure {line.procedure.code!r} has {len(line.procedure.modifiers)} modifiers; "
                         f"at most {MAX_MODIFIERS}")
    builder.add("SVC", procedure_value(line.procedure), line.charge, line.paid, line.revenue_code, "", "",
                line.units)
    _statuses(builder, line.statuses)
    if line.line_item_control_number:
        builder.add("REF", "FJ", line.line_item_control_number)
    _references(builder, line.references, reserved="FJ", field="line_item_control_number")
    write_dates(builder, line.dates)


def _references(builder: TransactionBuilder, references: Iterable[Reference], reserved: str = "",
                field: str = "") -> None:
    for ref in references:
        if reserved and ref.qualifier == reserved:
            raise WriteError(f"REF*{reserved} is read into {field}: put it there")
        builder.add("REF", ref.qualifier, ref.value)


def _statuses(builder: TransactionBuilder, entries: Iterable[StatusEntry]) -> None:
    """One STC per entry: the first status in STC01, the others in STC10 and STC11."""
    for entry in entries:
        if not entry.statuses or not entry.statuses[0].category:
            raise WriteError("STC01-1 (claim status category code) is required")
        if len(entry.statuses) > MAX_STATUSES:
            raise WriteError(f"an STC carries at most {MAX_STATUSES} statuses, not {len(entry.statuses)}")
        first, *others = entry.statuses
        if not all(any(status) for status in others):
            raise WriteError("an empty status composite in STC10/STC11 would not be read back")
        extra: list[Value] = [list(status) for status in others]
        extra += [None] * (MAX_STATUSES - 1 - len(others))
        builder.add("STC", list(first), entry.effective_date, entry.action, entry.charge, entry.paid,
                    entry.adjudication_date, entry.payment_method, entry.check_date, entry.check_number, *extra,
                    entry.message)

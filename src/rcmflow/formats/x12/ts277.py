"""Read a 277 claim status response (005010X212) or a 277CA claim acknowledgment (005010X214).

Loop structure (the two guides share it; a 277CA has no subscriber/dependent split but a patient):

    header     BHT
    2000A      HL*20    2100A NM1 PER          2200A TRN DTP (277CA: batch received/processed dates)
    2000B      HL*21    2100B NM1              2200B TRN STC QTY AMT        information receiver status
    2000C      HL*19    2100C NM1              2200C TRN STC REF QTY AMT    provider status
    2000D      HL*22 (277) or HL*PT (277CA)    2100D NM1
    2200D      TRN STC REF DTP                 claim status (one per claim)
    2220D      SVC STC REF DTP                 service line status
    2000E      HL*23 (277 only)                2100E NM1, then 2200E / 2220E as in D

Claims become ``ClaimStatus`` records with the parties of every level above them; statuses at the
receiver and provider levels become ``LevelStatus`` records.
"""

from __future__ import annotations

from rcmflow.domain.claim_status import (
    ClaimStatus,
    ClaimStatusResponse,
    LevelStatus,
    Status,
    StatusEntry,
)
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import QualifiedAmount, QualifiedDate
from rcmflow.formats.x12.envelope import RawTransaction
from rcmflow.formats.x12.hierarchy import HierarchyReader, Node, qualified_date, reference, rules
from rcmflow.formats.x12.issues import ElementError
from rcmflow.formats.x12.reading import (
    ReadContext,
    element,
    to_amount,
    to_optional_amount,
    to_optional_date,
)
from rcmflow.formats.x12.registry import register
from rcmflow.formats.x12.segments import AN, DT, ID, C, R, define
from rcmflow.formats.x12.ts276 import LineDraft, service_line

# STC*F2:88:QC*20050612**150.00*0.00
define("STC", "Status information",
       ("health care claim status", C, True, 1, 80, "C043"),
       ("status information effective date", DT, False, 8, 8, "373"),
       ("action code", ID, False, 1, 2, "306"),
       ("total claim charge amount", R, False, 1, 18, "782"),
       ("claim payment amount", R, False, 1, 18, "782"),
       ("adjudication or payment date", DT, False, 8, 8, "373"),
       ("payment method code", ID, False, 3, 3, "591"),
       ("check issue or eft effective date", DT, False, 8, 8, "373"),
       ("check or eft trace number", AN, False, 1, 16, "429"),
       ("health care claim status", C, False, 1, 80, "C043"),
       ("health care claim status", C, False, 1, 80, "C043"),
       ("free-form message text", AN, False, 1, 264, "933"))
# SVC*HC:99203*150.00*0.00****1.00
for _type in ("277", "277CA"):
    define("SVC", "Service line information",
           ("composite medical procedure identifier", C, True, 1, 80, "C003"),
           ("line item charge amount", R, True, 1, 18, "782"),
           ("line item provider payment amount", R, False, 1, 18, "782"),
           ("national uniform billing committee revenue code", AN, False, 1, 48, "234"),
           ("quantity", R, False, 1, 15, "380"),
           ("composite medical procedure identifier", C, False, 1, 80, "C003"),
           ("units of service count", R, False, 1, 15, "380"),
           transaction=_type)


class LevelDraft:
    """A receiver, provider (or 277CA source) level TRN loop being read."""

    __slots__ = ("node", "trace_type", "trace", "statuses", "references", "dates", "quantities", "amounts")

    def __init__(self, node: Node, trace_type: str, trace: str) -> None:
        self.node = node
        self.trace_type = trace_type
        self.trace = trace
        self.statuses: list[StatusEntry] = []
        self.references: list[Reference] = []
        self.dates: list[QualifiedDate] = []
        self.quantities: list[QualifiedAmount] = []
        self.amounts: list[QualifiedAmount] = []


class StatusDraft:
    """A claim (TRN loop) being read."""

    __slots__ = ("node", "trace_type", "trace", "statuses", "references", "dates", "lines")

    def __init__(self, node: Node, trace_type: str, trace: str) -> None:
        self.node = node
        self.trace_type = trace_type
        self.trace = trace
        self.statuses: list[StatusEntry] = []
        self.references: list[Reference] = []
        self.dates: list[QualifiedDate] = []
        self.lines: list[tuple[LineDraft, list[StatusEntry]]] = []


class Reader277(HierarchyReader):
    """The 277 walk: levels A to E."""

    name = "the 277"
    levels = {"20": "A", "21": "B", "19": "C", "22": "D", "23": "E"}
    parents = {"B": "A", "C": "B", "D": "C", "E": "D"}
    known = frozenset({"BHT", "HL", "NM1", "PER", "TRN", "STC", "REF", "DTP", "QTY", "AMT", "SVC"})

    def __init__(self, raw: RawTransaction, ctx: ReadContext) -> None:
        super().__init__(raw, ctx)
        self.level_drafts: list[LevelDraft] = []
        self.level: LevelDraft | None = None
        self.claims: list[StatusDraft] = []
        self.claim: StatusDraft | None = None
        self.line: tuple[LineDraft, list[StatusEntry]] | None = None

    def opened(self, node: Node) -> None:
        self.level = None
        self.claim = None
        self.line = None

    # -- levels above the claims ------------------------------------------------------------------

    def on_level_trn(self, elements: list[str], offset: int) -> None:
        self.level = LevelDraft(self._current(), element(elements, 1), element(elements, 2))
        self.level_drafts.append(self.level)

    def on_level_stc(self, elements: list[str], offset: int) -> None:
        if self.level is not None:
            self.level.statuses.append(status_entry(elements, self.ctx.component))

    def on_level_ref(self, elements: list[str], offset: int) -> None:
        if self.level is not None:
            self.level.references.append(reference(elements))

    def on_level_dtp(self, elements: list[str], offset: int) -> None:
        if self.level is not None:
            self.level.dates.append(qualified_date(elements))

    def on_level_qty(self, elements: list[str], offset: int) -> None:
        if self.level is not None:
            self.level.quantities.append(QualifiedAmount(element(elements, 1), to_amount(element(elements, 2), 2)))

    def on_level_amt(self, elements: list[str], offset: int) -> None:
        if self.level is not None:
            self.level.amounts.append(QualifiedAmount(element(elements, 1), to_amount(element(elements, 2), 2)))

    # -- claims -----------------------------------------------------------------------------------

    def on_claim_trn(self, elements: list[str], offset: int) -> None:
        self.claim = StatusDraft(self._current(), element(elements, 1), element(elements, 2))
        self.claims.append(self.claim)
        self.line = None

    def on_claim_stc(self, elements: list[str], offset: int) -> None:
        if self.claim is not None:
            self.claim.statuses.append(status_entry(elements, self.ctx.component))

    def on_claim_ref(self, elements: list[str], offset: int) -> None:
        if self.claim is not None:
            self.claim.references.append(reference(elements))

    def on_claim_dtp(self, elements: list[str], offset: int) -> None:
        if self.claim is not None:
            self.claim.dates.append(qualified_date(elements))

    def on_svc(self, elements: list[str], offset: int) -> None:
        self.line = None
        if self.claim is None:
            return
        self.line = (LineDraft(service_line(elements, self.ctx.component)), [])
        self.claim.lines.append(self.line)

    def on_line_stc(self, elements: list[str], offset: int) -> None:
        if self.line is not None:
            self.line[1].append(status_entry(elements, self.ctx.component))

    def on_line_ref(self, elements: list[str], offset: int) -> None:
        if self.line is not None:
            self.line[0].references.append(reference(elements))

    def on_line_dtp(self, elements: list[str], offset: int) -> None:
        if self.line is not None:
            self.line[0].dates.append(qualified_date(elements))

    # -- result -----------------------------------------------------------------------------------

    def claim_parties(self, node: Node) -> tuple[Party | None, ...]:
        """Payer, receiver, provider, subscriber and patient of a claim's node."""
        return tuple(node.party_at(letter) for letter in "ABCDE")

    def response(self) -> ClaimStatusResponse:
        """The canonical 277 once the walk is done."""
        levels = tuple(
            LevelStatus(
                level=draft.node.level, party=draft.node.party if draft.node.party.role else None,
                trace_number=draft.trace, statuses=tuple(draft.statuses), references=tuple(draft.references),
                dates=tuple(draft.dates), quantities=tuple(draft.quantities), amounts=tuple(draft.amounts),
                payer=draft.node.party_at("A") if draft.node.letter != "A" else None, trace_type=draft.trace_type,
            )
            for draft in self.level_drafts
        )
        claims = []
        for draft in self.claims:
            payer_claim = next((ref.value for ref in draft.references if ref.qualifier == "1K"), "")
            payer, receiver, provider, subscriber, patient = self.claim_parties(draft.node)
            claims.append(ClaimStatus(
                patient_control_number=draft.trace,
                statuses=tuple(draft.statuses),
                payer_claim_control_number=payer_claim,
                references=tuple(ref for ref in draft.references if ref.qualifier != "1K"),
                dates=tuple(draft.dates),
                lines=tuple(line.freeze()._replace(statuses=tuple(entries)) for line, entries in draft.lines),
                trace_type=draft.trace_type,
                payer=payer, receiver=receiver, provider=provider, subscriber=subscriber, patient=patient,
            ))
        header = self.header()
        return ClaimStatusResponse(
            control_number=self.raw.control_number, implementation=self.raw.implementation,
            purpose=header["purpose"], reference=header["reference"], created=header["created"],
            created_time=header["created_time"], transaction_type=element(self.bht, 6),
            levels=levels, claims=tuple(claims),
        )


class Reader277CA(Reader277):
    """The 277CA walk: the fourth level is the patient (HL*PT), there is no fifth."""

    name = "the 277CA"
    levels = {"20": "A", "21": "B", "19": "C", "PT": "D"}
    parents = {"B": "A", "C": "B", "D": "C"}

    def claim_parties(self, node: Node) -> tuple[Party | None, ...]:
        return node.party_at("A"), node.party_at("B"), node.party_at("C"), None, node.party_at("D")


def status(text: str, component: str) -> Status:
    """A C043 composite: category, status code, entity, code list qualifier."""
    parts = text.split(component)
    return Status(*(parts + ["", "", ""])[:4])


def status_entry(elements: list[str], component: str) -> StatusEntry:
    """One STC segment."""
    first = element(elements, 1)
    if not first or not first.split(component)[0]:
        raise ElementError(1, "missing_element", "STC01-1 (claim status category code) is required", first)
    statuses = [status(first, component)]
    statuses += [status(element(elements, k), component) for k in (10, 11) if element(elements, k)]
    return StatusEntry(
        statuses=tuple(statuses),
        effective_date=to_optional_date(element(elements, 2), 2),
        action=element(elements, 3),
        charge=to_optional_amount(element(elements, 4), 4),
        paid=to_optional_amount(element(elements, 5), 5),
        adjudication_date=to_optional_date(element(elements, 6), 6),
        payment_method=element(elements, 7),
        check_date=to_optional_date(element(elements, 8), 8),
        check_number=element(elements, 9),
        message=element(elements, 12),
    )


# A claim TRN is also taken straight after the HL: when the NM1 is missing (reported once by the walk),
# the claims under it are still read instead of each segment being reported as misplaced.
_CLAIM_LOOPS = "2000D 2000E 2100D 2100E 2200D 2200E 2220D 2220E"
Reader277.rules = {
    **rules("HEADER", "BHT", "", Reader277.on_bht),
    **rules("2000A 2000B 2000C 2000D 2000E", "NM1", "2100", Reader277.on_nm1),
    **rules("2100A", "PER", "", Reader277.on_per),
    # Information source (277CA batch trace), receiver and provider levels.
    **rules("2100A 2100B 2100C 2200A 2200B 2200C", "TRN", "2200", Reader277.on_level_trn),
    **rules("2200B 2200C", "STC", "", Reader277.on_level_stc),
    **rules("2200C", "REF", "", Reader277.on_level_ref),
    **rules("2200A", "DTP", "", Reader277.on_level_dtp),
    **rules("2200B 2200C", "QTY", "", Reader277.on_level_qty),
    **rules("2200B 2200C", "AMT", "", Reader277.on_level_amt),
    # Claims and their service lines.
    **rules(_CLAIM_LOOPS, "TRN", "2200", Reader277.on_claim_trn),
    **rules("2200D 2200E", "STC", "", Reader277.on_claim_stc),
    **rules("2200D 2200E", "REF", "", Reader277.on_claim_ref),
    **rules("2200D 2200E", "DTP", "", Reader277.on_claim_dtp),
    **rules("2200D 2200E 2220D 2220E", "SVC", "2220", Reader277.on_svc),
    **rules("2220D 2220E", "STC", "", Reader277.on_line_stc),
    **rules("2220D 2220E", "REF", "", Reader277.on_line_ref),
    **rules("2220D 2220E", "DTP", "", Reader277.on_line_dtp),
}


@register("277")
def read_277(raw: RawTransaction, ctx: ReadContext) -> ClaimStatusResponse:
    """Read one 277 claim status response."""
    reader = Reader277(raw, ctx)
    reader.walk()
    return reader.response()


@register("277CA")
def read_277ca(raw: RawTransaction, ctx: ReadContext) -> ClaimStatusResponse:
    """Read one 277CA claim acknowledgment."""
    reader = Reader277CA(raw, ctx)
    reader.walk()
    return reader.response()

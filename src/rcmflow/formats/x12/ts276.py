"""Read a 276 health care claim status request (005010X212) into a ``ClaimStatusRequest``.

Loop structure (005010X212 276):

    header     BHT
    2000A      HL*20    2100A NM1*PR                       payer (information source)
    2000B      HL*21    2100B NM1*41                       information receiver
    2000C      HL*19    2100C NM1*1P                       service provider
    2000D      HL*22 DMG    2100D NM1*IL                   subscriber
    2200D      TRN REF AMT DTP                             claim status tracking (one per claim)
    2210D      SVC REF DTP                                 service line
    2000E      HL*23 DMG    2100E NM1*QC                   dependent, then 2200E / 2210E as in D

Each claim (TRN) becomes one ``ClaimInquiry`` with the parties of every level above it.
"""

from __future__ import annotations

from decimal import Decimal

from rcmflow.domain.claim_status import ClaimInquiry, ClaimStatusRequest, ServiceLineStatus
from rcmflow.domain.parties import Reference
from rcmflow.domain.remittance import QualifiedDate
from rcmflow.formats.x12.envelope import RawTransaction
from rcmflow.formats.x12.hierarchy import NO_PARTY, HierarchyReader, Node, procedure, qualified_date, reference, rules
from rcmflow.formats.x12.reading import ReadContext, element, to_amount, to_optional_amount
from rcmflow.formats.x12.registry import register
from rcmflow.formats.x12.segments import AN, C, R, define

# SVC*HC:99203*150.00*****1.00  (SVC03, SVC05 and SVC06 are not used in the 276)
define("SVC", "Service line information",
       ("composite medical procedure identifier", C, True, 1, 80, "C003"),
       ("line item charge amount", R, True, 1, 18, "782"),
       ("monetary amount", R, False, 1, 18, "782"),
       ("product/service id", AN, False, 1, 48, "234"),
       ("quantity", R, False, 1, 15, "380"),
       ("composite medical procedure identifier", C, False, 1, 80, "C003"),
       ("original units of service count", R, False, 1, 15, "380"),
       transaction="276")


class LineDraft:
    """A service line being read."""

    __slots__ = ("line", "references", "dates")

    def __init__(self, line: ServiceLineStatus) -> None:
        self.line = line
        self.references: list[Reference] = []
        self.dates: list[QualifiedDate] = []

    def freeze(self) -> ServiceLineStatus:
        control = next((ref.value for ref in self.references if ref.qualifier == "FJ"), "")
        others = tuple(ref for ref in self.references if ref.qualifier != "FJ")
        return self.line._replace(line_item_control_number=control, references=others, dates=tuple(self.dates))


class ClaimDraft:
    """A claim (TRN loop) being read, under the HL node of its patient."""

    __slots__ = ("node", "trace_type", "trace", "references", "amount", "dates", "lines")

    def __init__(self, node: Node, trace_type: str, trace: str) -> None:
        self.node = node
        self.trace_type = trace_type
        self.trace = trace
        self.references: list[Reference] = []
        self.amount: Decimal | None = None
        self.dates: list[QualifiedDate] = []
        self.lines: list[LineDraft] = []


class Reader276(HierarchyReader):
    """The 276 walk; ``claims`` collects the claim drafts in file order."""

    name = "the 276"
    levels = {"20": "A", "21": "B", "19": "C", "22": "D", "23": "E"}
    parents = {"B": "A", "C": "B", "D": "C", "E": "D"}
    known = frozenset({"BHT", "HL", "NM1", "DMG", "TRN", "REF", "AMT", "DTP", "SVC"})

    def __init__(self, raw: RawTransaction, ctx: ReadContext) -> None:
        super().__init__(raw, ctx)
        self.claims: list[ClaimDraft] = []
        self.claim: ClaimDraft | None = None
        self.line: LineDraft | None = None

    def opened(self, node: Node) -> None:
        self.claim = None
        self.line = None

    def on_trn(self, elements: list[str], offset: int) -> None:
        node = self._current()
        self.claim = ClaimDraft(node, element(elements, 1), element(elements, 2))
        self.claims.append(self.claim)
        self.line = None

    def on_claim_ref(self, elements: list[str], offset: int) -> None:
        if self.claim is not None:
            self.claim.references.append(reference(elements))

    def on_amt(self, elements: list[str], offset: int) -> None:
        if self.claim is not None:
            self.claim.amount = to_amount(element(elements, 2), 2)

    def on_claim_dtp(self, elements: list[str], offset: int) -> None:
        if self.claim is not None:
            self.claim.dates.append(qualified_date(elements))

    def on_svc(self, elements: list[str], offset: int) -> None:
        self.line = None  # a bad SVC must not let its REF/DTP land on the previous line
        if self.claim is None:
            return
        line = service_line(elements, self.ctx.component)
        self.line = LineDraft(line)
        self.claim.lines.append(self.line)

    def on_line_ref(self, elements: list[str], offset: int) -> None:
        if self.line is not None:
            self.line.references.append(reference(elements))

    def on_line_dtp(self, elements: list[str], offset: int) -> None:
        if self.line is not None:
            self.line.dates.append(qualified_date(elements))

    def request(self) -> ClaimStatusRequest:
        """The canonical 276 once the walk is done."""
        claims = []
        for draft in self.claims:
            node = draft.node
            payer_claim = next((ref.value for ref in draft.references if ref.qualifier == "1K"), "")
            claims.append(ClaimInquiry(
                trace_number=draft.trace,
                payer=node.party_at("A") or NO_PARTY,
                receiver=node.party_at("B") or NO_PARTY,
                provider=node.party_at("C") or NO_PARTY,
                subscriber=node.party_at("D") or NO_PARTY,
                patient=node.party_at("E"),
                payer_claim_control_number=payer_claim,
                references=tuple(ref for ref in draft.references if ref.qualifier != "1K"),
                charge=draft.amount,
                dates=tuple(draft.dates),
                lines=tuple(line.freeze() for line in draft.lines),
            ))
        header = self.header()
        return ClaimStatusRequest(
            control_number=self.raw.control_number, claims=tuple(claims),
            purpose=header["purpose"], reference=header["reference"], created=header["created"],
            created_time=header["created_time"], implementation=self.raw.implementation,
        )


def service_line(elements: list[str], component: str) -> ServiceLineStatus:
    """SVC of a 276 or 277: procedure, charge, paid (277), revenue code, units."""
    return ServiceLineStatus(
        procedure=procedure(element(elements, 1), component),
        charge=to_amount(element(elements, 2), 2),
        paid=to_optional_amount(element(elements, 3), 3),
        revenue_code=element(elements, 4),
        units=to_optional_amount(element(elements, 7), 7),
    )


Reader276.rules = {
    **rules("HEADER", "BHT", "", Reader276.on_bht),
    **rules("2000A 2000B 2000C 2000D 2000E", "NM1", "2100", Reader276.on_nm1),
    **rules("2000D 2000E", "DMG", "", Reader276.on_dmg),
    # TRN straight after the HL too: a missing NM1 is reported once and the claims are still read.
    **rules("2000D 2000E 2100D 2100E 2200D 2200E 2210D 2210E", "TRN", "2200", Reader276.on_trn),
    **rules("2200D 2200E", "REF", "", Reader276.on_claim_ref),
    **rules("2200D 2200E", "AMT", "", Reader276.on_amt),
    **rules("2200D 2200E", "DTP", "", Reader276.on_claim_dtp),
    **rules("2200D 2200E 2210D 2210E", "SVC", "2210", Reader276.on_svc),
    **rules("2210D 2210E", "REF", "", Reader276.on_line_ref),
    **rules("2210D 2210E", "DTP", "", Reader276.on_line_dtp),
}


@register("276")
def read_276(raw: RawTransaction, ctx: ReadContext) -> ClaimStatusRequest:
    """Read one 276 transaction set."""
    reader = Reader276(raw, ctx)
    reader.walk()
    return reader.request()

"""Read 270 eligibility inquiries and 271 eligibility responses (005010X279A1).

Loop structure (005010X279A1; C is the subscriber, D the dependent, with the same loops):

    header     BHT
    2000A      HL*20 AAA(271)         2100A NM1 PER(271) AAA(271)          information source (payer)
    2000B      HL*21                  2100B NM1 REF N3 N4 AAA(271) PRV     information receiver
    2000C      HL*22 TRN              2100C NM1 REF N3 N4 AAA(271) PRV DMG INS HI DTP MPI(271)
    2110C      270: EQ AMT III REF DTP                                     eligibility inquiry
               271: EB HSD REF DTP AAA MSG, 2115C III, 2120C LS NM1 N3 N4 PER PRV LE
    2000D      HL*23 TRN              2100D, 2110D as in C                 dependent

Each subscriber or dependent asked about (270) or answered (271) becomes one flat record with the
payer and provider above it. A subscriber level with dependents below gets its own record only
when it carries data of its own (a trace, dates, inquiries or benefits, errors).
"""

from __future__ import annotations

from rcmflow.domain.eligibility import (
    Benefit,
    EligibilityInquiry,
    EligibilityResponse,
    MemberEligibility,
    MemberInquiry,
    RequestError,
    ServiceInquiry,
    Trace,
)
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import QualifiedAmount, QualifiedDate
from rcmflow.formats.x12.envelope import RawTransaction
from rcmflow.formats.x12.hierarchy import (
    NO_PARTY,
    HierarchyReader,
    Node,
    contact,
    name_party,
    procedure,
    qualified_date,
    reference,
    rules,
    with_city,
    with_street,
)
from rcmflow.formats.x12.issues import ElementError
from rcmflow.formats.x12.reading import ReadContext, element, to_amount, to_optional_amount
from rcmflow.formats.x12.registry import register
from rcmflow.formats.x12.segments import AN, ID, N0, C, R, define

# EQ*30
define("EQ", "Eligibility or benefit inquiry",
       ("service type code", ID, False, 1, 2, "1365", None, 99),
       ("composite medical procedure identifier", C, False, 1, 80, "C003"),
       ("coverage level code", ID, False, 3, 3, "1207"),
       ("insurance type code", ID, False, 1, 3, "1336"),
       ("composite diagnosis code pointer", C, False, 1, 80, "C004"))
# EB*B**1^33^35^47^86^88^98^AL^MH^UC*HM*GOLD 123 PLAN*27*10.00*****Y
define("EB", "Eligibility or benefit information",
       ("eligibility or benefit information code", ID, True, 1, 2, "1390"),
       ("coverage level code", ID, False, 3, 3, "1207"),
       ("service type code", ID, False, 1, 2, "1365", None, 99),
       ("insurance type code", ID, False, 1, 3, "1336"),
       ("plan coverage description", AN, False, 1, 50, "1204"),
       ("time period qualifier", ID, False, 1, 2, "615"),
       ("monetary amount", R, False, 1, 18, "782"),
       ("percentage as decimal", R, False, 1, 10, "954"),
       ("quantity qualifier", ID, False, 2, 2, "673"),
       ("quantity", R, False, 1, 15, "380"),
       ("yes/no condition or response code", ID, False, 1, 1, "1073"),
       ("yes/no condition or response code", ID, False, 1, 1, "1073"),
       ("composite medical procedure identifier", C, False, 1, 80, "C003"),
       ("composite diagnosis code pointer", C, False, 1, 80, "C004"))
# HSD*VS*12*WK*3*34*1
define("HSD", "Health care services delivery",
       ("quantity qualifier", ID, False, 2, 2, "673"),
       ("quantity", R, False, 1, 15, "380"),
       ("unit or basis for measurement code", ID, False, 2, 2, "355"),
       ("sample selection modulus", R, False, 1, 6, "1167"),
       ("time period qualifier", ID, False, 1, 2, "615"),
       ("number of periods", N0, False, 1, 3, "616"),
       ("ship/delivery or calendar pattern code", ID, False, 1, 2, "678"),
       ("ship/delivery pattern time code", ID, False, 1, 1, "679"))
# MSG*PLAN INCLUDES VISION RIDER
define("MSG", "Message text",
       ("free-form message text", AN, True, 1, 264, "933"),
       ("printer carriage control code", ID, False, 2, 2, "934"),
       ("number", N0, False, 1, 9, "1470"))
# III*ZZ*21
define("III", "Information",
       ("code list qualifier code", ID, False, 1, 3, "1270"),
       ("industry code", AN, False, 1, 30, "1271"),
       ("code category", ID, False, 2, 2, "1136"),
       ("free-form message text", AN, False, 1, 264, "933"))
# LS*2120
define("LS", "Loop header", ("loop identifier code", AN, True, 1, 6, "447"))
# LE*2120
define("LE", "Loop trailer", ("loop identifier code", AN, True, 1, 6, "447"))
# AAA*Y**50*N
define("AAA", "Request validation",
       ("yes/no condition or response code", ID, True, 1, 1, "1073", ("Y", "N")),
       ("agency qualifier code", ID, False, 2, 2, "559"),
       ("reject reason code", ID, True, 2, 2, "901"),
       ("follow-up action code", ID, True, 1, 1, "889"))
# MPI*A*AO*A1*L4*C1**D8*20050101
define("MPI", "Military personnel information",
       ("information status code", ID, True, 1, 1, "1201"),
       ("employment status code", ID, True, 2, 2, "584"),
       ("government service affiliation code", ID, True, 1, 1, "1595"),
       ("description", AN, False, 1, 80, "352"),
       ("military service rank code", ID, False, 2, 2, "1596"),
       ("date time period format qualifier", ID, False, 2, 3, "1250"),
       ("date time period", AN, False, 1, 35, "1251"))
for _type in ("270", "271"):
    # INS*N*19  (subscriber INS01 Y / INS02 18, dependent INS01 N with the relationship)
    define("INS", "Insured benefit",
           ("yes/no condition or response code", ID, True, 1, 1, "1073", ("Y", "N")),
           ("individual relationship code", ID, True, 2, 2, "1069"),
           *[(f"INS{n:02d}", AN, False, 1, 30) for n in range(3, 17)],
           ("birth sequence number", N0, False, 1, 9, "1470"),
           transaction=_type)
    # HI*ABK:8901*ABF:87200
    define("HI", "Health care diagnosis code",
           ("health care code information", C, True, 1, 80, "C022"),
           *[("health care code information", C, False, 1, 80, "C022") for _ in range(7)],
           transaction=_type)


def as_sent(elements: list[str]) -> tuple[str, ...]:
    """A segment's elements after its id, without trailing empty ones (kept for segments read whole)."""
    values = elements[1:]
    while values and not values[-1]:
        values.pop()
    return tuple(values)


def repeats(text: str, repetition: str) -> tuple[str, ...]:
    """The repetitions of an element ("" gives none)."""
    if not text:
        return ()
    return tuple(part for part in (text.split(repetition) if repetition else [text]) if part)


class MemberDraft:
    """What a subscriber or dependent level holds besides its party."""

    __slots__ = ("traces", "insured", "diagnoses", "dates", "military", "errors", "services", "benefits")

    def __init__(self) -> None:
        self.traces: list[Trace] = []
        self.insured: tuple[str, ...] = ()
        self.diagnoses: list[tuple[str, str]] = []
        self.dates: list[QualifiedDate] = []
        self.military: tuple[str, ...] = ()
        self.errors: list[tuple[str, list[str]]] = []  # (loop, AAA elements)
        self.services: list[ServiceDraft] = []
        self.benefits: list[BenefitDraft] = []

    def has_data(self) -> bool:
        return bool(self.traces or self.insured or self.diagnoses or self.dates or self.military
                    or self.errors or self.services or self.benefits)


class ServiceDraft:
    """An EQ loop being read."""

    __slots__ = ("service", "amounts", "facility", "references", "dates")

    def __init__(self, service: ServiceInquiry) -> None:
        self.service = service
        self.amounts: list[QualifiedAmount] = []
        self.facility: tuple[str, ...] = ()
        self.references: list[Reference] = []
        self.dates: list[QualifiedDate] = []

    def freeze(self) -> ServiceInquiry:
        return self.service._replace(amounts=tuple(self.amounts), facility=self.facility,
                                     references=tuple(self.references), dates=tuple(self.dates))


class BenefitDraft:
    """An EB loop being read."""

    __slots__ = ("benefit", "deliveries", "references", "dates", "errors", "messages", "additional", "entities")

    def __init__(self, benefit: Benefit) -> None:
        self.benefit = benefit
        self.deliveries: list[tuple[str, ...]] = []
        self.references: list[Reference] = []
        self.dates: list[QualifiedDate] = []
        self.errors: list[tuple[str, list[str]]] = []
        self.messages: list[str] = []
        self.additional: list[tuple[str, ...]] = []
        self.entities: list[Party] = []


class EligibilityReader(HierarchyReader):
    """The 270 and 271 walk (the rules tables differ)."""

    levels = {"20": "A", "21": "B", "22": "C", "23": "D"}
    parents = {"B": "A", "C": "B", "D": "C"}

    def __init__(self, raw: RawTransaction, ctx: ReadContext) -> None:
        super().__init__(raw, ctx)
        self.drafts: dict[Node, MemberDraft] = {}
        self.level_errors: list[tuple[Node, str, list[str]]] = []
        self.provider_codes: dict[Node, str] = {}
        self.service: ServiceDraft | None = None
        self.benefit: BenefitDraft | None = None
        self.entity = -1  # index of the 2120 entity being read in the current benefit

    def opened(self, node: Node) -> None:
        self.service = None
        self.benefit = None
        if node.letter in ("C", "D"):
            self.drafts[node] = MemberDraft()

    def draft(self) -> MemberDraft:
        node = self._current()
        return self.drafts[node]

    # -- member level -----------------------------------------------------------------------------

    def on_trn(self, elements: list[str], offset: int) -> None:
        self.draft().traces.append(Trace(element(elements, 1), element(elements, 2), element(elements, 3),
                                         element(elements, 4)))

    def on_receiver_prv(self, elements: list[str], offset: int) -> None:
        self.on_prv(elements, offset)
        self.provider_codes[self._current()] = element(elements, 1)

    def on_ins(self, elements: list[str], offset: int) -> None:
        self.draft().insured = as_sent(elements)

    def on_hi(self, elements: list[str], offset: int) -> None:
        component = self.ctx.component
        codes = []
        for position in range(1, min(len(elements), 9)):
            if elements[position]:
                qualifier, _, code = elements[position].partition(component)
                codes.append((qualifier, code.split(component)[0]))
        self.draft().diagnoses.extend(codes)

    def on_member_dtp(self, elements: list[str], offset: int) -> None:
        self.draft().dates.append(qualified_date(elements))

    def on_mpi(self, elements: list[str], offset: int) -> None:
        self.draft().military = as_sent(elements)

    def on_aaa(self, elements: list[str], offset: int) -> None:
        """AAA at any level: check it, then file it with the level or benefit it sits in."""
        request_error(elements, "")  # raises on a bad segment, before anything is filed
        node = self._current()
        loop = ("2100" if node.party.role else "2000") + node.letter
        if self.benefit is not None:
            self.benefit.errors.append(("2110" + node.letter, elements))
        elif node.letter in ("C", "D"):
            self.drafts[node].errors.append((loop, elements))
        else:
            self.level_errors.append((node, loop, elements))

    # -- 270 inquiries ----------------------------------------------------------------------------

    def on_eq(self, elements: list[str], offset: int) -> None:
        self.service = None
        component = self.ctx.component
        service = ServiceInquiry(
            service_types=repeats(element(elements, 1), self.ctx.repetition),
            procedure=procedure(element(elements, 2), component) if element(elements, 2) else None,
            coverage_level=element(elements, 3),
            diagnosis_pointers=repeats(element(elements, 5), component),
        )
        if not service.service_types and service.procedure is None:
            raise ElementError(1, "missing_element", "EQ01 or EQ02 is required")
        self.service = ServiceDraft(service)
        self.draft().services.append(self.service)

    def on_eq_amt(self, elements: list[str], offset: int) -> None:
        if self.service is not None:
            self.service.amounts.append(QualifiedAmount(element(elements, 1), to_amount(element(elements, 2), 2)))

    def on_eq_iii(self, elements: list[str], offset: int) -> None:
        if self.service is not None:
            self.service.facility = as_sent(elements)

    def on_eq_ref(self, elements: list[str], offset: int) -> None:
        if self.service is not None:
            self.service.references.append(reference(elements))

    def on_eq_dtp(self, elements: list[str], offset: int) -> None:
        if self.service is not None:
            self.service.dates.append(qualified_date(elements))

    # -- 271 benefits -----------------------------------------------------------------------------

    def on_eb(self, elements: list[str], offset: int) -> None:
        self.benefit = None
        self.entity = -1
        draft = self.draft()
        self.benefit = BenefitDraft(benefit(elements, self.ctx.component, self.ctx.repetition))
        draft.benefits.append(self.benefit)

    def on_hsd(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None:
            self.benefit.deliveries.append(as_sent(elements))

    def on_eb_ref(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None:
            self.benefit.references.append(reference(elements))

    def on_eb_dtp(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None:
            self.benefit.dates.append(qualified_date(elements))

    def on_msg(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None:
            self.benefit.messages.append(element(elements, 1))

    def on_iii(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None:
            self.benefit.additional.append(as_sent(elements))

    def on_ls(self, elements: list[str], offset: int) -> None:
        self.entity = -1

    def on_le(self, elements: list[str], offset: int) -> None:
        self.entity = -1

    def on_entity_nm1(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None:
            self.benefit.entities.append(name_party(elements))
            self.entity = len(self.benefit.entities) - 1

    def on_entity_n3(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None and self.entity >= 0:
            entities = self.benefit.entities
            entities[self.entity] = with_street(entities[self.entity], elements)

    def on_entity_n4(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None and self.entity >= 0:
            entities = self.benefit.entities
            entities[self.entity] = with_city(entities[self.entity], elements)

    def on_entity_per(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None and self.entity >= 0:
            entities = self.benefit.entities
            party = entities[self.entity]
            entities[self.entity] = party._replace(contacts=(*party.contacts, contact(elements)))

    def on_entity_prv(self, elements: list[str], offset: int) -> None:
        if self.benefit is not None and self.entity >= 0:
            entities = self.benefit.entities
            entities[self.entity] = entities[self.entity]._replace(taxonomy=element(elements, 3))

    # -- result -----------------------------------------------------------------------------------

    def members(self) -> list[tuple[Node, MemberDraft, Party, Party, Party, Party | None, str]]:
        """(node, draft, payer, provider, subscriber, dependent, provider code) per member record."""
        found = []
        for node in self.order:
            draft = self.drafts.get(node)
            if draft is None or (node.letter == "C" and node.has_children and not draft.has_data()):
                continue
            receiver = node.ancestor("B")
            subscriber = node.party_at("C") or NO_PARTY
            dependent = node.party if node.letter == "D" else None
            found.append((node, draft, node.party_at("A") or NO_PARTY, node.party_at("B") or NO_PARTY,
                          subscriber, dependent, self.provider_codes.get(receiver, "") if receiver else ""))
        return found


def request_error(elements: list[str], loop: str, party: Party | None = None) -> RequestError:
    """One AAA segment."""
    valid, reason = element(elements, 1), element(elements, 3)
    if not valid:
        raise ElementError(1, "missing_element", "AAA01 (valid request indicator) is required")
    if not reason:
        raise ElementError(3, "missing_element", "AAA03 (reject reason code) is required")
    return RequestError(loop, valid, reason, element(elements, 4), party)


def benefit(elements: list[str], component: str, repetition: str) -> Benefit:
    """One EB segment (the loop's other segments are added when the loop ends)."""
    information = element(elements, 1)
    if not information:
        raise ElementError(1, "missing_element", "EB01 (eligibility or benefit information code) is required")
    return Benefit(
        information=information,
        coverage_level=element(elements, 2),
        service_types=repeats(element(elements, 3), repetition),
        insurance_type=element(elements, 4),
        plan_description=element(elements, 5),
        time_period=element(elements, 6),
        amount=to_optional_amount(element(elements, 7), 7),
        percent=to_optional_amount(element(elements, 8), 8),
        quantity_qualifier=element(elements, 9),
        quantity=to_optional_amount(element(elements, 10), 10),
        authorization_required=element(elements, 11),
        in_network=element(elements, 12),
        procedure=procedure(element(elements, 13), component) if element(elements, 13) else None,
        diagnosis_pointers=repeats(element(elements, 14), component),
    )


_LEVELS = "2000A 2000B 2000C 2000D"
_MEMBER = "2100C 2100D"


class Reader270(EligibilityReader):
    name = "the 270"
    known = frozenset({"BHT", "HL", "TRN", "NM1", "REF", "N3", "N4", "PRV", "DMG", "INS", "HI", "DTP", "EQ",
                       "AMT", "III"})


Reader270.rules = {
    **rules("HEADER", "BHT", "", Reader270.on_bht),
    **rules(_LEVELS, "NM1", "2100", Reader270.on_nm1),
    **rules("2100B", "REF", "", Reader270.on_party_ref),
    **rules("2100B", "N3", "", Reader270.on_n3),
    **rules("2100B", "N4", "", Reader270.on_n4),
    **rules("2100B", "PRV", "", Reader270.on_receiver_prv),
    **rules("2000C 2000D", "TRN", "", Reader270.on_trn),
    **rules(_MEMBER, "REF", "", Reader270.on_party_ref),
    **rules(_MEMBER, "N3", "", Reader270.on_n3),
    **rules(_MEMBER, "N4", "", Reader270.on_n4),
    **rules(_MEMBER, "PRV", "", Reader270.on_prv),
    **rules(_MEMBER, "DMG", "", Reader270.on_dmg),
    **rules(_MEMBER, "INS", "", Reader270.on_ins),
    **rules(_MEMBER, "HI", "", Reader270.on_hi),
    **rules(_MEMBER, "DTP", "", Reader270.on_member_dtp),
    **rules(f"{_MEMBER} 2110C 2110D", "EQ", "2110", Reader270.on_eq),
    **rules("2110C 2110D", "AMT", "", Reader270.on_eq_amt),
    **rules("2110C 2110D", "III", "", Reader270.on_eq_iii),
    **rules("2110C 2110D", "REF", "", Reader270.on_eq_ref),
    **rules("2110C 2110D", "DTP", "", Reader270.on_eq_dtp),
}


class Reader271(EligibilityReader):
    name = "the 271"
    known = frozenset({"BHT", "HL", "AAA", "TRN", "NM1", "PER", "REF", "N3", "N4", "PRV", "DMG", "INS", "HI",
                       "DTP", "MPI", "EB", "HSD", "MSG", "III", "LS", "LE"})


_BENEFIT = "2110C 2110D"
Reader271.rules = {
    **rules("HEADER", "BHT", "", Reader271.on_bht),
    **rules("2000A", "AAA", "", Reader271.on_aaa),
    **rules(_LEVELS, "NM1", "2100", Reader271.on_nm1),
    **rules("2100A", "PER", "", Reader271.on_per),
    **rules("2100A 2100B", "AAA", "", Reader271.on_aaa),
    **rules("2100B", "REF", "", Reader271.on_party_ref),
    **rules("2100B", "N3", "", Reader271.on_n3),
    **rules("2100B", "N4", "", Reader271.on_n4),
    **rules("2100B", "PRV", "", Reader271.on_receiver_prv),
    **rules("2000C 2000D", "TRN", "", Reader271.on_trn),
    **rules(_MEMBER, "REF", "", Reader271.on_party_ref),
    **rules(_MEMBER, "N3", "", Reader271.on_n3),
    **rules(_MEMBER, "N4", "", Reader271.on_n4),
    **rules(_MEMBER, "AAA", "", Reader271.on_aaa),
    **rules(_MEMBER, "PRV", "", Reader271.on_prv),
    **rules(_MEMBER, "DMG", "", Reader271.on_dmg),
    **rules(_MEMBER, "INS", "", Reader271.on_ins),
    **rules(_MEMBER, "HI", "", Reader271.on_hi),
    **rules(_MEMBER, "DTP", "", Reader271.on_member_dtp),
    **rules(_MEMBER, "MPI", "", Reader271.on_mpi),
    **rules(f"{_MEMBER} {_BENEFIT} 2115C 2115D", "EB", "2110", Reader271.on_eb),
    **rules(_BENEFIT, "HSD", "", Reader271.on_hsd),
    **rules(_BENEFIT, "REF", "", Reader271.on_eb_ref),
    **rules(_BENEFIT, "DTP", "", Reader271.on_eb_dtp),
    **rules(_BENEFIT, "AAA", "", Reader271.on_aaa),
    **rules(_BENEFIT, "MSG", "", Reader271.on_msg),
    **rules(f"{_BENEFIT} 2115C 2115D", "III", "2115", Reader271.on_iii),
    **rules(f"{_BENEFIT} 2115C 2115D", "LS", "2120", Reader271.on_ls),
    **rules("2120C 2120D", "NM1", "", Reader271.on_entity_nm1),
    **rules("2120C 2120D", "N3", "", Reader271.on_entity_n3),
    **rules("2120C 2120D", "N4", "", Reader271.on_entity_n4),
    **rules("2120C 2120D", "PER", "", Reader271.on_entity_per),
    **rules("2120C 2120D", "PRV", "", Reader271.on_entity_prv),
    **rules("2120C 2120D", "LE", "2110", Reader271.on_le),
}


@register("270")
def read_270(raw: RawTransaction, ctx: ReadContext) -> EligibilityInquiry:
    """Read one 270 eligibility inquiry."""
    reader = Reader270(raw, ctx)
    reader.walk()
    members = tuple(
        MemberInquiry(
            payer=payer, provider=provider, subscriber=subscriber, dependent=dependent,
            traces=tuple(draft.traces), provider_code=code, insured=draft.insured,
            diagnoses=tuple(draft.diagnoses), dates=tuple(draft.dates),
            services=tuple(service.freeze() for service in draft.services),
        )
        for _, draft, payer, provider, subscriber, dependent, code in reader.members()
    )
    return EligibilityInquiry(raw.control_number, members, transaction_type=element(reader.bht, 6),
                              implementation=raw.implementation, **reader.header())


@register("271")
def read_271(raw: RawTransaction, ctx: ReadContext) -> EligibilityResponse:
    """Read one 271 eligibility response."""
    reader = Reader271(raw, ctx)
    reader.walk()
    members = []
    for node, draft, payer, provider, subscriber, dependent, code in reader.members():
        party = node.party if node.party.role else None
        benefits = tuple(
            item.benefit._replace(
                deliveries=tuple(item.deliveries), references=tuple(item.references), dates=tuple(item.dates),
                errors=tuple(request_error(aaa, loop, party) for loop, aaa in item.errors),
                messages=tuple(item.messages), additional=tuple(item.additional), entities=tuple(item.entities),
            )
            for item in draft.benefits
        )
        members.append(MemberEligibility(
            payer=payer, provider=provider, subscriber=subscriber, dependent=dependent,
            traces=tuple(draft.traces), provider_code=code, insured=draft.insured,
            diagnoses=tuple(draft.diagnoses), dates=tuple(draft.dates), military=draft.military,
            errors=tuple(request_error(aaa, loop, party) for loop, aaa in draft.errors), benefits=benefits,
        ))
    errors = tuple(
        request_error(aaa, loop, node.party if node.party.role else None) for node, loop, aaa in reader.level_errors
    )
    return EligibilityResponse(raw.control_number, tuple(members), errors, transaction_type=element(reader.bht, 6),
                               implementation=raw.implementation, **reader.header())

"""Read 837 claims, professional (005010X222A1/A2) and institutional (005010X223A2/A3), into ``ClaimBatch``es.

Loop structure of both guides, explicit (P = professional only, I = institutional only):

    header   BHT
    1000A    NM1*41 PER                                        submitter
    1000B    NM1*40                                            receiver
    2000A    HL*20 PRV CUR                                     billing provider level
      2010AA NM1*85 N3 N4 REF PER                              billing provider
      2010AB NM1*87 N3 N4                                      pay-to address
      2010AC NM1*PE N3 N4 REF                                  pay-to plan
    2000B    HL*22 SBR PAT                                     subscriber level
      2010BA NM1*IL N3 N4 DMG REF PER                          subscriber
      2010BB NM1*PR N3 N4 REF                                  payer
    2000C    HL*23 PAT                                         patient level
      2010CA NM1*QC N3 N4 DMG REF PER                          patient
    2300     CLM DTP CL1(I) PWK CN1 AMT REF K3 NTE CR1(P) CR2(P) CRC HI HCP     claim
      2310   NM1 PRV N3 N4 REF PER                             claim providers and places
      2320   SBR CAS AMT OI MIA(I) MOA                         other payer (coordination of benefits)
        2330A NM1*IL N3 N4 REF                                 other subscriber
        2330B NM1*PR N3 N4 DTP REF                             other payer
        2330C NM1 REF                                          other payer's provider identifiers
      2400   LX SV1(P)|SV2(I) SV5 PWK CR1 CR3 CRC DTP QTY MEA CN1 REF AMT K3 NTE PS1 HCP   service line
        2410 LIN CTP REF                                       drug
        2420 NM1 PRV N3 N4 REF PER                             line providers
        2430 SVD CAS DTP AMT                                   line adjudication by another payer
        2440 LQ FRM (P)                                        form (DME certificate of medical necessity)

``BODY`` below lists, per loop, the segments read inside it; ``HL``, ``CLM``, ``LX``, ``NM1``, ``SBR``
(in a claim), ``LIN``, ``SVD`` and ``LQ`` open loops. A claim belongs to the subscriber (HL 22) or
patient (HL 23) level it follows. A known segment in the wrong loop is ``unexpected`` (skipped), a
segment foreign to the 837 is ``unknown``. Readers never raise: each segment is read inside a
``try`` and a failure becomes a located issue; a claim whose CLM cannot be read is skipped with its
loops, a line whose LX cannot be read likewise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TypeVar

from rcmflow.domain.claim import (
    Claim,
    ClaimBatch,
    Drug,
    ExtraSegment,
    HealthCareCode,
    LineAdjudication,
    Note,
    OtherPayer,
    Patient,
    ServiceLine,
    Subscriber,
)
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import Adjustment, Procedure, QualifiedAmount, QualifiedDate
from rcmflow.formats.x12 import ts837_segments  # noqa: F401 - registers the 837 segment tables
from rcmflow.formats.x12.envelope import RawTransaction
from rcmflow.formats.x12.issues import ERROR, WARNING, ElementError
from rcmflow.formats.x12.reading import ReadContext, to_amount, to_date, to_optional_amount
from rcmflow.formats.x12.registry import register
from rcmflow.formats.x12.segments import is_valid_time

# --------------------------------------------------------------------------------------------------
# The loop structure as data.

LOOP_NAMES = {
    "header": "the header", "1000A": "loop 1000A (submitter)", "1000B": "loop 1000B (receiver)",
    "2000A": "loop 2000A (billing provider level)", "2010AA": "loop 2010AA (billing provider)",
    "2010AB": "loop 2010AB (pay-to address)", "2010AC": "loop 2010AC (pay-to plan)",
    "2000B": "loop 2000B (subscriber level)", "2010BA": "loop 2010BA (subscriber)",
    "2010BB": "loop 2010BB (payer)", "2000C": "loop 2000C (patient level)", "2010CA": "loop 2010CA (patient)",
    "2300": "loop 2300 (claim)", "2310": "loop 2310 (claim provider)", "2320": "loop 2320 (other payer)",
    "2330A": "loop 2330A (other subscriber)", "2330B": "loop 2330B (other payer name)",
    "2330C": "loop 2330C (other payer provider)", "2400": "loop 2400 (service line)",
    "2410": "loop 2410 (drug)", "2420": "loop 2420 (line provider)", "2430": "loop 2430 (line adjudication)",
    "2440": "loop 2440 (form)", "skip": "a skipped loop",
}

_PARTY = frozenset({"N3", "N4", "REF", "PER"})
# Segments read inside each loop (loop openers excluded), per claim type.
BODY: dict[str, dict[str, frozenset[str]]] = {
    kind: {
        "header": frozenset({"BHT"}),
        "1000A": frozenset({"PER"}),
        "1000B": frozenset(),
        "2000A": frozenset({"PRV", "CUR"}),
        "2010AA": _PARTY,
        "2010AB": frozenset({"N3", "N4"}),
        "2010AC": frozenset({"N3", "N4", "REF"}),
        "2000B": frozenset({"SBR", "PAT"}),
        "2010BA": _PARTY | {"DMG"},
        "2010BB": frozenset({"N3", "N4", "REF"}),
        "2000C": frozenset({"PAT"}),
        "2010CA": _PARTY | {"DMG"},
        "2300": (frozenset({"DTP", "PWK", "CN1", "AMT", "REF", "K3", "NTE", "CRC", "HI", "HCP"})
                 | ({"CR1", "CR2"} if kind == "P" else {"CL1"})),
        "2310": _PARTY | {"PRV"},
        "2320": frozenset({"CAS", "AMT", "OI", "MOA"} | ({"MIA"} if kind == "I" else set())),
        "2330A": frozenset({"N3", "N4", "REF"}),
        "2330B": frozenset({"N3", "N4", "DTP", "REF"}),
        "2330C": frozenset({"REF"}),
        "2400": (frozenset({"SV1", "SV5", "PWK", "CR1", "CR3", "CRC", "DTP", "QTY", "MEA", "CN1", "REF", "AMT",
                            "K3", "NTE", "PS1", "HCP"}) if kind == "P"
                 else frozenset({"SV2", "PWK", "DTP", "REF", "AMT", "NTE", "HCP"})),
        "2410": frozenset({"CTP", "REF"}),
        "2420": _PARTY | {"PRV"},
        "2430": frozenset({"CAS", "DTP", "AMT"}),
        "2440": frozenset({"FRM"}),
    }
    for kind in ("P", "I")
}
OPENERS = frozenset({"HL", "CLM", "LX", "NM1", "SBR", "LIN", "SVD", "LQ"})
KNOWN = OPENERS | {seg for kind in BODY.values() for body in kind.values() for seg in body}
SKIPPED_BODY = frozenset({"N3", "N4", "REF", "PER", "DMG", "PRV", "DTP"})

_SUBSCRIBER_LOOPS = frozenset({"2000B", "2010BA", "2010BB", "2000C", "2010CA"})
_CLAIM_LOOPS = frozenset({"2300", "2310", "2320", "2330A", "2330B", "2330C"})
_LINE_LOOPS = frozenset({"2400", "2410", "2420", "2430", "2440"})
_OTHER_PAYER_LOOPS = frozenset({"2320", "2330A", "2330B", "2330C"})
# NM1 entity codes that name a level's own party and can never be a claim or line provider.
_LEVEL_ROLES = frozenset({"41", "40", "85", "87", "PE", "IL", "PR", "QC"})

# HI code list qualifiers per guide (ICD-10 "A..." forms and their ICD-9 predecessors).
HI_QUALIFIERS = {
    "P": frozenset({"ABK", "ABF", "BK", "BF", "BP", "BO", "BG"}),
    "I": frozenset({"ABK", "BK", "ABJ", "BJ", "APR", "PR", "ABN", "BN", "DR", "ABF", "BF", "BBR", "BR", "CAH", "BBQ",
                    "BQ", "CAI", "BI", "BH", "BE", "BG", "TC"}),
}

# Where kept-as-sent segments go back: the writer puts each rank range at its place in the loop; the
# reader sorts by rank (stable) so that a read claim is already in written order. LQ and FRM share a
# rank because FRMs belong to the LQ before them.
CLAIM_EXTRA_RANK = {"PWK": 0, "CN1": 1, "K3": 2, "CR1": 3, "CR2": 4, "CRC": 5, "HCP": 6}
LINE_EXTRA_RANK = {"SV5": 0, "PWK": 1, "CR1": 2, "CR3": 3, "CRC": 4, "MEA": 5, "CN1": 6, "K3": 7, "PS1": 8,
                   "HCP": 9, "LQ": 10, "FRM": 10}

# --------------------------------------------------------------------------------------------------
# Mutable builders; each turns into its canonical NamedTuple once its loop is complete.


class _PartyB:
    def __init__(self, el: list[str]) -> None:
        n = len(el)
        self.role = el[1] if n > 1 else ""
        self.nm1 = [el[i] if i < n else "" for i in (3, 4, 5, 7, 2, 8, 9)]
        self.address: list[str] | None = None
        self.refs: list[Reference] = []
        self.contacts: list[Contact] = []
        self.birth_date: date | None = None
        self.gender = ""
        self.taxonomy = ""

    def build(self) -> Party:
        name, first, middle, suffix, entity, qualifier, ident = self.nm1
        return Party(self.role, name, first, middle, suffix, entity, qualifier, ident,
                     Address(*self.address) if self.address is not None else None, tuple(self.refs),
                     tuple(self.contacts), self.birth_date, self.gender, self.taxonomy)


class _Billing:
    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.party: _PartyB | None = None
        self.pay_to: _PartyB | None = None
        self.pay_to_plan: _PartyB | None = None
        self.taxonomy = ""
        self.currency = ""
        self._built: tuple[Party, Party | None, Party | None, str] | None = None

    def built(self) -> tuple[Party, Party | None, Party | None, str]:
        if self._built is None:
            party = self.party.build() if self.party else Party("85")
            if self.taxonomy:
                party = party._replace(taxonomy=self.taxonomy)
            self._built = (party, self.pay_to.build() if self.pay_to else None,
                           self.pay_to_plan.build() if self.pay_to_plan else None, self.currency)
        return self._built


class _PatFacts:
    """PAT05-PAT09, shared by the subscriber (2000B) and patient (2000C) levels."""

    def __init__(self) -> None:
        self.pat: list[str] | None = None
        self.death_date: date | None = None
        self.weight: Decimal | None = None

    def read_pat(self, el: list[str]) -> None:
        fmt = el[5] if len(el) > 5 else ""
        text = el[6] if len(el) > 6 else ""
        if text and fmt != "D8":
            raise ElementError(5, "bad_code", f"{fmt!r} is not D8", fmt)
        self.death_date = to_date(text, 6) if text else None
        self.weight = to_optional_amount(el[8], 8) if len(el) > 8 else None
        self.pat = el

    def facts(self) -> tuple[date | None, str, Decimal | None, str]:
        el = self.pat or []
        return (self.death_date, el[7] if len(el) > 7 else "", self.weight, el[9] if len(el) > 9 else "")


class _SubscriberHL(_PatFacts):
    def __init__(self, offset: int, billing: _Billing) -> None:
        super().__init__()
        self.offset = offset
        self.billing = billing
        self.sbr: list[str] | None = None
        self.insured: _PartyB | None = None
        self.payer: _PartyB | None = None
        self._built: tuple[Subscriber, Party] | None = None

    def built(self) -> tuple[Subscriber, Party]:
        if self._built is None:
            insured = self.insured.build() if self.insured else Party("IL")
            self._built = (_subscriber(self.sbr or [], insured, *self.facts()),
                           self.payer.build() if self.payer else Party("PR"))
        return self._built


class _PatientHL(_PatFacts):
    def __init__(self, offset: int, subscriber: _SubscriberHL) -> None:
        super().__init__()
        self.offset = offset
        self.subscriber = subscriber
        self.party: _PartyB | None = None
        self._built: Patient | None = None

    def built(self) -> Patient:
        if self._built is None:
            relationship = self.pat[1] if self.pat and len(self.pat) > 1 else ""
            self._built = Patient(relationship, self.party.build() if self.party else Party("QC"), *self.facts())
        return self._built


def _subscriber(sbr: list[str], party: Party, death_date: date | None = None, weight_unit: str = "",
                weight: Decimal | None = None, pregnancy: str = "") -> Subscriber:
    values = [sbr[i] if i < len(sbr) else "" for i in (1, 2, 3, 4, 5, 9)]
    return Subscriber(*values, party, death_date, weight_unit, weight, pregnancy)


class _OtherB:
    def __init__(self, offset: int, sbr: list[str]) -> None:
        self.offset = offset
        self.sbr = sbr
        self.adjustments: list[Adjustment] = []
        self.amounts: list[QualifiedAmount] = []
        self.oi: list[str] = []
        self.mia: tuple[str, ...] = ()
        self.moa: tuple[str, ...] = ()
        self.insured: _PartyB | None = None
        self.payer: _PartyB | None = None
        self.adjudication_date: date | None = None
        self.providers: list[_PartyB] = []

    def build(self) -> OtherPayer:
        oi = self.oi
        return OtherPayer(
            _subscriber(self.sbr, self.insured.build() if self.insured else Party("IL")),
            self.payer.build() if self.payer else Party("PR"), tuple(self.adjustments), tuple(self.amounts),
            oi[3] if len(oi) > 3 else "", oi[4] if len(oi) > 4 else "", oi[6] if len(oi) > 6 else "",
            self.mia, self.moa, self.adjudication_date, tuple(p.build() for p in self.providers))


class _LineB:
    def __init__(self, offset: int, number: int) -> None:
        self.offset = offset
        self.number = number
        self.service: dict[str, object] | None = None
        self.service_seen = False
        self.dates: list[QualifiedDate] = []
        self.control_number = ""
        self.refs: list[Reference] = []
        self.amounts: list[QualifiedAmount] = []
        self.quantities: list[QualifiedAmount] = []
        self.notes: list[Note] = []
        self.drug: list = []  # [qualifier, code, quantity, unit, refs]
        self.providers: list[_PartyB] = []
        self.adjudications: list[list] = []  # [SVD fields..., adjustments, dates, amounts]
        self.extras: list[ExtraSegment] = []

    def build(self) -> ServiceLine:
        drug = self.drug
        return ServiceLine(
            self.number, **self.service,  # type: ignore[arg-type]
            dates=tuple(self.dates), line_item_control_number=self.control_number, references=tuple(self.refs),
            amounts=tuple(self.amounts), quantities=tuple(self.quantities), notes=tuple(self.notes),
            drug=Drug(drug[0], drug[1], drug[2], drug[3], tuple(drug[4])) if drug else None,
            providers=tuple(p.build() for p in self.providers),
            adjudications=tuple(LineAdjudication(*a[:6], tuple(a[6]), tuple(a[7]), tuple(a[8]))
                                for a in self.adjudications),
            extra_segments=_ranked(self.extras, LINE_EXTRA_RANK),
        )


class _ClaimB:
    def __init__(self, offset: int, fields: dict[str, object], subscriber: _SubscriberHL,
                 patient: _PatientHL | None) -> None:
        self.offset = offset
        self.fields = fields
        self.subscriber = subscriber
        self.patient = patient
        self.dates: list[QualifiedDate] = []
        self.discharge_hour = ""
        self.cl1: list[str] = []
        self.refs: list[Reference] = []
        self.amounts: list[QualifiedAmount] = []
        self.notes: list[Note] = []
        self.codes: list[HealthCareCode] = []
        self.providers: list[_PartyB] = []
        self.others: list[_OtherB] = []
        self.lines: list[_LineB] = []
        self.line_seen = False
        self.extras: list[ExtraSegment] = []

    def build(self, claim_type: str) -> Claim:
        billing, pay_to, plan, currency = self.subscriber.billing.built()
        subscriber, payer = self.subscriber.built()
        cl1 = self.cl1
        return Claim(
            claim_type, **self.fields,  # type: ignore[arg-type]
            billing_provider=billing, pay_to=pay_to, pay_to_plan=plan, currency=currency,
            subscriber=subscriber, payer=payer, patient=self.patient.built() if self.patient else None,
            dates=tuple(self.dates), discharge_hour=self.discharge_hour,
            admission_type=cl1[1] if len(cl1) > 1 else "", admission_source=cl1[2] if len(cl1) > 2 else "",
            patient_status=cl1[3] if len(cl1) > 3 else "", references=tuple(self.refs),
            amounts=tuple(self.amounts), notes=tuple(self.notes), health_care_codes=tuple(self.codes),
            providers=tuple(p.build() for p in self.providers), other_payers=tuple(o.build() for o in self.others),
            service_lines=tuple(line.build() for line in self.lines if line.service is not None),
            extra_segments=_ranked(self.extras, CLAIM_EXTRA_RANK),
        )


def _ranked(extras: list[ExtraSegment], rank: dict[str, int]) -> tuple[ExtraSegment, ...]:
    return tuple(sorted(extras, key=lambda seg: rank.get(seg.id, 99)))


# --------------------------------------------------------------------------------------------------
# Element conversions shared by several segments.


def _required(el: list[str], position: int, what: str) -> str:
    value = el[position] if position < len(el) else ""
    if not value:
        raise ElementError(position, "missing_element", f"{what} is required", "")
    return value


def _procedure(text: str, component: str, position: int) -> Procedure:
    """A C003 composite: qualifier, code, up to four modifiers, description."""
    parts = text.split(component)
    if len(parts) < 2 or not parts[1]:
        raise ElementError(position, "missing_element", f"procedure code is missing in {text!r}", text)
    modifiers = parts[2:6]
    while modifiers and not modifiers[-1]:
        modifiers.pop()
    return Procedure(parts[0], parts[1], tuple(modifiers), parts[6] if len(parts) > 6 else "")


def _dtp(el: list[str]) -> QualifiedDate:
    """DTP*qualifier*D8|RD8|DT*value."""
    qualifier = _required(el, 1, "date/time qualifier")
    fmt = _required(el, 2, "date time period format qualifier")
    text = _required(el, 3, "date time period")
    if fmt == "D8":
        return QualifiedDate(qualifier, to_date(text, 3))
    if fmt == "RD8":
        start, sep, end = text.partition("-")
        if not sep:
            raise ElementError(3, "bad_date", f"{text!r} is not a CCYYMMDD-CCYYMMDD range", text)
        return QualifiedDate(qualifier, to_date(start, 3), to_date(end, 3))
    if fmt == "DT":
        time = text[8:]
        if len(time) != 4 or not is_valid_time(time):
            raise ElementError(3, "bad_date", f"{text!r} is not a CCYYMMDDHHMM date and time", text)
        return QualifiedDate(qualifier, to_date(text[:8], 3), None, time)
    raise ElementError(2, "bad_code", f"date format {fmt!r} is not D8, RD8 or DT", fmt)


def _extra(el: list[str], component: str) -> ExtraSegment:
    """A segment kept as sent: composites split into components, trailing empties dropped."""
    values: list[str | tuple[str, ...]] = []
    for value in el[1:]:
        if component in value:
            parts = value.split(component)
            while parts and not parts[-1]:
                parts.pop()
            values.append(tuple(parts) if len(parts) > 1 else (parts[0] if parts else ""))
        else:
            values.append(value)
    while values and not values[-1]:
        values.pop()
    return ExtraSegment(el[0], tuple(values))


def _trimmed(values: list[str]) -> tuple[str, ...]:
    end = len(values)
    while end and not values[end - 1]:
        end -= 1
    return tuple(values[:end])


def _adjustments(el: list[str]) -> list[Adjustment]:
    """CAS: the group and up to six (reason, amount, quantity) triplets."""
    group = _required(el, 1, "claim adjustment group code")
    found = []
    for position in range(2, min(len(el), 20), 3):
        reason = el[position]
        if not reason:
            continue
        amount = to_amount(_required(el, position + 1, "adjustment amount"), position + 1)
        quantity = to_optional_amount(el[position + 2], position + 2) if position + 2 < len(el) else None
        found.append(Adjustment(group, reason, amount, quantity))
    if not found:
        raise ElementError(2, "missing_element", "claim adjustment reason code is required", "")
    return found


# --------------------------------------------------------------------------------------------------
# The reader.

_L = TypeVar("_L", _Billing, _SubscriberHL)


class _Reader:
    """One 837 transaction set being read; ``loop`` is the loop the last segment belonged to."""

    def __init__(self, raw: RawTransaction, ctx: ReadContext, claim_type: str) -> None:
        self.raw = raw
        self.ctx = ctx
        self.claim_type = claim_type
        self.component = ctx.component
        self.loop = "header"
        self.skipping = ""  # "claim" or "line": the CLM/LX could not be read, its loops are skipped
        self.header: list[str] | None = None  # the BHT
        self.created: date | None = None
        self.resume: tuple[str, _PartyB | None] = ("header", None)
        self.submitter: _PartyB | None = None
        self.receiver: _PartyB | None = None
        self.party: _PartyB | None = None  # the party the current NM1 loop fills
        self.hls: dict[str, _Billing | _SubscriberHL | _PatientHL] = {}
        self.billings: list[_Billing] = []
        self.subscribers: list[_SubscriberHL] = []
        self.patients: list[_PatientHL] = []
        self.level: _SubscriberHL | _PatientHL | None = None  # where a CLM belongs
        self.claim: _ClaimB | None = None
        self.claims: list[Claim] = []
        self.other: _OtherB | None = None
        self.line: _LineB | None = None
        self.body = BODY[claim_type]
        self.component = self.component_in_use()
        handlers: dict[str, Callable[[int, list[str]], None]] = {
            "HL": self.hl, "CLM": self.clm, "LX": self.lx, "NM1": self.nm1, "SBR": self.sbr, "LIN": self.lin,
            "SVD": self.svd, "LQ": self.lq, "BHT": self.bht, "PER": self.per, "N3": self.n3, "N4": self.n4,
            "REF": self.ref, "DMG": self.dmg, "PRV": self.prv, "CUR": self.cur, "PAT": self.pat, "DTP": self.dtp,
            "CL1": self.cl1, "AMT": self.amt, "NTE": self.nte, "HI": self.hi, "CAS": self.cas, "OI": self.oi,
            "MIA": self.mia, "MOA": self.moa, "SV1": self.sv1, "SV2": self.sv2, "QTY": self.qty, "CTP": self.ctp,
        }
        self.handlers = handlers

    def component_in_use(self) -> str:
        """The component separator the claims really use.

        Some senders declare one separator in ISA16 and write composites with another (the public
        X222 examples declare ":" and write "11>B>1"). CLM05 is always a three-part composite
        (place/facility, qualifier, frequency), so the first CLM tells which one is meant without
        ambiguity. Lenient reading follows the composites; strict reading reports the mismatch.
        """
        ctx = self.ctx
        declared, sep = ctx.component, ctx.element
        prefix = "CLM" + sep
        for offset, segment in enumerate(self.raw.segments):
            if segment.startswith(prefix):
                el = segment.split(sep)
                location = el[5] if len(el) > 5 else ""
                used = location[2] if len(location) > 3 else declared
                if declared in location or used == declared or used.isalnum() or used in (sep, " "):
                    return declared
                # One rule for every reader: a warning when lenient (the meaning is unambiguous), an error
                # when strict.
                ctx.issue(offset, "CLM", 5, "bad_code", f"composites use {used!r} as component separator; "
                          f"ISA16 declares {declared!r}", severity=ERROR if ctx.strict else WARNING, value=location)
                return used
        return declared

    def where(self) -> str:
        return f"in {LOOP_NAMES.get(self.loop, self.loop)} of an 837{self.claim_type}"

    def read(self) -> ClaimBatch:
        segments = self.raw.segments
        ctx = self.ctx
        sep = ctx.element
        end = len(segments)
        if end > 1 and segments[-1].split(sep, 1)[0] == "SE":
            end -= 1
        handlers = self.handlers
        body = self.body
        for offset in range(1, end):
            el = segments[offset].split(sep)
            seg_id = el[0]
            if self.skipping and seg_id not in ("HL", "CLM") and not (self.skipping == "line" and seg_id == "LX"):
                continue
            if self.loop == "skip":
                if seg_id in SKIPPED_BODY:
                    continue  # the body of a loop whose NM1 was refused goes with it
                self.loop, self.party = self.resume
            try:
                if seg_id in body[self.loop]:
                    handler = handlers.get(seg_id)
                    if handler is not None:
                        handler(offset, el)
                    else:
                        self.extra(el)
                elif seg_id in OPENERS:
                    handlers[seg_id](offset, el)
                elif seg_id in KNOWN:
                    ctx.unexpected(offset, seg_id, self.where())
                else:
                    ctx.unknown(offset, seg_id, f"an 837{self.claim_type}")
            except (ValueError, IndexError, ArithmeticError) as exc:
                ctx.bad_segment(offset, el, exc)
        self.close_claim()
        return self.finish(end)

    # ---- header ---------------------------------------------------------------------------------

    def bht(self, offset: int, el: list[str]) -> None:
        if self.header is not None:
            self.ctx.unexpected(offset, "BHT", "after the first BHT")
            return
        created = el[4] if len(el) > 4 else ""
        self.created = to_date(created, 4) if created else None
        self.header = el

    def finish(self, end: int) -> ClaimBatch:
        ctx = self.ctx
        if self.header is None:
            ctx.missing(1, "BHT", "at the start of the 837")
        if self.submitter is None:
            ctx.missing(1, "NM1", "for the submitter (loop 1000A, NM1*41)")
        if self.receiver is None:
            ctx.missing(1, "NM1", "for the receiver (loop 1000B, NM1*40)")
        if not self.billings:
            ctx.missing(min(end, len(self.raw.segments) - 1), "HL", "for the billing provider (HL level 20)")
        for billing in self.billings:
            if billing.party is None:
                ctx.missing(billing.offset, "NM1", "for the billing provider (loop 2010AA, NM1*85)")
        for sub in self.subscribers:
            if sub.sbr is None:
                ctx.missing(sub.offset, "SBR", "in the subscriber level (loop 2000B)")
            if sub.insured is None:
                ctx.missing(sub.offset, "NM1", "for the subscriber (loop 2010BA, NM1*IL)")
            if sub.payer is None:
                ctx.missing(sub.offset, "NM1", "for the payer (loop 2010BB, NM1*PR)")
        for patient in self.patients:
            if patient.pat is None:
                ctx.missing(patient.offset, "PAT", "in the patient level (loop 2000C)")
            if patient.party is None:
                ctx.missing(patient.offset, "NM1", "for the patient (loop 2010CA, NM1*QC)")
        bht = self.header or []
        values = [bht[i] if i < len(bht) else "" for i in (2, 3, 5, 6)]
        return ClaimBatch(
            self.raw.control_number, self.claim_type, self.raw.implementation, values[0], values[1],
            self.created, values[2], values[3],
            self.submitter.build() if self.submitter else Party("41"),
            self.receiver.build() if self.receiver else Party("40"), tuple(self.claims),
        )

    # ---- hierarchy ------------------------------------------------------------------------------

    def hl(self, offset: int, el: list[str]) -> None:
        self.close_claim()
        self.skipping = "claim"  # until the HL is understood, what follows it has nowhere to go
        self.party = None
        self.level = None
        ident = _required(el, 1, "hierarchical id number")
        parent_id = el[2] if len(el) > 2 else ""
        level = _required(el, 3, "hierarchical level code")
        if ident in self.hls:
            self.ctx.issue(offset, "HL", 1, "bad_code", f"HL01 {ident!r} repeats an earlier HL id", value=ident)
        if level == "20":
            billing = self.hls[ident] = _Billing(offset)
            self.billings.append(billing)
            self.loop = "2000A"
        elif level == "22":
            parent = self.parent(offset, parent_id, _Billing, "billing provider (20)")
            if parent is None:
                parent = _Billing(offset)
                self.billings.append(parent)
            subscriber = self.level = self.hls[ident] = _SubscriberHL(offset, parent)
            self.subscribers.append(subscriber)
            self.loop = "2000B"
        elif level == "23":
            parent = self.parent(offset, parent_id, _SubscriberHL, "subscriber (22)")
            if parent is None:
                self.ctx.missing(offset, "HL", "for the subscriber level (22) above this patient level")
                return
            patient = self.level = self.hls[ident] = _PatientHL(offset, parent)
            self.patients.append(patient)
            self.loop = "2000C"
        else:
            raise ElementError(3, "bad_code", f"hierarchical level {level!r} is not 20, 22 or 23", level)
        self.skipping = ""

    def parent(self, offset: int, parent_id: str, kind: type[_L], what: str) -> _L | None:
        """The HL that HL02 names; when it is not a level of ``kind``, the latest one (and an issue)."""
        node = self.hls.get(parent_id)
        if isinstance(node, kind):
            return node
        latest = [n for n in self.hls.values() if isinstance(n, kind)]
        self.ctx.issue(offset, "HL", 2, "missing_element" if not parent_id else "bad_code",
                       f"HL02 {parent_id!r} does not name a preceding {what} level"
                       + ("; the latest one is used" if latest else ""), value=parent_id)
        return latest[-1] if latest else None

    def nm1(self, offset: int, el: list[str]) -> None:
        role = _required(el, 1, "entity identifier code")
        loop = self.loop
        party = _PartyB(el)
        target = None
        if loop in ("header", "1000A", "1000B") and role in ("41", "40"):
            if role == "41":
                self.submitter, target = party, "1000A"
            else:
                self.receiver, target = party, "1000B"
        elif loop in ("2000A", "2010AA", "2010AB", "2010AC"):
            billing = self.billings[-1]
            if role == "85":
                billing.party, target = party, "2010AA"
            elif role == "87":
                billing.pay_to, target = party, "2010AB"
            elif role == "PE":
                billing.pay_to_plan, target = party, "2010AC"
        elif loop in ("2000B", "2010BA", "2010BB"):
            sub = self.subscribers[-1]
            if role == "IL":
                sub.insured, target = party, "2010BA"
            elif role == "PR":
                sub.payer, target = party, "2010BB"
        elif loop in ("2000C", "2010CA"):
            if role == "QC":
                self.patients[-1].party, target = party, "2010CA"
        elif loop in _OTHER_PAYER_LOOPS:
            other = self.other
            if role == "IL":
                other.insured, target = party, "2330A"
            elif role == "PR":
                other.payer, target = party, "2330B"
            elif role not in ("41", "40", "87", "PE", "QC"):
                other.providers.append(party)
                target = "2330C"
        elif loop in ("2300", "2310"):
            if role not in _LEVEL_ROLES:
                self.claim.providers.append(party)
                target = "2310"
        elif loop in _LINE_LOOPS:
            if role not in _LEVEL_ROLES and loop != "2430" and loop != "2440":
                self.line.providers.append(party)
                target = "2420"
        if target is None:
            self.ctx.unexpected(offset, "NM1", f"for entity {role!r} {self.where()}")
            self.resume = (loop, self.party)
            self.loop = "skip"
            return
        self.party = party
        self.loop = target

    def per(self, offset: int, el: list[str]) -> None:
        numbers = tuple((el[i], el[i + 1]) for i in range(3, min(len(el) - 1, 9), 2) if el[i])
        contact = Contact(_required(el, 1, "contact function code"), el[2] if len(el) > 2 else "", numbers)
        self.party.contacts.append(contact)

    def n3(self, offset: int, el: list[str]) -> None:
        party = self.party
        address = party.address if party.address is not None else [""] * 6
        address[0] = _required(el, 1, "address information")
        address[1] = el[2] if len(el) > 2 else ""
        party.address = address

    def n4(self, offset: int, el: list[str]) -> None:
        party = self.party
        address = party.address if party.address is not None else [""] * 6
        n = len(el)
        address[2:6] = [el[i] if i < n else "" for i in (1, 2, 3, 4)]
        party.address = address

    def dmg(self, offset: int, el: list[str]) -> None:
        party = self.party
        text = el[2] if len(el) > 2 else ""
        if text and (el[1] != "D8"):
            raise ElementError(1, "bad_code", f"date format {el[1]!r} is not D8", el[1])
        party.birth_date = to_date(text, 2) if text else None
        party.gender = el[3] if len(el) > 3 else ""

    def prv(self, offset: int, el: list[str]) -> None:
        taxonomy = _required(el, 3, "provider taxonomy code")
        if self.loop == "2000A":
            self.billings[-1].taxonomy = taxonomy
        else:
            self.party.taxonomy = taxonomy

    def cur(self, offset: int, el: list[str]) -> None:
        self.billings[-1].currency = _required(el, 2, "currency code")

    def ref(self, offset: int, el: list[str]) -> None:
        ref = Reference(_required(el, 1, "reference identification qualifier"),
                        _required(el, 2, "reference identification"))
        loop = self.loop
        if loop == "2300":
            self.claim.refs.append(ref)  # type: ignore[union-attr]
        elif loop == "2400":
            line = self.line
            if ref.qualifier == "6R" and not line.control_number:
                line.control_number = ref.value
            else:
                line.refs.append(ref)
        elif loop == "2410":
            self.line.drug[4].append(ref)  # type: ignore[union-attr]
        else:
            self.party.refs.append(ref)

    def sbr(self, offset: int, el: list[str]) -> None:
        _required(el, 1, "payer responsibility sequence number code")
        if self.loop == "2000B":
            sub = self.subscribers[-1]
            if sub.sbr is not None:
                self.ctx.unexpected(offset, "SBR", "after the first SBR of a subscriber level")
                return
            sub.sbr = el
        elif self.loop in _CLAIM_LOOPS:
            self.other = _OtherB(offset, el)
            self.claim.others.append(self.other)
            self.party = None
            self.loop = "2320"
        else:
            self.ctx.unexpected(offset, "SBR", self.where())

    def pat(self, offset: int, el: list[str]) -> None:
        level = self.subscribers[-1] if self.loop == "2000B" else self.patients[-1]
        if level.pat is not None:
            self.ctx.unexpected(offset, "PAT", "after the first PAT of a level")
            return
        if self.loop == "2000C":
            _required(el, 1, "individual relationship code")
        level.read_pat(el)

    # ---- claim ----------------------------------------------------------------------------------

    def clm(self, offset: int, el: list[str]) -> None:
        self.close_claim()
        self.skipping = "claim"
        level = self.level
        if level is None or not (self.loop in _SUBSCRIBER_LOOPS or self.loop in _CLAIM_LOOPS
                                 or self.loop in _LINE_LOOPS):
            self.ctx.unexpected(offset, "CLM", f"{self.where()}: a claim must follow a subscriber or patient level")
            return
        component = self.component
        n = len(el)
        pcn = _required(el, 1, "patient control number")
        charge = to_amount(_required(el, 2, "total claim charge amount"), 2)
        location = el[5].split(component) if n > 5 else []
        causes = el[11].split(component) if n > 11 and el[11] else []
        fields = {
            "patient_control_number": pcn, "total_charge": charge,
            "facility_code": location[0] if location else "",
            "facility_qualifier": location[1] if len(location) > 1 else "",
            "frequency": location[2] if len(location) > 2 else "",
            "provider_signature": el[6] if n > 6 else "", "assignment": el[7] if n > 7 else "",
            "benefits_assignment": el[8] if n > 8 else "", "release_of_information": el[9] if n > 9 else "",
            "patient_signature_source": el[10] if n > 10 else "",
            "related_causes": _trimmed(causes[:3]), "accident_state": causes[3] if len(causes) > 3 else "",
            "accident_country": causes[4] if len(causes) > 4 else "",
            "special_program": el[12] if n > 12 else "", "delay_reason": el[20] if n > 20 else "",
        }
        if isinstance(level, _PatientHL):
            self.claim = _ClaimB(offset, fields, level.subscriber, level)
        else:
            self.claim = _ClaimB(offset, fields, level, None)
        self.skipping = ""
        self.party = None
        self.loop = "2300"

    def close_claim(self) -> None:
        claim = self.claim
        if claim is None:
            return
        self.claim = self.other = self.line = None
        if not claim.line_seen:
            pcn = claim.fields["patient_control_number"]
            self.ctx.missing(claim.offset, "LX", f"in claim {pcn!r}: a claim needs at least one service line")
        for other in claim.others:
            if not other.oi:
                self.ctx.missing(other.offset, "OI", "in the other payer loop 2320")
            if other.insured is None:
                self.ctx.missing(other.offset, "NM1", "for the other subscriber (loop 2330A, NM1*IL)")
            # 2330B (NM1*PR) is required too, but the guide's own COB example 3 (a primary claim naming
            # the secondary coverage) leaves it out; its absence is tolerated (payer = Party("PR")).
        for line in claim.lines:
            if not line.service_seen:
                seg = "SV1" if self.claim_type == "P" else "SV2"
                self.ctx.missing(line.offset, seg, f"in service line {line.number} (loop 2400)")
        self.claims.append(claim.build(self.claim_type))

    def dtp(self, offset: int, el: list[str]) -> None:
        loop = self.loop
        if loop == "2300" and len(el) > 2 and el[1] == "096" and el[2] == "TM":
            time = _required(el, 3, "discharge hour")
            if not is_valid_time(time):
                raise ElementError(3, "bad_time", f"{time!r} is not a valid HHMM time", time)
            self.claim.discharge_hour = time  # type: ignore[union-attr]
            return
        value = _dtp(el)
        if loop == "2300":
            self.claim.dates.append(value)  # type: ignore[union-attr]
        elif loop == "2400":
            self.line.dates.append(value)  # type: ignore[union-attr]
        elif loop == "2430":
            self.line.adjudications[-1][7].append(value)  # type: ignore[union-attr]
        else:  # 2330B: the other payer's adjudication or payment date
            self.other.adjudication_date = value.value  # type: ignore[union-attr]

    def cl1(self, offset: int, el: list[str]) -> None:
        self.claim.cl1 = el  # type: ignore[union-attr]

    def amt(self, offset: int, el: list[str]) -> None:
        amount = QualifiedAmount(_required(el, 1, "amount qualifier code"),
                                 to_amount(_required(el, 2, "monetary amount"), 2))
        loop = self.loop
        if loop == "2300":
            self.claim.amounts.append(amount)  # type: ignore[union-attr]
        elif loop == "2320":
            self.other.amounts.append(amount)  # type: ignore[union-attr]
        elif loop == "2400":
            self.line.amounts.append(amount)  # type: ignore[union-attr]
        else:
            self.line.adjudications[-1][8].append(amount)  # type: ignore[union-attr]

    def nte(self, offset: int, el: list[str]) -> None:
        note = Note(el[1] if len(el) > 1 else "", _required(el, 2, "note text"))
        if self.loop == "2300":
            self.claim.notes.append(note)  # type: ignore[union-attr]
        else:
            self.line.notes.append(note)  # type: ignore[union-attr]

    def hi(self, offset: int, el: list[str]) -> None:
        component = self.component
        allowed = HI_QUALIFIERS[self.claim_type]
        codes = []
        for position in range(1, min(len(el), 13)):
            text = el[position]
            if not text:
                continue
            parts = text.split(component)
            n = len(parts)
            if n < 2 or not parts[0] or not parts[1]:
                raise ElementError(position, "missing_element", f"code list qualifier and code are required in "
                                   f"{text!r}", text)
            fmt = parts[2] if n > 2 else ""
            when = parts[3] if n > 3 else ""
            start = end = None
            if fmt or when:
                if fmt == "D8":
                    start = to_date(when, position)
                elif fmt == "RD8":
                    first, sep, last = when.partition("-")
                    if not sep:
                        raise ElementError(position, "bad_date", f"{when!r} is not a CCYYMMDD-CCYYMMDD range", when)
                    start, end = to_date(first, position), to_date(last, position)
                else:
                    raise ElementError(position, "bad_code", f"date format {fmt!r} is not D8 or RD8", text)
            amount = to_amount(parts[4], position) if n > 4 and parts[4] else None
            if parts[0] not in allowed:
                # Kept (nothing read is dropped), but the claim's meaning is in doubt: say so.
                ctx = self.ctx
                ctx.issue(offset, "HI", position, "bad_code",
                          f"HI{position:02d}: {parts[0]!r} is not a health care code qualifier of the 837"
                          f"{self.claim_type}", ERROR if ctx.strict else WARNING, parts[0])
            codes.append(HealthCareCode(parts[0], parts[1], fmt, start, amount, parts[8] if n > 8 else "", end))
        if not codes:
            raise ElementError(1, "missing_element", "health care code information is required", "")
        self.claim.codes.extend(codes)  # type: ignore[union-attr]

    def extra(self, el: list[str]) -> None:
        if self.loop == "2300":
            self.claim.extras.append(_extra(el, self.component))  # type: ignore[union-attr]
        else:
            self.line.extras.append(_extra(el, self.component))  # type: ignore[union-attr]

    # ---- other payers ---------------------------------------------------------------------------

    def cas(self, offset: int, el: list[str]) -> None:
        found = _adjustments(el)
        if self.loop == "2320":
            self.other.adjustments.extend(found)  # type: ignore[union-attr]
        else:
            self.line.adjudications[-1][6].extend(found)  # type: ignore[union-attr]

    def oi(self, offset: int, el: list[str]) -> None:
        self.other.oi = el  # type: ignore[union-attr]

    def mia(self, offset: int, el: list[str]) -> None:
        self.other.mia = _trimmed(el[1:])  # type: ignore[union-attr]

    def moa(self, offset: int, el: list[str]) -> None:
        self.other.moa = _trimmed(el[1:])  # type: ignore[union-attr]

    # ---- service lines --------------------------------------------------------------------------

    def lx(self, offset: int, el: list[str]) -> None:
        if self.claim is None or not (self.loop in _CLAIM_LOOPS or self.loop in _LINE_LOOPS):
            self.ctx.unexpected(offset, "LX", self.where())
            return
        self.claim.line_seen = True
        self.skipping = "line"
        number = _required(el, 1, "assigned number")
        if not number.isdigit():
            raise ElementError(1, "bad_number", f"{number!r} is not a line number", number)
        self.line = _LineB(offset, int(number))
        self.claim.lines.append(self.line)
        self.skipping = ""
        self.party = None
        self.loop = "2400"

    def sv1(self, offset: int, el: list[str]) -> None:
        line = self.line
        if line.service_seen:
            self.ctx.unexpected(offset, "SV1", "after the first SV1 of a service line")
            return
        line.service_seen = True
        component = self.component
        n = len(el)
        procedure = _procedure(_required(el, 1, "procedure"), component, 1)
        charge = to_amount(_required(el, 2, "line item charge amount"), 2)
        pointers = el[7].split(component) if n > 7 and el[7] else []
        line.service = {
            "charge": charge, "procedure": procedure, "unit_basis": el[3] if n > 3 else "",
            "units": to_optional_amount(el[4], 4) if n > 4 else None, "place_of_service": el[5] if n > 5 else "",
            "diagnosis_pointers": _trimmed(pointers), "emergency": el[9] if n > 9 else "",
            "epsdt": el[11] if n > 11 else "", "family_planning": el[12] if n > 12 else "",
            "copay_status": el[15] if n > 15 else "",
        }

    def sv2(self, offset: int, el: list[str]) -> None:
        line = self.line
        if line.service_seen:
            self.ctx.unexpected(offset, "SV2", "after the first SV2 of a service line")
            return
        line.service_seen = True
        n = len(el)
        revenue = _required(el, 1, "revenue code")
        procedure = _procedure(el[2], self.component, 2) if n > 2 and el[2] else None
        charge = to_amount(_required(el, 3, "line item charge amount"), 3)
        line.service = {
            "charge": charge, "procedure": procedure, "revenue_code": revenue, "unit_basis": el[4] if n > 4 else "",
            "units": to_optional_amount(el[5], 5) if n > 5 else None,
            "unit_rate": to_optional_amount(el[6], 6) if n > 6 else None,
            "non_covered_charge": to_optional_amount(el[7], 7) if n > 7 else None,
        }

    def qty(self, offset: int, el: list[str]) -> None:
        self.line.quantities.append(QualifiedAmount(  # type: ignore[union-attr]
            _required(el, 1, "quantity qualifier"), to_amount(_required(el, 2, "quantity"), 2)))

    def lin(self, offset: int, el: list[str]) -> None:
        line = self.line
        if self.loop != "2400" or line is None or line.drug:
            self.ctx.unexpected(offset, "LIN", self.where())
            return
        line.drug = [_required(el, 2, "product/service id qualifier"), _required(el, 3, "national drug code"),
                     None, "", []]
        self.party = None
        self.loop = "2410"

    def ctp(self, offset: int, el: list[str]) -> None:
        drug = self.line.drug  # type: ignore[union-attr]
        drug[2] = to_amount(_required(el, 4, "quantity"), 4)
        drug[3] = _required(el, 5, "unit of measure").split(self.component)[0]

    def svd(self, offset: int, el: list[str]) -> None:
        if self.loop not in ("2400", "2410", "2420", "2430"):
            self.ctx.unexpected(offset, "SVD", self.where())
            return
        n = len(el)
        payer = _required(el, 1, "other payer identifier")
        paid = to_amount(_required(el, 2, "service line paid amount"), 2)
        procedure = _procedure(el[3], self.component, 3) if n > 3 and el[3] else None
        units = to_optional_amount(el[5], 5) if n > 5 else None
        self.line.adjudications.append(  # type: ignore[union-attr]
            [payer, paid, procedure, el[4] if n > 4 else "", units, el[6] if n > 6 else "", [], [], []])
        self.party = None
        self.loop = "2430"

    def lq(self, offset: int, el: list[str]) -> None:
        if self.claim_type != "P" or self.loop not in _LINE_LOOPS:
            self.ctx.unexpected(offset, "LQ", self.where())
            return
        self.line.extras.append(_extra(el, self.component))  # type: ignore[union-attr]
        self.party = None
        self.loop = "2440"


@register("837P")
def read_837p(raw: RawTransaction, ctx: ReadContext) -> ClaimBatch:
    """Read one 837 professional transaction set (005010X222A1/A2)."""
    return _Reader(raw, ctx, "P").read()


@register("837I")
def read_837i(raw: RawTransaction, ctx: ReadContext) -> ClaimBatch:
    """Read one 837 institutional transaction set (005010X223A2/A3)."""
    return _Reader(raw, ctx, "I").read()


"""The CMS National Correct Coding Initiative (NCCI) edits as data: procedure-to-procedure pairs and MUEs.

A procedure-to-procedure (PTP) edit says that the column 2 code is not paid when billed with the column 1 code
for the same patient, provider and date of service, unless the edit allows an NCCI-associated modifier
(modifier indicator 1) and the claim carries one. A medically unlikely edit (MUE) caps the units of a code: per
line (adjudication indicator 1) or per date of service (2 policy, 3 clinical).

CMS publishes the tables quarterly (``rcmflow.formats.ncci_files`` reads them). ``default_ncci_tables`` gives a
small illustrative subset shipped in ``rcmflow/config/ncci/`` so that rules can run before those files are
loaded; it is no substitute for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import NamedTuple

DEFAULT_NCCI_PACKAGE = "rcmflow.config"
DEFAULT_NCCI_DIRECTORY = "ncci"
DEFAULT_PTP_FILE = "ptp_default.csv"
DEFAULT_MUE_FILE = "mue_default.csv"

MODIFIER_NOT_ALLOWED, MODIFIER_ALLOWED, MODIFIER_NOT_APPLICABLE = "0", "1", "9"
MODIFIER_INDICATORS = frozenset({MODIFIER_NOT_ALLOWED, MODIFIER_ALLOWED, MODIFIER_NOT_APPLICABLE})
MAI_LINE, MAI_DATE_POLICY, MAI_DATE_CLINICAL = "1", "2", "3"
ADJUDICATION_INDICATORS = frozenset({MAI_LINE, MAI_DATE_POLICY, MAI_DATE_CLINICAL})

# The modifiers that bypass a PTP edit with modifier indicator 1 whatever the pair. The NCCI manual names
# others (anatomic LT/RT, E1-E4, F1-FA, T1-TA; global surgery 24, 25, 57, 58, 78, 79; 27, 91) that count only
# for particular kinds of pair, e.g. 25 on an E/M code; callers that judge those pass their own set.
NCCI_BYPASS_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})

Units = int | float | Decimal


class PtpEdit(NamedTuple):
    """One row of a CMS PTP table: column 2 is not paid with column 1 from ``effective`` until ``deleted``."""

    column1: str
    column2: str
    effective: date
    deleted: date | None  # the first day the edit no longer applies; None while it is in force
    modifier_indicator: str  # 0 not allowed, 1 allowed, 9 not applicable (pairs deleted back to their start)
    rationale: str = ""

    def in_effect(self, day: date) -> bool:
        return self.effective <= day and (self.deleted is None or day < self.deleted)


class MueEdit(NamedTuple):
    """One row of a CMS MUE table: at most ``units`` of ``code`` per line or per date of service."""

    code: str
    units: int
    adjudication_indicator: str  # 1 line, 2 date of service (policy), 3 date of service (clinical)
    rationale: str = ""

    @property
    def per_date_of_service(self) -> bool:
        return self.adjudication_indicator != MAI_LINE


class PtpConflict(NamedTuple):
    """Two lines of a claim that a PTP edit in force on the date of service pairs."""

    column1_line: int
    column2_line: int
    column1: str
    column2: str
    modifier_indicator: str
    bypassed: bool  # an allowed modifier is present on either line of an indicator-1 edit
    rationale: str
    bypass_modifier: str = ""  # the modifier that bypassed the edit


class CodedLine(NamedTuple):
    """A line of a claim as the PTP check sees it (any ``(line_number, code, modifiers)`` tuple will do)."""

    line_number: int
    code: str
    modifiers: tuple[str, ...] = ()


def _code(text: str) -> str:
    return text.strip().upper()


@dataclass(frozen=True, slots=True)
class NcciTables:
    """PTP edits by (column 1, column 2) pair and MUEs by code."""

    ptp: Mapping[tuple[str, str], tuple[PtpEdit, ...]]
    mue: Mapping[str, MueEdit]

    @classmethod
    def from_edits(cls, ptp: Iterable[PtpEdit] = (), mue: Iterable[MueEdit] = ()) -> NcciTables:
        """Index edits; a pair keeps every row (CMS lists one per period), a code repeated keeps its last MUE."""
        pairs: dict[tuple[str, str], list[PtpEdit]] = {}
        for edit in ptp:
            pairs.setdefault((edit.column1, edit.column2), []).append(edit)
        return cls(MappingProxyType({pair: tuple(edits) for pair, edits in pairs.items()}),
                   MappingProxyType({edit.code: edit for edit in mue}))

    def ptp_edit(self, column1: str, column2: str, day: date) -> PtpEdit | None:
        """The PTP edit of this pair in force on ``day`` (the latest to take effect, should rows overlap)."""
        rows = [edit for edit in self.ptp.get((_code(column1), _code(column2)), ()) if edit.in_effect(day)]
        return max(rows, key=lambda edit: edit.effective, default=None)

    def ptp_conflicts(self, lines: Iterable[tuple[int, str, Sequence[str]]], service_date: date, *,
                      bypass_modifiers: frozenset[str] = NCCI_BYPASS_MODIFIERS) -> list[PtpConflict]:
        """The PTP edits that fire between the lines of one claim on one date of service.

        Indicator 9 edits never fire. An indicator 1 edit is ``bypassed`` when either line carries one of
        ``bypass_modifiers``: the NCCI manual puts the modifier on the column 2 code, but claims often carry it
        on the column 1 line, and payers accept either. An indicator 0 edit is never bypassed.
        """
        coded = [CodedLine(number, _code(code), tuple(map(_code, modifiers))) for number, code, modifiers in lines]
        conflicts = []
        for first in coded:
            for second in coded:
                if first is second:
                    continue
                edit = self.ptp_edit(first.code, second.code, service_date)
                if edit is None or edit.modifier_indicator == MODIFIER_NOT_APPLICABLE:
                    continue
                modifier = _bypass(edit, first, second, bypass_modifiers)
                conflicts.append(PtpConflict(first.line_number, second.line_number, edit.column1, edit.column2,
                                             edit.modifier_indicator, bool(modifier), edit.rationale, modifier))
        return conflicts

    def mue_edit(self, code: str) -> MueEdit | None:
        return self.mue.get(_code(code))

    def mue_excess(self, code: str, units_on_line: Units, units_on_date: Units) -> MueEdit | None:
        """The MUE a code's units exceed, else None.

        A line edit (indicator 1) counts the units of this line; a date of service edit (2, 3) counts the units
        of the code summed over every line of the date of service, which the caller passes as ``units_on_date``.
        """
        edit = self.mue_edit(code)
        if edit is None:
            return None
        units = units_on_date if edit.per_date_of_service else units_on_line
        return edit if units > edit.units else None


def _bypass(edit: PtpEdit, first: CodedLine, second: CodedLine, allowed: frozenset[str]) -> str:
    if edit.modifier_indicator != MODIFIER_ALLOWED:
        return ""
    # The column 2 line first: that is where the manual puts the modifier.
    return next((m for m in (*second.modifiers, *first.modifiers) if m in allowed), "")


@cache
def default_ncci_tables() -> NcciTables:
    """The small illustrative tables shipped in ``rcmflow/config/ncci/`` (not the CMS release)."""
    # Imported here: the file layouts belong to rcmflow.formats, which builds on this module.
    from rcmflow.formats.ncci_files import parse_mue_text, parse_ptp_text

    directory = files(DEFAULT_NCCI_PACKAGE).joinpath(DEFAULT_NCCI_DIRECTORY)
    ptp = directory.joinpath(DEFAULT_PTP_FILE).read_text(encoding="utf-8")
    mue = directory.joinpath(DEFAULT_MUE_FILE).read_text(encoding="utf-8")
    return NcciTables.from_edits(parse_ptp_text(ptp, source=f"(default) {DEFAULT_PTP_FILE}"),
                                 parse_mue_text(mue, source=f"(default) {DEFAULT_MUE_FILE}"))

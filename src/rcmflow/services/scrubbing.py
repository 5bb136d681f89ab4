"""The claim scrubber as a service: the rule packs, tables and payer policies in force, and scrubbing a
batch of source claims against them and against what is already stored (earlier claims, eligibility).

The scrubber is built once per process from the settings (built-in packs, then the site's packs; the
shipped NCCI subset or the CMS quarterly files; the payer policies; a licensed CPT file when there is
one) and validated then, so a bad pack or file stops a command before any claim is judged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from rcmflow.adapters.crypto import blind_index
from rcmflow.adapters.store.schema import DEFAULT_ORGANISATION, claim_lines, claims
from rcmflow.adapters.store.sql import in_chunks
from rcmflow.domain.charges import ChargeFile, SourceClaim
from rcmflow.domain.coding import CptDescriptors
from rcmflow.domain.ncci import NcciTables, default_ncci_tables
from rcmflow.domain.payer_policy import PayerPolicies, load_payer_policies
from rcmflow.domain.rule_packs import RuleSet, builtin_pack_texts, compile_rule_set, pack_texts_from
from rcmflow.domain.scrub_facts import (
    DuplicateFact,
    EligibilityFact,
    claim_facts,
    find_duplicates,
    sample_facts,
    service_period,
)
from rcmflow.domain.scrub_functions import scrub_functions
from rcmflow.domain.scrubber import Finding, ScrubResult, evaluate_rules
from rcmflow.services.claims import claim_digest, claim_payer_key
from rcmflow.settings import Settings, get_settings

SOURCE_UNREADABLE = "source-unreadable"


@dataclass(frozen=True)
class Scrubber:
    """Everything a scrub needs, loaded and validated."""

    rules: RuleSet
    functions: Mapping[str, Callable[..., Any]]
    ncci: NcciTables
    policies: PayerPolicies

    @property
    def version_label(self) -> str:
        """The packs and policy versions in force, in full (a scrub event's attributes)."""
        return f"{self.rules.version_label},payer-policies@{self.policies.version}"

    @property
    def version_key(self) -> str:
        """A short stable name of the rule set in force, for the event log's rule version column:
        ``rule-packs@<digest of version_label>``; the full list is in the event's attributes."""
        return f"rule-packs@{hashlib.sha256(self.version_label.encode()).hexdigest()[:12]}"

    def scrub(self, sources: Sequence[SourceClaim], *, today: date,
              eligibility: Mapping[str, EligibilityFact] | None = None,
              duplicates: Mapping[str, DuplicateFact] | None = None) -> list[ScrubResult]:
        """Scrub claims in order. Eligibility on file (a stored 271, by source id) wins over what the source
        says about coverage; duplicates are those among ``sources`` plus the ``duplicates`` given."""
        found = dict(find_duplicates(sources))
        found.update(duplicates or {})
        results = []
        for source in sources:
            claim = source.claim
            policy = self.policies.for_payer(claim.payer.id, claim.subscriber.filing_indicator)
            eligible = (eligibility or {}).get(source.source_id) or eligibility_from_source(source)
            facts = claim_facts(source, today=today, policy=policy, ncci=self.ncci, eligibility=eligible,
                                duplicate=found.get(source.source_id, DuplicateFact()))
            results.append(evaluate_rules(facts, self.rules, self.functions))
        return results


def eligibility_from_source(source: SourceClaim) -> EligibilityFact:
    """Eligibility as the source system knows it (a FHIR Coverage, coverage columns): on file when the
    source sent coverage; active on the first date of service when its status and period say so."""
    coverage = source.coverage
    if coverage is None:
        return EligibilityFact()
    start, _ = service_period(source.claim)
    says_something = coverage.active is not None or coverage.start is not None or coverage.end is not None
    active = coverage.covers(start) if says_something and start is not None else None
    return EligibilityFact(True, active, "coverage", coverage.start, coverage.end)


def unreadable_results(charge_file: ChargeFile) -> list[ScrubResult]:
    """A result with an error finding for every claim the reader had to leave out, so none vanishes."""
    by_claim: dict[str, list[Finding]] = {}
    for issue in charge_file.issues:
        if issue.source_id:
            by_claim.setdefault(issue.source_id, []).append(Finding(
                SOURCE_UNREADABLE, "1", "intake", "error", "registration",
                f"{issue.location}, {issue.field}: {issue.message}", None,
                {"location": issue.location, "field": issue.field}))
    return [ScrubResult(source_id, tuple(findings)) for source_id, findings in by_claim.items()]


def build_scrubber(*, pack_paths: Iterable[Path] = (), payer_policies: Path | None = None,
                   ptp_files: Sequence[Path] = (), mue_files: Sequence[Path] = (),
                   cpt_file: Path | None = None) -> Scrubber:
    """Load and validate packs, tables and policies; ``ConfigurationError``/``InputError`` name what is wrong."""
    if ptp_files or mue_files:
        from rcmflow.formats.ncci_files import load_ncci_tables

        ncci = load_ncci_tables(list(ptp_files), list(mue_files))
    else:
        ncci = default_ncci_tables()
    cpt: CptDescriptors | None = None
    if cpt_file is not None:
        from rcmflow.formats.cpt_file import load_cpt_descriptors

        cpt = load_cpt_descriptors(cpt_file)
    policies = load_payer_policies(payer_policies)
    functions = scrub_functions(cpt)
    sample = sample_facts(ncci, policies.for_payer("60054", "CI"))
    rules = compile_rule_set([*builtin_pack_texts(), *pack_texts_from(pack_paths)], functions, sample)
    return Scrubber(rules, functions, ncci, policies)


@cache
def _scrubber_of(packs: tuple[Path, ...], policies: Path | None, ptp: tuple[Path, ...], mue: tuple[Path, ...],
                 cpt: Path | None) -> Scrubber:
    return build_scrubber(pack_paths=packs, payer_policies=policies, ptp_files=ptp, mue_files=mue, cpt_file=cpt)


def configured_scrubber(settings: Settings | None = None) -> Scrubber:
    """The scrubber of this process's settings, built once per distinct configuration."""
    s = settings or get_settings()
    return _scrubber_of(s.rule_packs, s.payer_policies, s.ncci_ptp_files, s.ncci_mue_files, s.cpt_file)


def _stored_line_key(code: str | None, revenue: str | None, modifiers: str | None, units: Decimal | None,
                     charge: Decimal, day: date | None) -> tuple[Any, ...]:
    return (code or revenue or "", tuple(modifiers.split(":")) if modifiers else (),
            str((units if units is not None else Decimal(1)).normalize()), str(Decimal(charge).normalize()),
            day.isoformat() if day else "")


def stored_duplicates(conn: Connection, sources: Sequence[SourceClaim],
                      organisation_id: str = DEFAULT_ORGANISATION) -> dict[str, DuplicateFact]:
    """Claims of ``sources`` that repeat a claim already stored (not voided): same member, billing provider,
    payer and dates, and the same lines (exact) or the same procedure codes (near). The same claim stored
    before (same content) is not a duplicate of itself: re-sending a claim is idempotent; nor is an earlier
    version with the same source id, which the new one supersedes."""
    wanted = {}
    for source in sources:
        claim = source.claim
        if (claim.frequency or "1") in {"7", "8"} or not claim.subscriber.party.id:
            continue
        start, end = service_period(claim)
        lines = tuple(sorted(_stored_line_key(
            line.procedure.code if line.procedure else None, line.revenue_code,
            ":".join(line.procedure.modifiers) if line.procedure else None, line.units, line.charge,
            line.service_date) for line in claim.service_lines))
        base = (claim.subscriber.party.id, claim.billing_provider.id or None, claim_payer_key(claim), start, end)
        wanted[source.source_id] = (base, lines, claim_digest(claim))
    if not wanted:
        return {}
    # Found by the member's blind index (the id itself is encrypted); the decrypted id is compared below.
    members = sorted({index for base, _, _ in wanted.values() if (index := blind_index(base[0])) is not None})
    candidates: dict[int, tuple[Any, ...]] = {}
    source_of: dict[int, str | None] = {}
    for condition in in_chunks(conn, claims.c.member_id_index, members):
        for row in conn.execute(select(
                claims.c.id, claims.c.member_id, claims.c.facility_id, claims.c.payer_id, claims.c.service_from,
                claims.c.service_to, claims.c.content_digest, claims.c.source_id).where(
                claims.c.organisation_id == organisation_id, claims.c.state != "voided",
                claims.c.frequency != "8", condition)):
            candidates[row.id] = ((row.member_id, row.facility_id, row.payer_id, row.service_from, row.service_to),
                                  row.content_digest)
            source_of[row.id] = row.source_id
    if not candidates:
        return {}
    lines_of: dict[int, list[tuple[Any, ...]]] = {claim_id: [] for claim_id in candidates}
    for condition in in_chunks(conn, claim_lines.c.claim_id, sorted(candidates)):
        for row in conn.execute(select(
                claim_lines.c.claim_id, claim_lines.c.procedure_code, claim_lines.c.revenue_code,
                claim_lines.c.modifiers, claim_lines.c.units, claim_lines.c.charge,
                claim_lines.c.service_date).where(condition)):
            lines_of[row.claim_id].append(_stored_line_key(row.procedure_code, row.revenue_code, row.modifiers,
                                                           row.units, row.charge, row.service_date))
    by_base: dict[tuple[Any, ...], list[tuple[int, tuple[Any, ...], str]]] = {}
    for claim_id, (base, digest) in candidates.items():
        by_base.setdefault(base, []).append((claim_id, tuple(sorted(lines_of[claim_id])), digest))
    result = {}
    for source_id, (base, lines, digest) in wanted.items():
        exact = near = ""
        codes = {line[0] for line in lines}
        for claim_id, stored_lines, stored_digest in by_base.get(base, ()):
            if stored_digest == digest or source_of[claim_id] == source_id:
                continue
            if stored_lines == lines and not exact:
                exact = f"claim {claim_id}"
            elif {line[0] for line in stored_lines} == codes and not near:
                near = f"claim {claim_id}"
        if exact or near:
            result[source_id] = DuplicateFact(exact, "" if exact else near)
    return result

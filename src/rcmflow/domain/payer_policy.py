"""Payer billing policies the scrubber checks claims against: timely filing limits and the procedures that
need prior authorisation, per payer, with defaults per claim filing indicator (SBR09) and overall.

A versioned YAML file (shipped default ``rcmflow/config/payer_policies.yaml``, or the file named by
``RCMFLOW_PAYER_POLICIES``)::

    version: "2026.1"
    default: {timely_filing_days: 365, warn_days_before: 30}
    by_filing_indicator:
      CI: {timely_filing_days: 180}
    payers:
      - payer_id: "60054"
        name: ACME HEALTH PLAN
        timely_filing_days: 90
        prior_authorization: ["70551", "72141-72158", "27447"]

A payer entry wins over its filing indicator's entry, which wins over ``default``; a field an entry leaves
out comes from the next level. ``prior_authorization`` lists codes and inclusive ranges of codes of the same
length (compared as text, as CPT and HCPCS ranges are written).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from rcmflow.domain.strict_yaml import load_strict, quoted
from rcmflow.errors import ConfigurationError

DEFAULT_PACKAGE = "rcmflow.config"
DEFAULT_FILE = "payer_policies.yaml"

_MODEL = ConfigDict(frozen=True, extra="forbid")
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{4,7}(-[A-Z0-9]{4,7})?$")]


def _text(value: Any) -> Any:
    return quoted(value, "codes and ids")


Text = Annotated[str, BeforeValidator(_text), StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class PolicyTerms(BaseModel):
    """The terms of one level; None means "as the level below says"."""

    model_config = _MODEL

    timely_filing_days: int | None = Field(default=None, gt=0, le=3650, strict=True)
    warn_days_before: int | None = Field(default=None, ge=0, le=365, strict=True)
    prior_authorization: tuple[Annotated[Code, BeforeValidator(_text)], ...] | None = None

    @field_validator("prior_authorization")
    @classmethod
    def _ranges_in_order(cls, codes: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for code in codes or ():
            low, _, high = code.partition("-")
            if high and (len(low) != len(high) or low > high):
                raise ValueError(f"range {code!r} must join two codes of the same length, low to high")
        return codes


class PayerTerms(PolicyTerms):
    payer_id: Text
    name: str | None = None


class PayerPolicyFile(BaseModel):
    model_config = _MODEL

    version: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]
    default: PolicyTerms
    by_filing_indicator: dict[str, PolicyTerms] = Field(default_factory=dict)
    payers: tuple[PayerTerms, ...] = ()


@dataclass(frozen=True)
class PayerPolicy:
    """The terms that apply to one payer's claims."""

    timely_filing_days: int
    warn_days_before: int
    prior_authorization: tuple[str, ...]

    def needs_authorization(self, code: str) -> bool:
        """True when ``code`` is listed, or falls in a listed range of codes of its length."""
        for entry in self.prior_authorization:
            low, _, high = entry.partition("-")
            if code == low or (high and len(code) == len(low) and low <= code <= high):
                return True
        return False


@dataclass(frozen=True)
class PayerPolicies:
    """Every payer's policy, resolved on demand."""

    version: str
    spec: PayerPolicyFile

    def for_payer(self, payer_id: str, filing_indicator: str = "") -> PayerPolicy:
        """The payer's terms, each field from the most specific level that sets it."""
        levels: list[PolicyTerms] = [term for term in self.spec.payers if term.payer_id == payer_id][:1]
        if filing_indicator in self.spec.by_filing_indicator:
            levels.append(self.spec.by_filing_indicator[filing_indicator])
        levels.append(self.spec.default)

        def first(name: str, fallback: Any) -> Any:
            return next((getattr(level, name) for level in levels if getattr(level, name) is not None), fallback)

        return PayerPolicy(first("timely_filing_days", 365), first("warn_days_before", 30),
                           first("prior_authorization", ()))


def parse_payer_policies(text: str, *, source: str) -> PayerPolicies:
    """Parse and validate a payer policy file; ``ConfigurationError`` names the entry and field at fault."""
    try:
        raw = load_strict(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(detail=f"payer policies {source} are not valid YAML: {exc}") from exc
    try:
        spec = PayerPolicyFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
                             for error in exc.errors(include_url=False))
        raise ConfigurationError(detail=f"payer policies {source}: {problems}") from exc
    ids = [term.payer_id for term in spec.payers]
    duplicates = sorted({payer for payer in ids if ids.count(payer) > 1})
    if duplicates:
        raise ConfigurationError(detail=f"payer policies {source}: payer {duplicates[0]!r} is listed twice")
    return PayerPolicies(spec.version, spec)


def load_payer_policies(path: str | Path | None = None) -> PayerPolicies:
    """The policies at ``path``, or the shipped default."""
    if path is None:
        text = files(DEFAULT_PACKAGE).joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
        return parse_payer_policies(text, source=f"(default) {DEFAULT_FILE}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(detail=f"payer policies {path} cannot be read ({exc})") from exc
    return parse_payer_policies(text, source=str(path))

"""Trading partners: where claims for each payer go (a clearinghouse or the payer itself), under which
interchange ids, and in batches of what size.

A versioned YAML file (shipped default ``rcmflow/config/trading_partners.yaml``, or the file named by
``RCMFLOW_TRADING_PARTNERS``)::

    version: "2026.1"
    submitter: {id: VALLEYHEALTH, name: VALLEY HEALTH BILLING, contact: BILLING OFFICE, phone: "8605550100"}
    partners:
      - id: clearinghouse
        name: Regional clearinghouse
        receiver: {id: CLEARINGHOUSE01, qualifier: ZZ}   # ISA08/ISA07 and 1000B
        sender: {id: VALLEYHEALTH, qualifier: ZZ}        # ISA06/ISA05; default: the submitter id
        drop_folder: outbound/clearinghouse              # relative to RCMFLOW_DATA_DIR, or absolute
        payers: ["*"]                                    # payer ids routed here; "*" takes every other payer
        max_claims_per_batch: 5000
        usage: P                                         # ISA15: P production, T test

Each claim goes to the partner that lists its payer id, else to the partner listing ``"*"``; a payer listed
by two partners is refused at load, as is a file with no partner for some payer.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from rcmflow.domain.strict_yaml import load_strict, quoted
from rcmflow.errors import ConfigurationError

DEFAULT_PACKAGE = "rcmflow.config"
DEFAULT_FILE = "trading_partners.yaml"
ANY_PAYER = "*"

_MODEL = ConfigDict(frozen=True, extra="forbid")


def _text(value: Any) -> Any:
    return quoted(value, "ids and numbers")


# X12 identifiers: no delimiter characters, within ISA06/ISA08's 15 characters.
InterchangeId = Annotated[str, BeforeValidator(_text), StringConstraints(pattern=r"^[A-Z0-9 ._-]{1,15}$")]
Name = Annotated[str, BeforeValidator(_text), StringConstraints(pattern=r"^[A-Za-z0-9 .,&'/()-]{1,60}$")]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")]


class InterchangeAddress(BaseModel):
    model_config = _MODEL

    id: InterchangeId
    qualifier: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")] = "ZZ"


class Submitter(BaseModel):
    """Loop 1000A: who submits the claims, and the contact a payer calls about a file."""

    model_config = _MODEL

    id: InterchangeId
    name: Name
    contact: Name
    phone: Annotated[str, BeforeValidator(_text), StringConstraints(pattern=r"^[0-9]{10}$")]


class Partner(BaseModel):
    """One clearinghouse or payer connection."""

    model_config = _MODEL

    id: Identifier
    name: Name
    receiver: InterchangeAddress
    sender: InterchangeAddress | None = None
    drop_folder: Path
    payers: tuple[Annotated[str, BeforeValidator(_text), StringConstraints(min_length=1, max_length=64)], ...] = (
        Field(min_length=1))
    max_claims_per_batch: int = Field(default=5000, ge=1, le=5000, strict=True)  # the 837 guides' limit
    usage: Literal["P", "T"] = "P"

    @property
    def destination(self) -> str:
        """The outbox destination its submissions are delivered through."""
        return f"submission:{self.id}"


class PartnerFile(BaseModel):
    model_config = _MODEL

    version: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]
    submitter: Submitter
    partners: tuple[Partner, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_partner_per_payer(self) -> PartnerFile:
        seen: dict[str, str] = {}
        for partner in self.partners:
            for payer in partner.payers:
                if payer in seen:
                    raise ValueError(f"payer {payer!r} is routed to both {seen[payer]!r} and {partner.id!r}")
                seen[payer] = partner.id
        ids = [partner.id for partner in self.partners]
        if len(set(ids)) != len(ids):
            raise ValueError("partner ids must be unique")
        return self


@dataclass(frozen=True)
class TradingPartners:
    """Every partner, and the route of each payer."""

    version: str
    submitter: Submitter
    partners: tuple[Partner, ...]

    def for_payer(self, payer_id: str) -> Partner | None:
        """The partner claims for this payer go to, or None when no partner takes them."""
        fallback = None
        for partner in self.partners:
            if payer_id in partner.payers:
                return partner
            if ANY_PAYER in partner.payers:
                fallback = partner
        return fallback

    def sender_of(self, partner: Partner) -> InterchangeAddress:
        return partner.sender or InterchangeAddress(id=self.submitter.id)

    def folder_of(self, partner: Partner, data_dir: Path) -> Path:
        return partner.drop_folder if partner.drop_folder.is_absolute() else data_dir / partner.drop_folder


def parse_trading_partners(text: str, *, source: str) -> TradingPartners:
    """Parse and validate a trading partner file; ``ConfigurationError`` names the field at fault."""
    try:
        raw = load_strict(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(detail=f"trading partners {source} are not valid YAML: {exc}") from exc
    try:
        spec = PartnerFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'file'}: "
                             f"{error['msg'].removeprefix('Value error, ')}" for error in exc.errors(include_url=False))
        raise ConfigurationError(detail=f"trading partners {source}: {problems}") from exc
    return TradingPartners(spec.version, spec.submitter, spec.partners)


def load_trading_partners(path: str | Path | None = None) -> TradingPartners:
    """The partners at ``path``, or the shipped default."""
    if path is None:
        text = files(DEFAULT_PACKAGE).joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
        return parse_trading_partners(text, source=f"(default) {DEFAULT_FILE}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(detail=f"trading partners {path} cannot be read ({exc})") from exc
    return parse_trading_partners(text, source=str(path))

"""Payer contracts as validated data, and the contract variance of one adjudicated claim.

A contract says what a payer should allow for a claim: a percent of the charges, a fee per procedure
code (and modifier) and unit, or one rate per visit. The contracts live in a versioned YAML file (the
default ships as ``rcmflow/config/payer_contracts.yaml``; ``RCMFLOW_PAYER_CONTRACTS`` names a replacement)::

    version: "2026.1"
    default_tolerance: {amount: "1.00", percent: "2"}
    contracts:
      - {payer_id: "60054", method: percent_of_charge, rate: "72", effective_from: 2026-01-01}
      - payer_id: "00590"
        method: fee_schedule
        fee_schedule: {"99213": "92.50", "93000:26": "9.80"}
        fallback_percent: "60"
      - {payer_id: "87726", claim_types: [I], method: per_visit, per_visit: "180.00",
         per_visit_by_revenue_code: {"0450": "640.00"}}

A paid claim whose allowed amount (charge minus CO adjustments) differs from the expected allowed
amount by more than the tolerance has a ``Variance``; the posting service turns an underpayment into a
work item. Where the contract cannot price a claim it gives no expectation (``None``) instead of a
guess. A bad file raises ``PayerContractsError`` naming the file, the contract and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rcmflow.domain.money import ZERO, round_cents, total
from rcmflow.domain.strict_yaml import load_strict
from rcmflow.errors import ConfigurationError

DEFAULT_CONTRACTS_PACKAGE = "rcmflow.config"
DEFAULT_CONTRACTS_FILE = "payer_contracts.yaml"

Method = Literal["percent_of_charge", "fee_schedule", "per_visit"]
ClaimType = Literal["P", "I"]

ONE = Decimal(1)
HUNDRED = Decimal(100)
_AMOUNT = re.compile(r"\d{1,16}(\.\d{1,2})?")
_PERCENT = re.compile(r"\d{1,3}(\.\d{1,4})?")
_CODE = re.compile(r"[A-Z0-9]{1,48}")
_FEE_KEY = re.compile(r"[A-Z0-9]{1,48}(:[A-Z0-9]{2})?")  # CODE or CODE:MOD
_MODEL = ConfigDict(frozen=True, extra="forbid")

# The fields that belong to each method; a field of another method is refused rather than ignored,
# because a stray ``rate`` under a fee-schedule contract means its author expected it to count.
_METHOD_FIELDS: dict[str, frozenset[str]] = {
    "percent_of_charge": frozenset({"rate"}),
    "fee_schedule": frozenset({"fee_schedule", "fallback_percent"}),
    "per_visit": frozenset({"per_visit", "per_visit_by_revenue_code"}),
}
_REQUIRED_FIELD: dict[str, str] = {"percent_of_charge": "rate", "fee_schedule": "fee_schedule",
                                   "per_visit": "per_visit"}


class PayerContractsError(ConfigurationError):
    """The payer contracts file is missing, not YAML, or does not validate."""

    code = "payer_contracts"


def _exact(value: Any, pattern: re.Pattern[str], example: str) -> Decimal:
    if isinstance(value, bool | float):
        raise ValueError(f"write amounts as quoted strings such as \"{example}\": the YAML number {value!r} "
                         "would be read as a binary float, not an exact amount")
    text = str(value).strip() if isinstance(value, str | int | Decimal) else None
    if text is None:
        raise ValueError(f"{value!r} is not an amount: write it as a quoted string such as \"{example}\"")
    if text.startswith("-"):
        raise ValueError(f"{text!r} must not be negative")
    if not pattern.fullmatch(text):
        # Decimal() would accept "1e2", "NaN" or "1_000": an amount here is plain digits and a point.
        raise ValueError(f"{text!r} is not a plain decimal: use digits and at most one point, no exponent, "
                         f"sign or separator, e.g. \"{example}\"")
    return Decimal(text)


def _amount(value: Any) -> Decimal:
    return _exact(value, _AMOUNT, "92.50")


def _percent(value: Any) -> Decimal:
    percent = _exact(value, _PERCENT, "72")
    if percent > HUNDRED:
        raise ValueError(f"{percent} is more than 100 percent")
    return percent


def _code_text(value: Any, what: str, example: str) -> str:
    # An unquoted code such as 0450 or 00100 reaches us as a number without its leading zeros.
    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} must be a quoted string (\"{example}\"): unquoted, YAML reads it "
                         "as a number")
    return value.strip().upper()


def _fee_schedule(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    fees: dict[str, Any] = {}
    for key, fee in value.items():
        text = _code_text(key, "fee schedule key", "99213")
        if not _FEE_KEY.fullmatch(text):
            raise ValueError(f"fee schedule key {key!r} must be a procedure code or CODE:MODIFIER (\"93000:26\")")
        fees[text] = fee
    return fees


def _revenue_rates(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    rates: dict[str, Any] = {}
    for key, rate in value.items():
        text = _code_text(key, "revenue code", "0450")
        if not _CODE.fullmatch(text):
            raise ValueError(f"revenue code {key!r} must be letters and digits (\"0450\")")
        rates[text] = rate
    return rates


Amount = Annotated[Decimal, BeforeValidator(_amount)]
Percent = Annotated[Decimal, BeforeValidator(_percent)]


class ExpectedLine(NamedTuple):
    """One billed or paid service line, as a contract sees it."""

    procedure_code: str | None
    modifiers: tuple[str, ...]
    revenue_code: str | None
    charge: Decimal
    units: Decimal | None


class Tolerance(BaseModel):
    """How far the allowed amount may stray from the expected before it is a variance."""

    model_config = _MODEL

    amount: Amount
    percent: Percent

    def bound(self, expected: Decimal) -> Decimal:
        """The largest difference allowed on ``expected``: the larger of the amount and percent of expected."""
        return max(self.amount, round_cents(abs(expected) * self.percent / HUNDRED))

    def allows(self, expected: Decimal, actual: Decimal) -> bool:
        """True when ``actual`` is within tolerance of ``expected`` (exactly at the bound is within)."""
        return abs(expected - actual) <= self.bound(expected)


class Contract(BaseModel):
    """One payer's contract for some claim types over an effective period, and how it prices a claim."""

    model_config = _MODEL

    payer_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: str | None = None
    claim_types: tuple[ClaimType, ...] = ("P", "I")
    effective_from: date | None = None
    effective_to: date | None = None  # inclusive
    method: Method
    # validate_default: so a missing field of the contract's method is reported under its own name.
    rate: Percent | None = Field(default=None, validate_default=True)
    fee_schedule: Annotated[dict[str, Amount] | None, BeforeValidator(_fee_schedule)] = Field(
        default=None, validate_default=True)
    fallback_percent: Percent | None = Field(default=None, validate_default=True)
    per_visit: Amount | None = Field(default=None, validate_default=True)
    per_visit_by_revenue_code: Annotated[dict[str, Amount] | None, BeforeValidator(_revenue_rates)] = Field(
        default=None, validate_default=True)
    tolerance: Tolerance | None = None

    @field_validator("payer_id", mode="before")
    @classmethod
    def _payer_id_text(cls, value: Any) -> Any:
        # Unquoted, 60054 is a number and 00590 may lose its zeros: refuse rather than guess.
        if not isinstance(value, str):
            raise ValueError(f"payer id {value!r} must be a quoted string (\"60054\"), as in the remittances")
        return value.strip()

    @field_validator("claim_types")
    @classmethod
    def _some_claim_types(cls, value: tuple[ClaimType, ...]) -> tuple[ClaimType, ...]:
        if not value:
            raise ValueError("give at least one claim type (P, I), or leave claim_types out for both")
        return tuple(dict.fromkeys(value))

    @field_validator("effective_to")
    @classmethod
    def _ends_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("effective_from")
        if value is not None and start is not None and value < start:
            raise ValueError(f"{value} is before effective_from {start}")
        return value

    @field_validator("rate", "fee_schedule", "fallback_percent", "per_visit", "per_visit_by_revenue_code")
    @classmethod
    def _fits_method(cls, value: Any, info: ValidationInfo) -> Any:
        method = info.data.get("method")
        if method is None:  # the method itself was refused; that error is enough
            return value
        field = info.field_name or ""
        if value is None and _REQUIRED_FIELD[method] == field:
            raise ValueError(f"required for method {method}")
        if value is not None and field not in _METHOD_FIELDS[method]:
            owner = next(name for name, fields in _METHOD_FIELDS.items() if field in fields)
            raise ValueError(f"applies only to method {owner}, not {method}")
        if field == "fee_schedule" and value is not None and not value:
            raise ValueError("give at least one fee")
        return value

    def covers(self, claim_type: str, service_date: date) -> bool:
        """True when this contract's claim types and effective period include the claim."""
        return (claim_type in self.claim_types
                and (self.effective_from is None or self.effective_from <= service_date)
                and (self.effective_to is None or service_date <= self.effective_to))

    def expected_allowed(self, lines: Sequence[ExpectedLine]) -> Decimal | None:
        """The allowed amount this contract expects for a claim's lines; None when it cannot price them."""
        if self.method == "per_visit":
            return self._per_visit(lines)
        if not lines:  # nothing to price: no expectation rather than an expected zero
            return None
        amounts = []
        for line in lines:
            amount = self._line_amount(line)
            if amount is None:  # one unpriced line leaves the claim's total unknown
                return None
            amounts.append(amount)
        return total(amounts)

    def _line_amount(self, line: ExpectedLine) -> Decimal | None:
        if self.method == "percent_of_charge":
            return _percent_of(line.charge, self.rate)
        fee = self.fee(line.procedure_code, line.modifiers)
        if fee is not None:
            return round_cents(fee * (ONE if line.units is None else line.units))
        if self.fallback_percent is not None:
            return _percent_of(line.charge, self.fallback_percent)
        return None

    def fee(self, procedure_code: str | None, modifiers: Sequence[str] = ()) -> Decimal | None:
        """The fee per unit for a code: ``CODE:MOD`` of the first modifier that has one, else ``CODE``."""
        if not self.fee_schedule or not procedure_code:
            return None
        code = procedure_code.strip().upper()
        for modifier in modifiers:
            fee = self.fee_schedule.get(f"{code}:{modifier.strip().upper()}")
            if fee is not None:
                return fee
        return self.fee_schedule.get(code)

    def _per_visit(self, lines: Sequence[ExpectedLine]) -> Decimal | None:
        if self.per_visit_by_revenue_code:
            for line in lines:
                rate = self.per_visit_by_revenue_code.get((line.revenue_code or "").strip().upper())
                if rate is not None:
                    return rate
        return self.per_visit


def _percent_of(charge: Decimal, percent: Decimal | None) -> Decimal:
    return round_cents(charge * (percent or ZERO) / HUNDRED)


class PayerContracts(BaseModel):
    """Every payer contract, under one version and a default tolerance."""

    model_config = _MODEL

    version: Annotated[str, Field(min_length=1, max_length=64)]
    default_tolerance: Tolerance
    contracts: tuple[Contract, ...] = ()

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, float):  # 2026.10 would silently become "2026.1"
            raise ValueError(f"quote the version (\"2026.10\"): as an unquoted YAML number it reads as {value}")
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _unambiguous(self) -> PayerContracts:
        # Per payer and claim type, contracts take over from one another in effective_from order; two
        # starting together, or one whose stated end runs into the next one's start, leave a claim's
        # contract a matter of guessing.
        timelines: dict[tuple[str, str], list[Contract]] = {}
        for contract in self.contracts:
            for claim_type in contract.claim_types:
                timelines.setdefault((contract.payer_id, claim_type), []).append(contract)
        for (payer_id, claim_type), contracts in timelines.items():
            ordered = sorted(contracts, key=_start)
            for earlier, later in zip(ordered, ordered[1:], strict=False):
                if _start(earlier) == _start(later):
                    starts = f"from {later.effective_from}" if later.effective_from else "without effective_from"
                    raise ValueError(f"payer {payer_id!r} has two contracts for claim type {claim_type} "
                                     f"effective {starts}: give them different effective dates")
                if earlier.effective_to is not None and later.effective_from is not None \
                        and earlier.effective_to >= later.effective_from:
                    raise ValueError(f"payer {payer_id!r} has overlapping contracts for claim type {claim_type}: "
                                     f"one runs to {earlier.effective_to}, the next starts {later.effective_from}")
        return self

    def contract_for(self, payer_id: str, claim_type: str, service_date: date | None) -> Contract | None:
        """The contract in force for a claim: latest effective_from on or before the service date.

        A contract is superseded from the day the next one of its payer and claim type starts. Without a
        service date only a payer's sole contract for the claim type applies.
        """
        candidates = [c for c in self.contracts if c.payer_id == payer_id and claim_type in c.claim_types]
        if service_date is None:
            return candidates[0] if len(candidates) == 1 else None
        started = [c for c in candidates if c.effective_from is None or c.effective_from <= service_date]
        if not started:
            return None
        latest = max(started, key=_start)
        return latest if latest.covers(claim_type, service_date) else None

    def tolerance_for(self, contract: Contract) -> Tolerance:
        """The contract's own tolerance, else the default."""
        return contract.tolerance or self.default_tolerance

    def rule_version(self) -> str:
        """How the event log names the contracts that decided: ``payer-contracts@<version>``."""
        return f"payer-contracts@{self.version}"


def _start(contract: Contract) -> date:
    return contract.effective_from or date.min


class Variance(NamedTuple):
    """A claim allowed differently from its contract, beyond tolerance."""

    expected_allowed: Decimal
    actual_allowed: Decimal
    difference: Decimal  # expected - actual; positive = underpaid

    def is_underpayment(self) -> bool:
        """True when the payer allowed less than the contract expects."""
        return self.difference > 0


def contract_variance(contracts: PayerContracts, *, payer_id: str, claim_type: str, service_date: date | None,
                      lines: Sequence[ExpectedLine], actual_allowed: Decimal) -> Variance | None:
    """The variance of a claim's allowed amount from its contract; None when none applies or within tolerance."""
    contract = contracts.contract_for(payer_id, claim_type, service_date)
    if contract is None:
        return None
    expected = contract.expected_allowed(lines)
    if expected is None or contracts.tolerance_for(contract).allows(expected, actual_allowed):
        return None
    return Variance(expected, actual_allowed, expected - actual_allowed)


class VarianceCalculator:
    """``contract_variance`` for the many claims of one posting run, with what repeats worked out once: the
    contract in force per (payer, claim type, service date), and each distinct line's price under a contract (a
    clinic bills the same codes at the same charges all day). Gives exactly what ``contract_variance`` gives."""

    def __init__(self, contracts: PayerContracts) -> None:
        self.contracts = contracts
        self._in_force: dict[tuple[str, str, date | None], Contract | None] = {}
        self._prices: dict[tuple[int, ExpectedLine], Decimal | None] = {}  # (id of a contract held above, line)

    def variance(self, *, payer_id: str, claim_type: str, service_date: date | None,
                 lines: Sequence[ExpectedLine], actual_allowed: Decimal) -> Variance | None:
        key = (payer_id, claim_type, service_date)
        if key in self._in_force:
            contract = self._in_force[key]
        else:
            contract = self._in_force[key] = self.contracts.contract_for(payer_id, claim_type, service_date)
        if contract is None:
            return None
        expected = self._expected_allowed(contract, lines)
        if expected is None or self.contracts.tolerance_for(contract).allows(expected, actual_allowed):
            return None
        return Variance(expected, actual_allowed, expected - actual_allowed)

    def _expected_allowed(self, contract: Contract, lines: Sequence[ExpectedLine]) -> Decimal | None:
        """``contract.expected_allowed(lines)``, each line priced once per contract."""
        if contract.method == "per_visit" or not lines:
            return contract.expected_allowed(lines)
        prices = self._prices
        amounts = []
        for line in lines:
            key = (id(contract), line)
            if key in prices:
                amount = prices[key]
            else:
                amount = prices[key] = contract._line_amount(line)
            if amount is None:  # one unpriced line leaves the claim's total unknown
                return None
            amounts.append(amount)
        return total(amounts)


def actual_allowed(charge: Decimal, contractual_total: Decimal) -> Decimal:
    """The amount a payer allowed: the charge less its contractual (CO) adjustments."""
    return charge - contractual_total


# ---- loading --------------------------------------------------------------------------------------

def _where(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    field = ".".join(str(part) for part in loc[2:] if part != "[key]")
    if len(loc) >= 2 and loc[0] == "contracts" and isinstance(loc[1], int):
        listed = raw.get("contracts")
        body = listed[loc[1]] if isinstance(listed, list) and loc[1] < len(listed) else None
        payer = body.get("payer_id") if isinstance(body, dict) else None
        name = f"contract {loc[1] + 1}" + (f" (payer {str(payer)!r})" if payer is not None else "")
        return f"{name}, field {field}" if field else name
    return f"field {'.'.join(str(part) for part in loc)}" if loc else "the file"


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{_where(tuple(error['loc']), raw)}: {message.removeprefix('Value error, ')}")
    return "; ".join(problems)


def parse_contracts(text: str, *, source: str = "<text>") -> PayerContracts:
    """Validate YAML text as payer contracts, or raise ``PayerContractsError`` naming the contract and field."""
    try:
        raw = load_strict(text)
    except yaml.YAMLError as exc:
        where = str(exc).replace('"<unicode string>"', source)
        raise PayerContractsError(f"payer contracts {source}: not valid YAML: {where}", source=source) from exc
    if not isinstance(raw, dict):
        raise PayerContractsError(f"payer contracts {source}: expected a mapping with version, default_tolerance "
                                  "and contracts", source=source)
    try:
        return PayerContracts.model_validate(raw)
    except ValidationError as exc:
        raise PayerContractsError(f"payer contracts {source}: {_describe(exc, raw)}", source=source) from exc


def load_contracts(path: str | Path | None = None) -> PayerContracts:
    """Load the contracts at ``path``; None: the file of ``RCMFLOW_PAYER_CONTRACTS``, else the shipped one."""
    if path is None:
        # Imported here so the pure model above does not pull in the settings machinery.
        from rcmflow.settings import get_settings

        path = get_settings().payer_contracts
    if path is None:
        text = files(DEFAULT_CONTRACTS_PACKAGE).joinpath(DEFAULT_CONTRACTS_FILE).read_text(encoding="utf-8")
        return parse_contracts(text, source=f"(default) {DEFAULT_CONTRACTS_FILE}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PayerContractsError(f"payer contracts {path}: cannot be read ({exc.strerror or exc})",
                                  source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise PayerContractsError(f"payer contracts {path}: not UTF-8 text", source=str(path)) from exc
    return parse_contracts(text, source=str(path))

"""Approval policies: versioned YAML files that map an object's facts to an approval chain.

A policy is data, loaded and validated once at start-up; an invalid file stops the process with a
``ConfigurationError`` that names the rule and the field. The shape::

    policy_id: health-system-approvals
    version: "2026.1"
    effective_from: 2026-01-01
    rules:                                  # in order: the first rule whose conditions all hold wins
      - id: ap-invoice-large
        queue: ap_approvals                 # optional: where the approval task of each level goes
        when: {object_type: supplier invoice, min_amount: "10000.00", facility: [F1, F2]}
        chain:                              # levels in order
          - {role: approver}
          - {role: controller, approvers_needed: 2, sla_hours: 48}
    default_rule:                           # optional: the chain for anything no rule matched
      id: catch-all
      chain: [{role: controller}]

Conditions (all optional, each a value or a list of values, all must hold): ``object_type``,
``facility``, ``service_line``, ``payer``, ``vendor``, ``department`` (compared with the attributes of
the same names given at submission), ``min_amount`` and ``max_amount``. Amount bounds are half-open, the
way finance writes thresholds down: ``min_amount`` means "more than" (exclusive) and ``max_amount`` "up to
and including". So ``max_amount: "10000.00"`` and ``min_amount: "10000.00"`` split amounts with nothing
in between: 10,000.00 falls in the first, 10,000.01 in the second. Amounts are exact decimals written as
quoted strings; a YAML float is refused, because ``10000.10`` would be read as a binary float.

Without a matching rule (and without ``default_rule``) no approval is needed, and the match says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from rcmflow.domain.strict_yaml import load_strict
from rcmflow.errors import ConfigurationError

DEFAULT_POLICY_PACKAGE = "rcmflow.config"
DEFAULT_POLICY_FILE = "approvals.yaml"

# The attributes a rule may test, by the name used both in the policy and in a submission's attributes.
ATTRIBUTE_CONDITIONS: tuple[str, ...] = ("facility", "service_line", "payer", "vendor", "department")

_AMOUNT = re.compile(r"\d{1,16}(\.\d{1,2})?")
_MODEL = ConfigDict(frozen=True, extra="forbid")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]


def _exact_amount(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"write amounts as quoted strings such as \"10000.00\": the YAML number {value!r} "
                         "would be read as a binary float, not an exact amount")
    text = str(value).strip()
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"{value!r} is not an amount: use digits with at most two decimals, no sign or "
                         "thousands separator, e.g. \"10000.00\"")
    return Decimal(text)


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if isinstance(values, list | tuple) and not values:
        raise ValueError("give a value or a non-empty list of values")
    for item in values if isinstance(values, list | tuple) else [values]:
        # An unquoted facility code such as 012 would arrive as the number 10: refuse rather than guess.
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{item!r} is not a name: quote codes and identifiers (\"012\")")
    return tuple(item.strip() for item in values)


Names = Annotated[tuple[str, ...] | None, BeforeValidator(_names)]
Amount = Annotated[Decimal | None, BeforeValidator(_exact_amount)]


class Level(BaseModel):
    """One level of an approval chain: how many distinct people holding ``role`` must approve."""

    model_config = _MODEL

    role: Name
    approvers_needed: int = Field(default=1, ge=1, le=10, strict=True)
    sla_hours: int | None = Field(default=None, gt=0, strict=True)
    queue: Identifier | None = None  # where this level's approval task goes; default: the rule's queue


class Conditions(BaseModel):
    """What a rule tests; every condition given must hold, an absent one always holds."""

    model_config = _MODEL

    object_type: Names = None
    facility: Names = None
    service_line: Names = None
    payer: Names = None
    vendor: Names = None
    department: Names = None
    min_amount: Amount = None
    max_amount: Amount = None

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Conditions:
        if self.min_amount is not None and self.max_amount is not None and self.min_amount >= self.max_amount:
            raise ValueError(f"min_amount {self.min_amount} (exclusive) must be below max_amount {self.max_amount} "
                             "(inclusive), or no amount could match")
        return self

    def is_empty(self) -> bool:
        """True when the conditions test nothing."""
        return all(getattr(self, name) is None for name in type(self).model_fields)

    def holds(self, object_type: str, amount: Decimal | None, attributes: Mapping[str, Any]) -> bool:
        """True when every condition holds for these facts (an amount test fails on an object without amount)."""
        if self.object_type is not None and object_type not in self.object_type:
            return False
        if self.min_amount is not None and (amount is None or amount <= self.min_amount):
            return False
        if self.max_amount is not None and (amount is None or amount > self.max_amount):
            return False
        for name in ATTRIBUTE_CONDITIONS:
            wanted = getattr(self, name)
            if wanted is not None:
                value = attributes.get(name)
                if value is None or str(value) not in wanted:
                    return False
        return True


class Rule(BaseModel):
    """A rule of a policy: its conditions and the chain of approvals they call for."""

    model_config = _MODEL

    id: Identifier
    description: str | None = None
    queue: Identifier | None = None  # the work queue of each level's task, unless the level names its own
    when: Conditions = Field(default_factory=Conditions)
    chain: tuple[Level, ...] = Field(min_length=1)

    def levels(self) -> tuple[Level, ...]:
        """The chain with the rule's queue filled in on levels that name none."""
        if self.queue is None:
            return self.chain
        return tuple(level if level.queue else level.model_copy(update={"queue": self.queue}) for level in self.chain)


class ApprovalPolicy(BaseModel):
    """A versioned approval policy: rules in order, first match wins."""

    model_config = _MODEL

    policy_id: Identifier
    version: Identifier
    effective_from: datetime
    description: str | None = None
    rules: tuple[Rule, ...] = ()
    default_rule: Rule | None = None

    @property
    def roles(self) -> frozenset[str]:
        """Every role a chain of this policy names (who may decide some level of some request)."""
        rules = (*self.rules, *((self.default_rule,) if self.default_rule else ()))
        return frozenset(level.role for rule in rules for level in rule.chain)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, float):  # 1.10 would silently become "1.1"
            raise ValueError(f"quote the version (\"2026.10\"): as an unquoted YAML number it reads as {value}, "
                             "which loses trailing zeros")
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("effective_from", mode="before")
    @classmethod
    def _midnight_utc(cls, value: Any) -> Any:
        # YAML reads 2026-01-01 as a date: the policy starts at midnight UTC that day.
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("give a date (2026-01-01) or a date-time with a time zone (2026-01-01T00:00:00Z)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ApprovalPolicy:
        seen: set[str] = set()
        for rule in (*self.rules, *([self.default_rule] if self.default_rule else [])):
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice: each rule needs its own id")
            seen.add(rule.id)
        if self.default_rule is not None and not self.default_rule.when.is_empty():
            raise ValueError(f"default_rule {self.default_rule.id!r} applies when nothing matched: "
                             "it cannot have conditions ('when')")
        return self

    @property
    def rule_version(self) -> str:
        """``policy_id@version``: what every decision made under this policy records."""
        return f"{self.policy_id}@{self.version}"

    def is_effective(self, at: datetime) -> bool:
        """True from ``effective_from`` on."""
        return at >= self.effective_from

    def match(self, object_type: str, amount: Decimal | None, attributes: Mapping[str, Any]) -> PolicyMatch:
        """The chain these facts need: the first matching rule, else the default rule, else none at all."""
        for rule in self.rules:
            if rule.when.holds(object_type, amount, attributes):
                return PolicyMatch(self.policy_id, self.version, rule.id, rule.levels(),
                                   f"rule {rule.id!r} of {self.rule_version} matched")
        if self.default_rule is not None:
            rule = self.default_rule
            return PolicyMatch(self.policy_id, self.version, rule.id, rule.levels(),
                               f"no rule of {self.rule_version} matched: default rule {rule.id!r} applies")
        return PolicyMatch(self.policy_id, self.version, None, (),
                           f"no rule of {self.rule_version} matched: no approval is needed")


@dataclass(frozen=True, slots=True)
class PolicyMatch:
    """What a policy asks for one object: a rule and its chain, or explicitly nothing."""

    policy_id: str
    version: str
    rule_id: str | None
    chain: tuple[Level, ...]
    explanation: str

    @property
    def required(self) -> bool:
        """True when the object needs approval."""
        return bool(self.chain)

    @property
    def rule_version(self) -> str:
        """``policy_id@version`` of the policy that decided."""
        return f"{self.policy_id}@{self.version}"


def chain_to_json(chain: tuple[Level, ...]) -> list[dict[str, Any]]:
    """A chain as JSON-ready dicts, to be stored with a request."""
    return [level.model_dump(mode="json") for level in chain]


def chain_from_json(data: list[dict[str, Any]]) -> tuple[Level, ...]:
    """A stored chain back as levels."""
    return tuple(Level.model_validate(item) for item in data)


def _field_path(parts: tuple[int | str, ...]) -> str:
    text = ""
    for previous, part in zip((None, *parts), parts, strict=False):
        if isinstance(part, int):  # positions count from 1, as a person reads the file
            text += f" level {part + 1}" if previous == "chain" else f" item {part + 1}"
        else:
            text += f", {part}" if isinstance(previous, int) else (f".{part}" if text else part)
    return text


def _where(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules")
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        name = f"rule {rule_id!r} (rule {loc[1] + 1})" if isinstance(rule_id, str) else f"rule {loc[1] + 1}"
        return f"{name}, field {_field_path(loc[2:]) or '(the rule itself)'}"
    if loc and loc[0] == "default_rule":
        return f"default_rule, field {_field_path(loc[1:]) or '(the rule itself)'}"
    return f"field {_field_path(loc)}" if loc else "the policy"


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{_where(tuple(error['loc']), raw)}: {message.removeprefix('Value error, ')}")
    return "; ".join(problems)


def parse_approval_policy(text: str, *, source: str = "<text>") -> ApprovalPolicy:
    """Parse and validate a policy from YAML text; ``ConfigurationError`` names the rule and field at fault."""
    try:
        raw = load_strict(text)
    except yaml.YAMLError as exc:
        where = str(exc).replace('"<unicode string>"', source)
        raise ConfigurationError(detail=f"approval policy {source} is not valid YAML: {where}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(detail=f"approval policy {source} must be a mapping with policy_id, version, "
                                        "effective_from and rules")
    try:
        return ApprovalPolicy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(detail=f"approval policy {source}: {_describe(exc, raw)}") from exc


def load_approval_policy(path: str | Path | None = None) -> ApprovalPolicy:
    """Load and validate the policy at ``path``, or the default shipped in ``rcmflow/config/approvals.yaml``."""
    if path is None:
        resource = files(DEFAULT_POLICY_PACKAGE).joinpath(DEFAULT_POLICY_FILE)
        return parse_approval_policy(resource.read_text(encoding="utf-8"), source=f"(default) {DEFAULT_POLICY_FILE}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(detail=f"approval policy {path} cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(detail=f"approval policy {path} is not UTF-8 text") from exc
    return parse_approval_policy(text, source=str(path))

"""Scrubber rule packs: versioned YAML files of claim edits whose conditions are CEL expressions.

Coding and payer edits change every quarter and differ per payer and facility, so they are data that an
operations team edits, reviews and versions, not code. A pack::

    pack: required-data
    version: "2026.4"
    description: Data every payer needs before it will accept a claim.
    rules:
      - id: subscriber-id-missing
        version: 1                      # bump when the rule's meaning changes: findings record id@version
        severity: error                 # error holds the claim; warning routes it for review
        category: registration          # coding | registration | authorization | billing: picks the work queue
        message: The subscriber's member id is missing.
        when: claim.subscriber.member_id == ""
      - id: mue-exceeded
        version: 1
        severity: error
        category: coding
        for_each: line                  # claim (default) | line | diagnosis | ptp_conflict
        scope: {payers: [MEDICARE01]}   # optional: payers, facilities, claim_types, filing_indicators
        message: "{line.code} billed {line.mue_units} units; the MUE allows {line.mue_limit}."
        when: line.mue_limit > 0 && line.mue_units > line.mue_limit
    overrides:                          # optional: change rules of any pack loaded before this one
      - {rule: timely-filing-exceeded, scope: {payers: [BCBS01]}, severity: warning}
      - {rule: taxonomy-missing, enabled: false}

``when`` is the condition under which the finding fires, in the Common Expression Language (CEL): a safe,
side-effect-free, terminating language (https://cel.dev), never Python ``eval``. It sees ``claim`` and the
item of ``for_each`` (``line``, ``dx`` or ``conflict``), and calls only the functions the scrubber registers
(``rcmflow.domain.scrub_functions``). Placeholders in ``message`` are paths into the same values.

A pack is validated when loaded: its shape, each expression's syntax, the functions and variables it
names, and a dry run of every rule and message against a complete sample claim, so a typo stops the load
with the pack, the rule and the reason, not the first claim that reaches the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import cel
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from rcmflow.domain.strict_yaml import load_strict
from rcmflow.errors import ConfigurationError

BUILTIN_PACKAGE = "rcmflow.config.rules"

Severity = Literal["error", "warning"]
Category = Literal["coding", "registration", "authorization", "billing"]
ForEach = Literal["claim", "line", "diagnosis", "ptp_conflict"]

# The variable each kind of rule sees besides ``claim``.
ITEM_VARIABLE: dict[str, str | None] = {"claim": None, "line": "line", "diagnosis": "dx", "ptp_conflict": "conflict"}
# Where the items of each kind come from in the claim's facts.
ITEM_SOURCE: dict[str, str] = {"line": "lines", "diagnosis": "diagnoses", "ptp_conflict": "ptp_conflicts"}

# CEL's standard functions and macros as ``Program.functions()`` names them; anything else must be registered.
CEL_STANDARD_FUNCTIONS = frozenset({
    "size", "has", "all", "exists", "exists_one", "map", "filter", "contains", "startsWith", "endsWith",
    "matches", "int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration", "type", "dyn",
    "max", "min", "lowerAscii", "upperAscii", "trim", "split", "join", "replace", "indexOf", "substring",
    "@in", "@not_strictly_false",
})

_MODEL = ConfigDict(frozen=True, extra="forbid")
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# A member path, without a trailing method call (``line.modifiers`` of ``line.modifiers.exists(...)``).
_MEMBER_PATH = re.compile(r"(?<![\w.])((?:claim|line|dx|conflict)(?:\.[A-Za-z_][A-Za-z0-9_]*(?![\w(]|\s+\())+)")


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not values:
        raise ValueError("give a value or a non-empty list of values")
    for item in values:
        # An unquoted payer id such as 00123 would arrive as the number 123: refuse rather than guess.
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{item!r} is not a name: quote codes and identifiers (\"00123\")")
    return tuple(item.strip() for item in values)


Names = Annotated[tuple[str, ...] | None, BeforeValidator(_names)]


def _version_text(value: Any) -> Any:
    if isinstance(value, float):  # 1.10 would silently become "1.1"
        raise ValueError(f"quote the version (\"2026.10\"): as an unquoted YAML number it reads as {value}")
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Version = Annotated[Identifier, BeforeValidator(_version_text)]


class Scope(BaseModel):
    """Where a rule or override applies; every list given must contain the claim's value."""

    model_config = _MODEL

    payers: Names = None
    facilities: Names = None  # the billing provider's NPI (or facility id)
    claim_types: Names = None  # P, I
    filing_indicators: Names = None  # SBR09: MB, MC, CI...

    def holds(self, claim: Mapping[str, Any]) -> bool:
        """True when the claim's facts fall in this scope."""
        tests = ((self.payers, claim["payer"]["id"]), (self.facilities, claim["billing"]["npi"]),
                 (self.claim_types, claim["type"]), (self.filing_indicators, claim["subscriber"]["filing_indicator"]))
        return all(wanted is None or value in wanted for wanted, value in tests)


class RuleSpec(BaseModel):
    """One edit as written in a pack."""

    model_config = _MODEL

    id: Identifier
    version: Version
    severity: Severity
    category: Category
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    when: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    for_each: ForEach = "claim"
    scope: Scope = Field(default_factory=Scope)
    description: str | None = None


class Override(BaseModel):
    """A change to a rule of an earlier pack, within a scope: another severity, or switched off."""

    model_config = _MODEL

    rule: Identifier
    scope: Scope = Field(default_factory=Scope)
    severity: Severity | None = None
    enabled: bool = True


class RulePackSpec(BaseModel):
    """A pack as written: its identity and its rules."""

    model_config = _MODEL

    pack: Identifier
    version: Version
    description: str | None = None
    rules: tuple[RuleSpec, ...] = ()
    overrides: tuple[Override, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: tuple[RuleSpec, ...]) -> tuple[RuleSpec, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return rules


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to evaluate: its spec, the pack it came from, its compiled condition and the inputs
    (member paths) it reads, which every finding records."""

    pack: str
    pack_version: str
    spec: RuleSpec
    program: Any  # cel.Program
    input_paths: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def reference(self) -> str:
        """``rule-id@version`` as findings and the event log record it."""
        return f"{self.spec.id}@{self.spec.version}"


@dataclass(frozen=True)
class RuleSet:
    """The rules in force: every pack loaded in order, with the overrides of later packs."""

    rules: tuple[CompiledRule, ...]
    overrides: tuple[Override, ...]
    packs: tuple[tuple[str, str], ...]  # (pack, version) in load order

    def effective_severity(self, rule: CompiledRule, claim: Mapping[str, Any]) -> Severity | None:
        """The rule's severity for this claim after overrides, or None when it does not apply to it."""
        if not rule.spec.scope.holds(claim):
            return None
        severity: Severity | None = rule.spec.severity
        for override in self.overrides:
            if override.rule == rule.id and override.scope.holds(claim):
                severity = None if not override.enabled else (override.severity or rule.spec.severity)
        return severity

    @property
    def version_label(self) -> str:
        """``pack@version`` of every pack, as a claim's scrub event records it."""
        return ",".join(f"{name}@{version}" for name, version in self.packs)


def resolve_path(activation: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``line.code``) of the evaluation's variables; KeyError when absent."""
    value: Any = activation
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(path)
        value = value[part]
    return value


def render_message(template: str, activation: Mapping[str, Any]) -> str:
    """The message with each ``{path}`` replaced by its value (never evaluated: only looked up)."""
    def value(match: re.Match[str]) -> str:
        found = resolve_path(activation, match.group(1))
        if isinstance(found, list | tuple):
            return ", ".join(str(item) for item in found)
        return "" if found is None else str(found)
    return _PLACEHOLDER.sub(value, template)


def input_paths(expression: str) -> tuple[str, ...]:
    """The member paths (``claim.patient.age``) an expression reads, in first-seen order."""
    code = _STRING_LITERAL.sub("''", expression)
    return tuple(dict.fromkeys(_MEMBER_PATH.findall(code)))


def _problem(source: str, spec: RuleSpec | Override | None, detail: str) -> ConfigurationError:
    where = f", rule {spec.id!r}" if isinstance(spec, RuleSpec) else (
        f", override of {spec.rule!r}" if isinstance(spec, Override) else "")
    return ConfigurationError(detail=f"rule pack {source}{where}: {detail}")


def _compile(spec: RuleSpec, pack: RulePackSpec, source: str, functions: Mapping[str, Callable[..., Any]],
             sample: Mapping[str, Any]) -> CompiledRule:
    try:
        program = cel.compile(spec.when)
    except ValueError as exc:
        raise _problem(source, spec, f"the condition is not valid CEL: {exc}") from exc
    item = ITEM_VARIABLE[spec.for_each]
    allowed = {"claim"} | ({item} if item else set())
    names = program.references()
    # Macro variables (``l`` in ``claim.lines.exists(l, ...)``) appear among the variables too; they are
    # harmless. A root the rule cannot see is a mistake: the dry run below would fail on it anyway, but
    # this says why.
    for name in names["variables"]:
        if name in {"claim", "line", "dx", "conflict"} and name not in allowed:
            raise _problem(source, spec, f"{name!r} is not available to a rule with for_each: {spec.for_each}")
    unknown = [name for name in names["functions"] if not name.startswith(("_", "!", "@"))
               and name not in CEL_STANDARD_FUNCTIONS and name not in functions]
    if unknown:
        raise _problem(source, spec, f"unknown function {unknown[0]!r}; the scrubber provides "
                                     f"{', '.join(sorted(functions))}")
    rule = CompiledRule(pack.pack, pack.version, spec, program, input_paths(spec.when))
    for activation in sample_activations(spec.for_each, sample):
        try:
            result = program.execute({**functions, **activation})
        except Exception as exc:  # noqa: BLE001 - any evaluation failure of the dry run is a pack error
            raise _problem(source, spec, f"the condition fails on a complete sample claim: {exc}") from exc
        if not isinstance(result, bool):
            raise _problem(source, spec, f"the condition must be true or false, it gave {result!r}")
        try:
            render_message(spec.message, activation)
            for path in rule.input_paths:
                resolve_path(activation, path)
        except KeyError as exc:
            raise _problem(source, spec, f"{exc.args[0]!r} is not a field of the claim's facts") from exc
    return rule


def sample_activations(for_each: str, sample: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The variables a rule of this kind sees on the sample claim, one activation per item."""
    variable = ITEM_VARIABLE[for_each]
    if variable is None:
        return [{"claim": sample}]
    return [{"claim": sample, variable: item} for item in sample[ITEM_SOURCE[for_each]]]


def parse_rule_pack(text: str, *, source: str) -> RulePackSpec:
    """Parse and validate a pack's shape (not yet its expressions) from YAML text."""
    try:
        raw = load_strict(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(detail=f"rule pack {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(detail=f"rule pack {source} must be a mapping with pack, version and rules")
    try:
        return RulePackSpec.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            where = ".".join(str(part) for part in loc)
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
                rule = raw.get("rules", [])[loc[1]] if isinstance(raw.get("rules"), list) else None
                rule_id = rule.get("id") if isinstance(rule, dict) else None
                where = f"rule {rule_id!r}" if rule_id else f"rule {loc[1] + 1}"
                where += f", field {'.'.join(str(part) for part in loc[2:])}" if loc[2:] else ""
            message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{where}: {message.removeprefix('Value error, ')}")
        raise ConfigurationError(detail=f"rule pack {source}: {'; '.join(problems)}") from exc


def builtin_pack_texts() -> list[tuple[str, str]]:
    """(name, YAML text) of every pack shipped in ``rcmflow/config/rules``, in file-name order."""
    folder = files(BUILTIN_PACKAGE)
    entries = sorted((entry for entry in folder.iterdir() if entry.name.endswith((".yaml", ".yml"))),
                     key=lambda entry: entry.name)
    return [(f"(built-in) {entry.name}", entry.read_text(encoding="utf-8")) for entry in entries]


def pack_texts_from(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """(name, YAML text) of the packs at these paths; a folder contributes its YAML files in name order."""
    texts = []
    for path in paths:
        candidates = sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
        for candidate in candidates:
            try:
                texts.append((str(candidate), candidate.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(detail=f"rule pack {candidate} cannot be read ({exc})") from exc
    return texts


def compile_rule_set(texts: Iterable[tuple[str, str]], functions: Mapping[str, Callable[..., Any]],
                     sample: Mapping[str, Any]) -> RuleSet:
    """Validate and compile packs in order. A later pack's rule with the id of an earlier one replaces it
    (a site's stricter version of a built-in edit); its overrides change rules loaded before it."""
    by_id: dict[str, CompiledRule] = {}
    overrides: list[Override] = []
    packs: list[tuple[str, str]] = []
    for source, text in texts:
        pack = parse_rule_pack(text, source=source)
        for override in pack.overrides:
            if override.rule not in by_id and override.rule not in {rule.id for rule in pack.rules}:
                raise _problem(source, override, "no rule with this id is loaded before this pack")
        for spec in pack.rules:
            by_id[spec.id] = _compile(spec, pack, source, functions, sample)
        overrides.extend(pack.overrides)
        packs.append((pack.pack, pack.version))
    return RuleSet(tuple(by_id.values()), tuple(overrides), tuple(packs))

"""Evaluate a rule set over a claim's facts: the findings, each naming rule id@version and what it saw.

A finding records the inputs its rule read (the member paths of its condition, with their values), so a
coder reading "MUE exceeded" sees the code, the units and the limit that fired it, and an auditor can
replay the decision. A rule that fails while evaluating (a site pack's mistake the dry run could not
catch) holds the claim with an error finding naming the rule, rather than letting the claim through
unchecked or stopping the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import cel

from rcmflow.domain.rule_packs import (
    ITEM_SOURCE,
    ITEM_VARIABLE,
    CompiledRule,
    RuleSet,
    render_message,
    resolve_path,
)

STATUS_CLEAN, STATUS_WARNING, STATUS_ERROR = "clean", "warning", "error"


class Finding(NamedTuple):
    """One rule that fired on a claim (or one of its lines, diagnoses or code pairs)."""

    rule: str
    version: str
    pack: str  # pack@version
    severity: str  # error | warning
    category: str  # coding | registration | authorization | billing
    message: str
    line: int | None = None  # the service line it is about, if any
    inputs: Mapping[str, Any] = {}

    @property
    def reference(self) -> str:
        return f"{self.rule}@{self.version}"

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "version": self.version, "pack": self.pack, "severity": self.severity,
                "category": self.category, "message": self.message, "line": self.line, "inputs": dict(self.inputs)}


class ScrubResult(NamedTuple):
    """What the scrubber found on one claim."""

    source_id: str
    findings: tuple[Finding, ...]

    @property
    def status(self) -> str:
        """error when any error finding holds the claim, warning when only warnings route it, else clean."""
        severities = {finding.severity for finding in self.findings}
        return STATUS_ERROR if "error" in severities else STATUS_WARNING if severities else STATUS_CLEAN

    @property
    def categories(self) -> tuple[str, ...]:
        """The categories of the error findings, most frequent first (the first picks the work queue)."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            if finding.severity == "error":
                counts[finding.category] = counts.get(finding.category, 0) + 1
        return tuple(sorted(counts, key=lambda category: -counts[category]))


def _line_of(rule: CompiledRule, item: Mapping[str, Any] | None) -> int | None:
    if item is None:
        return None
    if rule.spec.for_each == "line":
        return item.get("number")
    if rule.spec.for_each == "ptp_conflict":
        return item.get("column2_line")
    return None


def _inputs(rule: CompiledRule, activation: Mapping[str, Any]) -> dict[str, Any]:
    inputs = {}
    for path in rule.input_paths:
        try:
            inputs[path] = resolve_path(activation, path)
        except KeyError:
            inputs[path] = None
    return inputs


def evaluate_rules(facts: Mapping[str, Any], rules: RuleSet,
                   functions: Mapping[str, Callable[..., Any]]) -> ScrubResult:
    """Every finding of every rule in force for this claim, in rule order."""
    findings: list[Finding] = []
    # One CEL context per activation (the claim, or the claim and one line...), shared by every rule that sees
    # it: the library converts the variables to CEL values once per context, not once per rule.
    contexts: dict[tuple[str, int], cel.Context] = {}
    for rule in rules.rules:
        severity = rules.effective_severity(rule, facts)
        if severity is None:
            continue
        variable = ITEM_VARIABLE[rule.spec.for_each]
        items: list[Mapping[str, Any] | None] = (
            [None] if variable is None else facts[ITEM_SOURCE[rule.spec.for_each]])
        for index, item in enumerate(items):
            activation: dict[str, Any] = {"claim": facts} if item is None else {"claim": facts, variable: item}
            pack = f"{rule.pack}@{rule.pack_version}"
            key = (rule.spec.for_each, index)
            context = contexts.get(key)
            if context is None:
                context = contexts[key] = cel.Context(variables=activation, functions=dict(functions))
            try:
                fired = rule.program.execute(context)
                message = render_message(rule.spec.message, activation) if fired is True else ""
            except Exception as exc:  # noqa: BLE001 - a failing rule holds the claim instead of passing it
                findings.append(Finding(rule.id, rule.spec.version, pack, "error", rule.spec.category,
                                        f"rule {rule.reference} could not be evaluated: {exc}",
                                        _line_of(rule, item), _inputs(rule, activation)))
                continue
            if fired is True:
                findings.append(Finding(rule.id, rule.spec.version, pack, severity, rule.spec.category, message,
                                        _line_of(rule, item), _inputs(rule, activation)))
    return ScrubResult(str(facts["id"]), tuple(findings))

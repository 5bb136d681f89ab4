"""Rule packs: validated at load (shape, CEL, functions, variables, a dry run), overrides, inputs recorded."""

from __future__ import annotations

from typing import Any

import pytest

from rcmflow.domain.rule_packs import compile_rule_set, input_paths, render_message
from rcmflow.domain.scrubber import evaluate_rules
from rcmflow.errors import ConfigurationError

FUNCTIONS = {"npi_valid": lambda npi: npi == "1234567893"}


def facts(**changes: Any) -> dict[str, Any]:
    base = {"id": "C1", "type": "P", "payer": {"id": "P1"}, "billing": {"npi": "1234567893"},
            "subscriber": {"member_id": "M1", "filing_indicator": "CI"},
            "lines": [{"number": 1, "code": "99213", "units": 1.0}, {"number": 2, "code": "36415", "units": 3.0}],
            "diagnoses": [{"position": 1, "code": "E119"}], "ptp_conflicts": []}
    base.update(changes)
    return base


PACK = """
pack: demo
version: "1"
rules:
  - id: member-missing
    version: 2
    severity: error
    category: registration
    message: "Claim {claim.id} has no member id."
    when: claim.subscriber.member_id == ""
  - id: too-many-units
    version: 1
    severity: warning
    category: coding
    for_each: line
    message: "{line.code} x {line.units}"
    when: line.units > 2.0
"""


def compile_texts(*texts: str, sample: dict[str, Any] | None = None):
    return compile_rule_set([(f"pack{n}", text) for n, text in enumerate(texts)], FUNCTIONS, sample or facts())


def test_rules_fire_with_id_version_inputs_and_line() -> None:
    rules = compile_texts(PACK)
    result = evaluate_rules(facts(subscriber={"member_id": "", "filing_indicator": "CI"}), rules, FUNCTIONS)
    assert [(f.rule, f.version, f.pack, f.severity, f.line, f.message) for f in result.findings] == [
        ("member-missing", "2", "demo@1", "error", None, "Claim C1 has no member id."),
        ("too-many-units", "1", "demo@1", "warning", 2, "36415 x 3.0"),
    ]
    assert result.findings[0].inputs == {"claim.subscriber.member_id": ""}
    assert result.findings[1].inputs == {"line.units": 3.0}
    assert result.status == "error" and result.categories == ("registration",)


def test_a_clean_claim_has_no_findings() -> None:
    result = evaluate_rules(facts(lines=[]), compile_texts(PACK), FUNCTIONS)
    assert result.status == "clean" and result.findings == ()


@pytest.mark.parametrize(("rule", "expected"), [
    ("when: claim.id == (", "not valid CEL"),
    ("when: unknown_fn(claim.id)", "unknown function 'unknown_fn'"),
    ("when: line.units > 1.0", "'line' is not available to a rule with for_each: claim"),
    ("when: claim.nothing == ''", "fails on a complete sample claim"),
    ("when: claim.id", "must be true or false"),
    ("when: claim.id == ''\n    message: '{claim.missing}'", "'claim.missing' is not a field"),
])
def test_a_broken_rule_stops_the_load_naming_pack_and_rule(rule: str, expected: str) -> None:
    message = "" if "message:" in rule else "    message: m\n"
    text = ("pack: bad\nversion: '1'\nrules:\n  - id: broken\n    version: 1\n    severity: error\n"
            f"    category: coding\n{message}    {rule}\n")
    with pytest.raises(ConfigurationError, match=expected) as raised:
        compile_texts(text)
    assert "rule pack pack0, rule 'broken'" in str(raised.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("pack: x\nversion: 1.10\nrules: []\n", "quote the version"),
    ("pack: x\nversion: '1'\nrules:\n  - {id: a, version: 1, severity: fatal, category: coding, message: m, "
     "when: 'true'}\n", "rule 'a', field severity"),
    ("pack: x\nversion: '1'\ncolour: red\n", "colour: unknown field"),
    ("pack: x\nversion: '1'\nrules:\n  - {id: a, version: 1, severity: error, category: coding, message: m, "
     "when: 'true'}\n  - {id: a, version: 1, severity: error, category: coding, message: m, when: 'true'}\n",
     "used twice"),
    ("pack: x\npack: y\n", "duplicate key"),
    ("- a list\n", "must be a mapping"),
    ("pack: x\nversion: '1'\noverrides:\n  - {rule: nowhere, enabled: false}\n", "no rule with this id"),
])
def test_a_malformed_pack_is_refused(text: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        compile_texts(text)


def test_overrides_apply_within_their_scope_and_later_packs_replace_rules() -> None:
    site = """
pack: site
version: "7"
overrides:
  - {rule: member-missing, scope: {payers: [P1]}, severity: warning}
  - {rule: too-many-units, enabled: false}
"""
    rules = compile_texts(PACK, site)
    no_member = {"member_id": "", "filing_indicator": "CI"}
    result = evaluate_rules(facts(subscriber=no_member), rules, FUNCTIONS)
    assert [(f.rule, f.severity) for f in result.findings] == [("member-missing", "warning")]
    other_payer = evaluate_rules(facts(subscriber=no_member, payer={"id": "P2"}), rules, FUNCTIONS)
    assert [(f.rule, f.severity) for f in other_payer.findings] == [("member-missing", "error")]
    assert rules.version_label == "demo@1,site@7"

    stricter = PACK.replace("pack: demo", "pack: stricter").replace("line.units > 2.0", "line.units > 0.5")
    replaced = compile_texts(PACK, stricter)
    assert [rule.pack for rule in replaced.rules] == ["stricter", "stricter"]
    assert len(evaluate_rules(facts(), replaced, FUNCTIONS).findings) == 2


def test_a_rule_scoped_to_a_claim_type_skips_others() -> None:
    scoped = PACK.replace("    for_each: line\n", "    for_each: line\n    scope: {claim_types: [I]}\n")
    result = evaluate_rules(facts(), compile_texts(scoped), FUNCTIONS)
    assert result.findings == ()


def test_a_rule_failing_on_a_real_claim_holds_it_instead_of_passing_it() -> None:
    rules = compile_texts(PACK)
    broken_line = facts(lines=[{"number": 1, "code": "99213", "units": "three"}])
    result = evaluate_rules(broken_line, rules, FUNCTIONS)
    assert result.status == "error"
    assert "too-many-units@1 could not be evaluated" in result.findings[0].message


def test_functions_are_the_only_way_out() -> None:
    text = PACK + ("  - {id: npi, version: 1, severity: error, category: registration, message: bad npi, "
                   "when: '!npi_valid(claim.billing.npi)'}\n")
    rules = compile_texts(text)
    bad = evaluate_rules(facts(billing={"npi": "1234567890"}), rules, FUNCTIONS)
    assert [f.rule for f in bad.findings] == ["too-many-units", "npi"]


def test_input_paths_ignore_string_literals_and_macro_variables() -> None:
    assert input_paths("claim.payer.id == 'claim.fake' && line.modifiers.exists(m, m == \"59\")") == (
        "claim.payer.id", "line.modifiers")


def test_messages_only_look_values_up() -> None:
    activation = {"claim": {"id": "C1", "codes": ["A", "B"]}}
    assert render_message("{claim.id}: {claim.codes}", activation) == "C1: A, B"
    with pytest.raises(KeyError):
        render_message("{claim.__class__}", activation)

"""Approval policies: first match wins on exact amount tiers and attributes; bad files fail loudly and precisely."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from rcmflow.domain.approval_policy import (
    ApprovalPolicy,
    chain_from_json,
    chain_to_json,
    load_approval_policy,
    parse_approval_policy,
)
from rcmflow.errors import ConfigurationError

POLICY = textwrap.dedent("""\
    policy_id: test-policy
    version: "7"
    effective_from: 2026-01-01
    rules:
      - id: north-facility
        when: {object_type: supplier invoice, facility: [NORTH, "012"]}
        chain: [{role: facility_director}]
      - id: lab-vendor
        queue: ap_approvals
        when: {object_type: supplier invoice, vendor: V-LAB}
        chain: [{role: lab_manager}, {role: controller, queue: controller_desk}]
      - id: medicare-refund
        when: {object_type: refund, payer: medicare, service_line: [cardiology, imaging], department: PFS}
        chain: [{role: compliance_officer}]
      - id: mid-band
        when: {object_type: [supplier invoice, journal entry], min_amount: "1000.00", max_amount: "10000.00"}
        chain: [{role: approver, sla_hours: 8}]
    """)


def _policy(text: str = POLICY) -> ApprovalPolicy:
    return parse_approval_policy(text, source="test.yaml")


def _rule(policy: ApprovalPolicy, object_type: str, amount: str | None, **attributes: str) -> str | None:
    return policy.match(object_type, Decimal(amount) if amount is not None else None, attributes).rule_id


def _error(text: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_approval_policy(text, source="bad.yaml")
    return str(caught.value)


def _with_rule(rule_yaml: str) -> str:
    head = 'policy_id: p\nversion: "1"\neffective_from: 2026-01-01\nrules:\n'
    return head + textwrap.indent(textwrap.dedent(rule_yaml), "  ")


@pytest.mark.parametrize(("amount", "rule", "roles"), [
    ("0.00", "ap-invoice", [("approver", 1)]),
    ("10000.00", "ap-invoice", [("approver", 1)]),
    ("10000.01", "ap-invoice-large", [("approver", 1), ("controller", 1)]),
    ("100000.00", "ap-invoice-large", [("approver", 1), ("controller", 1)]),
    ("100000.01", "ap-invoice-major", [("approver", 1), ("controller", 2)]),
])
def test_default_policy_supplier_invoice_tiers_meet_exactly_at_their_bounds(
        amount: str, rule: str, roles: list[tuple[str, int]]) -> None:
    match = load_approval_policy().match("supplier invoice", Decimal(amount), {})
    assert match.rule_id == rule and match.required
    assert [(level.role, level.approvers_needed) for level in match.chain] == roles
    assert {level.queue for level in match.chain} == {"ap_approvals"}


@pytest.mark.parametrize(("amount", "attributes", "rule"), [
    ("500.00", {}, None),
    ("500.01", {}, "refund"),
    ("5000.00", {}, "refund"),
    ("5000.01", {}, "refund-large"),
    ("12.00", {"payer": "medicare"}, "refund-government-payer"),
])
def test_default_policy_refund_thresholds(amount: str, attributes: dict[str, str], rule: str | None) -> None:
    assert _rule(load_approval_policy(), "refund", amount, **attributes) == rule


def test_no_match_says_explicitly_that_no_approval_is_needed() -> None:
    match = load_approval_policy().match("refund", Decimal("499.99"), {})
    assert not match.required and match.rule_id is None and match.chain == ()
    assert "no approval is needed" in match.explanation
    assert match.rule_version == "health-system-approvals@2026.1"


def test_matching_by_facility_vendor_payer_and_other_attributes() -> None:
    policy = _policy()
    assert _rule(policy, "supplier invoice", "50.00", facility="NORTH") == "north-facility"
    assert _rule(policy, "supplier invoice", "50.00", facility="012") == "north-facility"
    assert _rule(policy, "supplier invoice", "50.00", facility="SOUTH", vendor="V-LAB") == "lab-vendor"
    assert _rule(policy, "supplier invoice", "50.00", facility="SOUTH", vendor="V-OTHER") is None
    assert _rule(policy, "refund", "5.00", payer="medicare", service_line="imaging", department="PFS") == (
        "medicare-refund")
    # Every condition of a rule must hold: another service line, or no department at all, is not this rule.
    assert _rule(policy, "refund", "5.00", payer="medicare", service_line="oncology", department="PFS") is None
    assert _rule(policy, "refund", "5.00", payer="medicare", service_line="imaging") is None
    assert _rule(policy, "refund", "5.00", payer="aetna", service_line="imaging", department="PFS") is None


def test_first_matching_rule_wins_in_file_order() -> None:
    # NORTH and V-LAB both match; north-facility comes first.
    assert _rule(_policy(), "supplier invoice", "5000.00", facility="NORTH", vendor="V-LAB") == "north-facility"


def test_matching_by_object_type_and_an_amount_band() -> None:
    policy = _policy()
    assert _rule(policy, "journal entry", "1000.00") is None
    assert _rule(policy, "journal entry", "1000.01") == "mid-band"
    assert _rule(policy, "journal entry", "10000.00") == "mid-band"
    assert _rule(policy, "journal entry", "10000.01") is None
    assert _rule(policy, "claim", "5000.00") is None
    assert _rule(policy, "journal entry", None) is None  # amount rules never match an object without an amount


def test_levels_take_the_rules_queue_unless_they_name_their_own() -> None:
    match = _policy().match("supplier invoice", Decimal("1"), {"vendor": "V-LAB"})
    assert [level.queue for level in match.chain] == ["ap_approvals", "controller_desk"]
    assert chain_from_json(chain_to_json(match.chain)) == match.chain


def test_default_rule_applies_only_when_nothing_matched() -> None:
    policy = _policy(POLICY + "default_rule:\n  id: catch-all\n  chain: [{role: controller}]\n")
    assert _rule(policy, "claim", "5.00") == "catch-all"
    assert "default rule 'catch-all'" in policy.match("claim", Decimal("5"), {}).explanation
    assert _rule(policy, "journal entry", "5000.00") == "mid-band"


def test_effective_from_a_date_means_midnight_utc() -> None:
    policy = _policy()
    assert policy.effective_from.isoformat() == "2026-01-01T00:00:00+00:00"
    assert policy.rule_version == "test-policy@7"


@pytest.mark.parametrize(("rule_yaml", "expected"), [
    ("- id: r1\n  when: {min_amount: 10000.10}\n  chain: [{role: a}]\n",
     ["rule 'r1'", "when.min_amount", "quoted strings", "binary float"]),
    ("- id: r1\n  when: {max_amount: \"10,000.00\"}\n  chain: [{role: a}]\n",
     ["rule 'r1'", "when.max_amount", "not an amount"]),
    ("- id: r1\n  when: {min_amount: \"500\", max_amount: \"500\"}\n  chain: [{role: a}]\n",
     ["rule 'r1'", "when", "must be below max_amount"]),
    ("- id: r1\n  when: {amount_over: \"5\"}\n  chain: [{role: a}]\n",
     ["rule 'r1'", "when.amount_over", "unknown field"]),
    ("- id: r1\n  when: {facility: 12}\n  chain: [{role: a}]\n",
     ["rule 'r1'", "when.facility", "quote codes"]),
    ("- id: ok\n  chain: [{role: a}]\n- id: r2\n  chain: [{role: a}, {role: b, approvers_needed: 0}]\n",
     ["rule 'r2' (rule 2)", "chain level 2, approvers_needed", "greater than or equal to 1"]),
    ("- id: r1\n  chain: []\n", ["rule 'r1'", "field chain", "at least 1"]),
    ("- id: r1\n  chain: [{role: a}]\n- id: r1\n  chain: [{role: b}]\n", ["rule id 'r1' is used twice"]),
    ("- when: {vendor: V1}\n  chain: [{role: a}]\n", ["rule 1", "field id", "required"]),
])
def test_invalid_rules_name_the_rule_and_the_field(rule_yaml: str, expected: list[str]) -> None:
    message = _error(_with_rule(rule_yaml))
    assert message.startswith("The configuration is invalid: approval policy bad.yaml")
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize(("text", "expected"), [
    ("policy_id: p\npolicy_id: q\n", "duplicate key 'policy_id'"),
    ("rules: [\n", "not valid YAML"),
    ("- just a list\n", "must be a mapping"),
    ('policy_id: p\nversion: 1.10\neffective_from: 2026-01-01\nrules: []\n', "quote the version"),
    ('policy_id: p\nversion: "1"\neffective_from: 2026-01-01T09:00:00\nrules: []\n', "time zone"),
    ('policy_id: p@x\nversion: "1"\neffective_from: 2026-01-01\nrules: []\n', "field policy_id"),
    ('policy_id: p\nversion: "1"\neffective_from: 2026-01-01\nrules: []\n'
     'default_rule: {id: d, when: {vendor: V}, chain: [{role: a}]}\n', "cannot have conditions"),
])
def test_invalid_policy_files_give_clear_configuration_errors(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_loading_a_file_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "approvals.yaml"
    path.write_text(POLICY, encoding="utf-8")
    assert load_approval_policy(path).rule_version == "test-policy@7"
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_approval_policy(tmp_path / "missing.yaml")

"""Queue policies: the shipped defaults load, and a bad file names the queue and the field at fault."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources
from pathlib import Path

import pytest

from rcmflow.domain.queues import (
    QueuePolicyError,
    UnknownQueueError,
    default_queue_policies,
    load_queue_policies,
    parse_queue_policies,
)
from rcmflow.errors import ConfigurationError

GOOD = """
version: 7
calendar: {timezone: America/Chicago, opens: "07:30", closes: "16:00", closed_dates: [2026-12-24]}
queues:
  denials:
    name: Denials
    default_role: denial_specialist
    sla: {business_hours: 8}
    escalation:
      - {after: {business_hours: 0}, role: denials_lead, priority: 2}
      - {after: {business_days: 1}, role: manager, priority: 1, sla: {business_hours: 4}}
  refunds:
    name: Refunds
    default_role: refund_specialist
    default_priority: 4
    sla: {business_days: 5}
"""


def test_the_shipped_policies_cover_every_queue_of_the_issue() -> None:
    policies = load_queue_policies()
    assert set(policies.queues) == {
        "coding_review", "registration_eligibility", "claim_rejections", "denials", "underpayments",
        "posting_exceptions", "unapplied_cash", "reconciliation", "ap_approvals", "refunds",
        "intake_exceptions",  # files that cannot be read (DESIGN: a parse failure opens a work item)
        "authorizations", "claim_edits"}  # the scrubber's authorisation and billing-edit holds
    assert policies.version
    for queue_id, policy in policies.queues.items():
        assert policy.id == queue_id and policy.name and policy.default_role
        assert policy.escalation, f"{queue_id} has no escalation chain"
        assert policy.sla.on(policies.business_calendar) > timedelta(0)
    assert policies.business_calendar.timezone == "America/New_York"
    assert not policies.business_calendar.is_business_day(date(2026, 11, 26))
    # Read through importlib.resources, so it is inside the package (and its wheel), not beside it.
    assert resources.files("rcmflow.config").joinpath("queues.yaml").is_file()
    assert default_queue_policies() is default_queue_policies()


def test_a_policy_file_is_loaded_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text(GOOD)
    policies = load_queue_policies(path)
    assert policies.version == "7"
    calendar = policies.business_calendar
    assert calendar.timezone == "America/Chicago" and calendar.day_length == timedelta(hours=8, minutes=30)
    assert not calendar.is_business_day(date(2026, 12, 24))
    denials = policies.queue("denials")
    assert denials.default_priority == 3 and denials.sla.on(calendar) == timedelta(hours=8)
    assert policies.queue("refunds").sla.on(calendar) == timedelta(hours=42, minutes=30)
    assert policies.rule_version("denials") == "queue-policy:denials@7"


def test_the_chain_repeats_its_last_step_and_a_queue_without_one_never_escalates() -> None:
    policies = parse_queue_policies(GOOD)
    denials = policies.queue("denials")
    assert [denials.step(level).role for level in range(4)] == ["denials_lead", "manager", "manager", "manager"]
    assert policies.queue("refunds").step(0) is None


def test_an_unknown_queue_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownQueueError, match="denials, refunds"):
        parse_queue_policies(GOOD).queue("billing")


@pytest.mark.parametrize(("old", "new", "queue", "field", "message"), [
    ("default_priority: 4", "default_priority: 4\n    colour: blue", "refunds", "colour", "Extra inputs"),
    ("role: denials_lead, priority: 2", "role: denials_lead, priority: 7", "denials", "escalation.0.priority",
     "less than or equal to 5"),
    ("sla: {business_hours: 8}", "sla: {business_hours: 8, business_days: 1}", "denials", "sla", "exactly one"),
    ("sla: {business_days: 5}", "sla: {business_hours: 0}", "refunds", "sla", "longer than zero"),
    ("sla: {business_days: 5}", "sla: {business_weeks: 1}", "refunds", "sla.business_weeks", "Extra inputs"),
    ("role: manager, priority: 1", "role: manager, priority: 3", "denials", "escalation",
     "must not lower the priority"),
    ("    default_role: refund_specialist\n", "", "refunds", "default_role", "Field required"),
])
def test_a_bad_queue_names_the_queue_and_the_field(old: str, new: str, queue: str, field: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(QueuePolicyError, match=message) as caught:
        parse_queue_policies(GOOD.replace(old, new), source="site.yaml")
    error = caught.value
    assert isinstance(error, ConfigurationError)
    assert (error.params["queue"], error.params["field"]) == (queue, field)
    assert f"site.yaml: queue {queue!r}, field {field!r}" in str(error)


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace("version: 7\n", ""), "field 'version': Field required"),
    (GOOD.replace("America/Chicago", "Mars/Olympus_Mons"), "field 'calendar'"),
    (GOOD.replace('closes: "16:00"', 'closes: "06:00"'), "open before they close"),
    (GOOD.replace("calendar: {", "calendar: {holidays: {country: XX}, "), "Country XX not available"),
    (GOOD.replace("  refunds:", "  Refunds:"), "must be snake_case"),
    ("version: 1\nqueues: {}\n", "at least one queue"),
    ("version: 1\nqueues:\n\tdenials: {}\n", "not valid YAML at line 3"),
    ("- just a list\n", "expected a mapping"),
])
def test_a_bad_file_is_a_configuration_error(text: str, message: str) -> None:
    with pytest.raises(QueuePolicyError, match=message):
        parse_queue_policies(text)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(QueuePolicyError, match="cannot be read"):
        load_queue_policies(tmp_path / "nowhere.yaml")

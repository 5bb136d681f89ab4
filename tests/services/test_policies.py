"""Policies come from the files the settings name, and a bad file is refused at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcmflow.errors import ConfigurationError
from rcmflow.services import policies
from rcmflow.settings import reset_settings


@pytest.fixture(autouse=True)
def _fresh_policy_cache() -> None:
    policies._queue_policies.cache_clear()
    policies._approval_policy.cache_clear()


def test_shipped_policies_by_default() -> None:
    queues, approval = policies.check_policies()
    assert "denials" in queues.queues and approval.rules


def test_a_configured_queue_file_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text("""
version: "site-7"
queues:
  denials:
    name: Denials
    default_role: denial_specialist
    sla: {business_hours: 6}
""")
    monkeypatch.setenv("RCMFLOW_QUEUE_POLICIES", str(path))
    reset_settings()
    assert set(policies.configured_queue_policies().queues) == {"denials"}
    assert policies.configured_queue_policies().version == "site-7"


def test_a_bad_approval_file_stops_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "approvals.yaml"
    path.write_text("policy_id: x\nversion: '1'\nrules: [{id: r1, chain: []}]\n")
    monkeypatch.setenv("RCMFLOW_APPROVAL_POLICY", str(path))
    reset_settings()
    with pytest.raises(ConfigurationError):
        policies.check_policies()

"""The policies this process runs under: queue policies, the approval policy, payer contracts and the PLB
account map, from the files the settings name (``RCMFLOW_QUEUE_POLICIES``, ``RCMFLOW_APPROVAL_POLICY``,
``RCMFLOW_PAYER_CONTRACTS``) or the shipped defaults.

Loaded once per process and validated when loaded: ``check_policies`` is called at start-up by the
worker and by the commands that act on work items and approvals, so a bad file stops them with one
line naming the rule and field, before anything is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from rcmflow.domain.approval_policy import ApprovalPolicy, load_approval_policy
from rcmflow.domain.contracts import PayerContracts, load_contracts
from rcmflow.domain.hl7_facilities import load_hl7_facilities
from rcmflow.domain.posting import PlbAccounts, load_plb_accounts
from rcmflow.domain.queues import QueuePolicies, load_queue_policies
from rcmflow.domain.trading_partners import TradingPartners, load_trading_partners
from rcmflow.formats.hl7_dft import HL7BillingProvider
from rcmflow.settings import get_settings


@cache
def _queue_policies(path: Path | None) -> QueuePolicies:
    return load_queue_policies(path)


@cache
def _approval_policy(path: Path | None) -> ApprovalPolicy:
    return load_approval_policy(path)


@cache
def _payer_contracts(path: Path | None) -> PayerContracts:
    return load_contracts(path) if path is not None else load_contracts()


@cache
def configured_plb_accounts() -> PlbAccounts:
    """The PLB reason-to-account map (shipped), loaded once."""
    return load_plb_accounts()


def configured_payer_contracts() -> PayerContracts:
    """The payer contracts of this process's settings, loaded once per file."""
    return _payer_contracts(get_settings().payer_contracts)


@cache
def _trading_partners(path: Path | None) -> TradingPartners:
    return load_trading_partners(path)


def configured_trading_partners() -> TradingPartners:
    """The trading partners of this process's settings (``RCMFLOW_TRADING_PARTNERS``), loaded once per file."""
    return _trading_partners(get_settings().trading_partners)


@cache
def _hl7_facilities(path: Path | None) -> Mapping[str, HL7BillingProvider]:
    return load_hl7_facilities(path)


def configured_hl7_facilities() -> Mapping[str, HL7BillingProvider]:
    """The billing provider of each HL7 sending facility (``RCMFLOW_HL7_FACILITIES``), loaded once per file."""
    return _hl7_facilities(get_settings().hl7_facilities)


def configured_queue_policies() -> QueuePolicies:
    """The queue policies of this process's settings."""
    return _queue_policies(get_settings().queue_policies)


def configured_approval_policy() -> ApprovalPolicy:
    """The approval policy of this process's settings."""
    return _approval_policy(get_settings().approval_policy)


def check_policies() -> tuple[QueuePolicies, ApprovalPolicy]:
    """Load and validate both policies now (start-up); raises ConfigurationError on a bad file."""
    return configured_queue_policies(), configured_approval_policy()

"""Payer policies: levels (payer, filing indicator, default), authorisation code ranges, refused files."""

from __future__ import annotations

import pytest

from rcmflow.domain.payer_policy import load_payer_policies, parse_payer_policies
from rcmflow.errors import ConfigurationError

TEXT = """
version: "3"
default: {timely_filing_days: 365, warn_days_before: 30}
by_filing_indicator:
  CI: {timely_filing_days: 180, prior_authorization: ["27447"]}
payers:
  - {payer_id: "00590", timely_filing_days: 90, prior_authorization: ["72141-72158", "G0283"]}
  - {payer_id: "77001", warn_days_before: 10}
"""


def test_each_term_comes_from_the_most_specific_level() -> None:
    policies = parse_payer_policies(TEXT, source="t")
    assert policies.for_payer("00590", "CI").timely_filing_days == 90
    assert policies.for_payer("00590", "CI").warn_days_before == 30
    assert policies.for_payer("77001", "CI").timely_filing_days == 180
    assert policies.for_payer("77001", "CI").warn_days_before == 10
    assert policies.for_payer("77001", "CI").needs_authorization("27447")
    assert policies.for_payer("99999", "MB").timely_filing_days == 365
    assert not policies.for_payer("99999", "MB").needs_authorization("27447")


def test_authorisation_ranges_include_their_ends_and_only_codes_of_their_length() -> None:
    policy = parse_payer_policies(TEXT, source="t").for_payer("00590")
    assert [policy.needs_authorization(code) for code in ("72141", "72150", "72158", "72159", "7215", "G0283")] == [
        True, True, True, False, False, True]


@pytest.mark.parametrize(("text", "expected"), [
    ("version: '1'\ndefault: {timely_filing_days: 0}\n", "timely_filing_days"),
    ("version: '1'\ndefault: {}\npayers:\n  - {payer_id: 590}\n", "quote codes"),
    ("version: '1'\ndefault: {prior_authorization: ['72158-72141']}\n", "low to high"),
    ("version: '1'\ndefault: {}\npayers:\n  - {payer_id: 'A'}\n  - {payer_id: 'A'}\n", "listed twice"),
    ("version: '1'\ndefault: {}\nextra: 1\n", "extra"),
])
def test_bad_files_are_refused_with_the_field(text: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        parse_payer_policies(text, source="t")


def test_the_shipped_policies_load() -> None:
    policies = load_payer_policies()
    assert policies.for_payer("60054", "CI").timely_filing_days == 90
    assert policies.for_payer("60054", "CI").needs_authorization("70552")

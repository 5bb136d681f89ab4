"""The remittance and deposit pages as a payment poster or controller uses them: which claims a remittance paid
or denied and how they were matched, the contract variance flagged, the journal it caused with balanced
totals, the deposit that brought the money and how it was matched, and the reconciliation summary."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from rcmflow.adapters.store.schema import claim_payments, deposit_matches, deposits, remittances
from tests.entrypoints.web.page_text import marked_text, rows_of, text_of
from tests.entrypoints.web.revenue_story import Story

Person = Callable[..., TestClient]


def test_the_remittance_list_filters_by_state_and_payer(revenue_story: Story, person: Person, engine: Engine) -> None:
    poster = person("payment_poster")
    with engine.connect() as conn:
        stored = {row.id: row for row in conn.execute(select(remittances))}
    listed = rows_of(poster.get("/ui/remittances").text, "remittances")
    assert len(listed) == len(stored)
    assert [row.split()[0] for row in listed] == [str(i) for i in sorted(stored, reverse=True)]  # newest first
    state = stored[revenue_story.paid_remittance].state
    filtered = rows_of(poster.get("/ui/remittances", params={"state": state}).text, "remittances")
    assert all(state in row for row in filtered) and any(
        stored[revenue_story.paid_remittance].trace_number in row for row in filtered)
    assert "No remittance matches" in poster.get("/ui/remittances", params={"payer_id": "99999"}).text
    assert poster.get("/ui/remittances", params={"state": "lost"}).status_code == 422


def test_the_remittance_page_shows_matched_claims_variance_journal_and_deposit(revenue_story: Story, person: Person,
                                                                               engine: Engine) -> None:
    controller = person("controller")  # remittances, deposits and the ledger
    html = controller.get(f"/ui/remittances/{revenue_story.paid_remittance}").text
    with engine.connect() as conn:
        remittance = conn.execute(select(remittances).where(remittances.c.id == revenue_story.paid_remittance)).one()
        payment = conn.execute(select(claim_payments).where(
            claim_payments.c.remittance_id == revenue_story.paid_remittance)).one()
        match = conn.execute(select(deposit_matches).where(
            deposit_matches.c.remittance_id == revenue_story.paid_remittance)).one()
    assert remittance.trace_number in html and "ACME HEALTH PLAN" in html
    [row] = rows_of(html, "claim-payments")
    assert "VISITP" in row and "patient_control_number (100 %)" in row and "Processed as primary" in row
    assert f'href="/ui/claims/{revenue_story.paid}"' in html
    assert f'<span class="flag">{payment.variance}</span>' in html  # beyond the contract's tolerance
    assert marked_text(html, "reconciliation") == (f"reconciled · {remittance.reconciled_amount:,.2f} of "
                                              f"{remittance.payment_amount:,.2f} found in the bank")

    # The journal of its claim payment and of the deposit match, each entry and all together balanced.
    totals = re.search(r'data-testid="journal-totals"[^>]*>\s*(\d+) entr\w+: debits ([\d,.]+), credits ([\d,.]+)',
                       html)
    assert totals is not None, "no journal totals"
    count, debits, credits = int(totals.group(1)), totals.group(2), totals.group(3)
    assert count == 2 and debits == credits and "balanced" in html and "NOT balanced" not in html
    journal = text_of(html, "journal-title")
    assert "Undeposited funds" in journal and "Operating bank account" in journal

    [deposit] = rows_of(html, "remittance-deposits")
    assert "trace_number" in deposit and "100 %" in deposit and f"{match.amount:,.2f}" in deposit
    assert f'href="/ui/deposits/{match.deposit_id}"' in html


def test_a_denial_remittance_moves_no_money(revenue_story: Story, person: Person) -> None:
    html = person("controller").get(f"/ui/remittances/{revenue_story.denied_remittance}").text
    [row] = rows_of(html, "claim-payments")
    assert "VISITD" in row and "4 · Denied" in row and "0.00" in row
    # Nothing paid, nothing to deposit: the zero payment reconciles as it is, and the denial is worked, not booked.
    assert marked_text(html, "reconciliation").startswith("reconciled · 0.00 of 0.00")
    assert "no journal entry yet" in text_of(html, "journal-title")
    assert "No deposit matched yet." in text_of(html, "deposits-title")


def test_without_the_ledger_permission_the_journal_is_withheld(revenue_story: Story, person: Person) -> None:
    html = person("biller").get(f"/ui/remittances/{revenue_story.paid_remittance}").text
    assert "need the <code>ledger:read</code> permission" in html and "journal-totals" not in html
    assert 'href="/ui/deposits/' not in html  # a biller may not open deposits: no link to a refusal


def test_the_deposit_pages_show_the_reconciliation_and_the_match(revenue_story: Story, person: Person,
                                                                 engine: Engine) -> None:
    poster = person("payment_poster")
    with engine.connect() as conn:
        deposit = conn.execute(select(deposits)).one()
        trace = conn.execute(select(remittances.c.trace_number).where(
            remittances.c.id == revenue_story.paid_remittance)).scalar_one()
    listing = poster.get("/ui/deposits").text
    [row] = rows_of(listing, "deposits")
    assert deposit.state in row and f"{deposit.amount:,.2f}" in row
    summary = text_of(listing, "summary-title")
    assert f"{deposit.state} 1 {deposit.amount:,.2f}" in summary and "trace_number 1" in summary
    assert "No deposit matches" in poster.get("/ui/deposits", params={"state": "unmatched"}).text

    page = poster.get(f"/ui/deposits/{deposit.id}").text
    [match] = rows_of(page, "deposit-matches")
    assert trace in match and "trace_number" in match and "100 %" in match
    assert f'href="/ui/remittances/{revenue_story.paid_remittance}"' in page
    assert "Open reconciliation work" in page and "None." in text_of(page, "work-title")
    entries = text_of(page, "journal-title")
    amount = f"{Decimal(deposit.amount):,.2f}"
    assert f"Operating bank account {amount}" in entries and f"Entry total {amount} {amount}" in entries


def test_unknown_records_are_not_found_pages(person: Person) -> None:
    admin = person("admin")
    assert admin.get("/ui/remittances/999999").status_code == 404
    assert admin.get("/ui/deposits/999999").status_code == 404


@pytest.mark.parametrize(("path", "without"), [
    ("/ui/remittances", "approver"), ("/ui/remittances/1", "coder"),
    ("/ui/deposits", "biller"), ("/ui/deposits/1", "denial_specialist"),
])
def test_the_finance_pages_need_a_session_and_their_permission(path: str, without: str, ui_client: TestClient,
                                                               person: Person) -> None:
    anonymous = ui_client.get(path, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/ui/login?next=")
    refused = person(without).get(path)
    assert refused.status_code == 403 and "Your role does not allow this page" in refused.text

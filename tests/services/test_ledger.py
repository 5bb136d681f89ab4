"""The built-in ledger: balanced, exactly-once, reversible postings; closed periods; trial balance; CSV export."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, select

from rcmflow.adapters.store.schema import journal_entries, journal_lines, ledger_accounts
from rcmflow.domain.ledger import (
    AlreadyReversedError,
    JournalEntryDraft,
    JournalLine,
    PeriodClosedError,
    UnknownAccountError,
    UnknownJournalError,
    credit,
    debit,
    load_chart,
)
from rcmflow.errors import UnbalancedError
from rcmflow.services.fiscal_periods import close_period, list_periods, reopen_period
from rcmflow.services.ledger import (
    export_journal_csv,
    install_chart,
    list_accounts,
    post_entries,
    reverse_entry,
    trial_balance,
)
from rcmflow.services.transitions import StaleStateError, history

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
D = Decimal


def _draft(key: str, day: date, *lines: JournalLine, journal: str = "era", source: str = "CLM1") -> JournalEntryDraft:
    return JournalEntryDraft(journal, day, f"effect {key}", "claim payment", source, key, lines)


def _claim_story() -> list[JournalEntryDraft]:
    """Charge 200.00; payer pays 120.00, contractual 50.00, patient owes 30.00; patient pays 30.00."""
    return [
        _draft("charge:CLM1", date(2026, 3, 1), debit("ar_insurance", D("200.00")),
               credit("patient_service_revenue", D("200.00")), journal="charges"),
        _draft("era:P1:T1:CLM1", date(2026, 3, 5), debit("undeposited_funds", D("120.00")),
               debit("contractual_allowances", D("50.00")), debit("ar_patient", D("30.00")),
               credit("ar_insurance", D("200.00"))),
        _draft("pay:CLM1:1", date(2026, 3, 20), debit("undeposited_funds", D("30.00")),
               credit("ar_patient", D("30.00")), journal="general"),
    ]


def _post(conn: Connection, drafts: list[JournalEntryDraft], **kwargs: Any) -> list[Any]:
    return post_entries(conn, drafts, actor="job:posting", now=NOW, **kwargs)


def _count(conn: Connection, table: Any) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_trial_balance_of_a_claim_from_charge_to_payment(engine: Engine) -> None:
    with engine.begin() as conn:
        refs = _post(conn, _claim_story())
        report = trial_balance(conn)
        mid_month = trial_balance(conn, as_of=date(2026, 3, 5))

    assert [ref.created for ref in refs] == [True, True, True]
    assert [(r.number, r.debits, r.credits, r.balance) for r in report.rows] == [
        ("1010", D("150.00"), D("0.00"), D("150.00")),
        ("1100", D("200.00"), D("200.00"), D("0.00")),
        ("1110", D("30.00"), D("30.00"), D("0.00")),
        ("4000", D("0.00"), D("200.00"), D("200.00")),
        ("4100", D("50.00"), D("0.00"), D("50.00")),
    ]
    assert (report.debits, report.credits, report.balanced) == (D("430.00"), D("430.00"), True)
    assert mid_month.balance_of("ar_patient") == D("30.00")
    assert mid_month.balance_of("undeposited_funds") == D("120.00") and mid_month.balanced


def test_an_unbalanced_entry_refuses_the_whole_batch(engine: Engine) -> None:
    story = _claim_story()
    bad = _draft("era:P1:T2:CLM2", date(2026, 3, 5), debit("undeposited_funds", D("10.00")),
                 credit("ar_insurance", D("9.99")), source="CLM2")
    with engine.begin() as conn:
        with pytest.raises(UnbalancedError, match=r"era:P1:T2:CLM2.*difference 0\.01"):
            _post(conn, [*story, bad])
        assert _count(conn, journal_entries) == 0 and _count(conn, journal_lines) == 0


def test_unknown_accounts_and_journals_are_refused_before_any_write(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(UnknownAccountError, match="9999"):
            _post(conn, [_draft("k1", date(2026, 3, 1), debit("9999", D("1.00")), credit("1100", D("1.00")))])
        with pytest.raises(UnknownJournalError, match="payroll"):
            _post(conn, [_draft("k1", date(2026, 3, 1), debit("1010", D("1.00")), credit("1100", D("1.00")),
                                journal="payroll")])
        assert _count(conn, journal_entries) == 0


def test_posting_the_same_effect_again_is_a_no_op(engine: Engine) -> None:
    story = _claim_story()
    with engine.begin() as conn:
        first = _post(conn, story)
        # The same key repeated in one call, and the whole story again: each effect posted once.
        again = _post(conn, [*story, story[0]])
        assert [r.entry_id for r in again] == [*(r.entry_id for r in first), first[0].entry_id]
        assert not any(r.created for r in again)
        assert _count(conn, journal_entries) == 3 and _count(conn, journal_lines) == 8
        assert trial_balance(conn).debits == D("430.00")


def test_a_reversal_is_the_exact_mirror_and_happens_once(engine: Engine) -> None:
    with engine.begin() as conn:
        refs = _post(conn, _claim_story())
        reversals = [reverse_entry(conn, ref.entry_id, reason="CLP02=22 correction", actor="job:posting", now=NOW)
                     for ref in refs]
        report = trial_balance(conn)
        assert all(row.balance == 0 for row in report.rows) and report.balanced
        assert report.debits == D("860.00")  # activity is kept: nothing was deleted
        linked = conn.execute(select(journal_entries.c.reversal_of).where(
            journal_entries.c.id == reversals[1].entry_id)).scalar_one()
        assert linked == refs[1].entry_id

        with pytest.raises(AlreadyReversedError, match=f"already reversed by entry {reversals[1].entry_id}"):
            reverse_entry(conn, refs[1].entry_id, reason="again", actor="job:posting", now=NOW)
        with pytest.raises(AlreadyReversedError, match="is itself a reversal"):
            reverse_entry(conn, reversals[1].entry_id, reason="undo", actor="job:posting", now=NOW)
        assert _count(conn, journal_entries) == 6


def test_a_closed_period_refuses_postings_until_reopened(engine: Engine) -> None:
    story = _claim_story()
    march = _draft("late:CLM9", date(2026, 3, 31), debit("1010", D("5.00")), credit("1100", D("5.00")))
    with engine.begin() as conn:
        _post(conn, story[:1])
        close_period(conn, "2026-03", actor="user:controller", now=NOW)
        with pytest.raises(PeriodClosedError, match="2026-03 is closed.*late:CLM9"):
            _post(conn, [march])
        assert _count(conn, journal_entries) == 1
        # Re-running an effect already posted stays a no-op, even though its period is now closed.
        assert not _post(conn, story[:1])[0].created
        with pytest.raises(StaleStateError):
            close_period(conn, "2026-03", actor="user:controller", now=NOW)

        reopen_period(conn, "2026-03", actor="user:controller", reason="late ERA, approved by CFO", now=NOW)
        assert _post(conn, [march])[0].created
        (period,) = [p for p in list_periods(conn) if p.period == "2026-03"]
        assert period.state == "open"
        assert history(conn, "fiscal period", period.id) == [
            ("open", "closed", "close fiscal period"), ("closed", "open", "reopen fiscal period")]


def test_a_closed_period_refuses_a_reversal_dated_in_it(engine: Engine) -> None:
    with engine.begin() as conn:
        (ref,) = _post(conn, _claim_story()[:1])
        close_period(conn, "2026-03", actor="user:controller", now=NOW)
        with pytest.raises(PeriodClosedError):
            reverse_entry(conn, ref.entry_id, reason="x", actor="job:posting", now=NOW)
        # Dated in the next (open) period, the reversal is fine.
        reversal = reverse_entry(conn, ref.entry_id, reason="x", actor="job:posting", now=NOW,
                                 posting_date=date(2026, 4, 1))
        assert reversal.created


def test_journal_export_is_the_documented_csv(engine: Engine) -> None:
    with engine.begin() as conn:
        refs = _post(conn, _claim_story())
        out = io.StringIO()
        count = export_journal_csv(conn, "era", date(2026, 3, 1), date(2026, 3, 31), out)
        everything = io.StringIO()
        assert export_journal_csv(conn, None, None, None, everything) == 8
        assert export_journal_csv(conn, "era", date(2026, 3, 6), None, io.StringIO()) == 0
    entry = refs[1].entry_id
    assert count == 4
    assert out.getvalue().splitlines() == [
        "entry_id,posting_date,period,journal,line_no,account_number,account_name,debit,credit,description,memo,"
        "source_type,source_id,idempotency_key,reversal_of",
        f"{entry},2026-03-05,2026-03,era,1,1010,Undeposited funds,120.00,0.00,effect era:P1:T1:CLM1,,"
        "claim payment,CLM1,era:P1:T1:CLM1,",
        f"{entry},2026-03-05,2026-03,era,2,4100,Contractual allowances,50.00,0.00,effect era:P1:T1:CLM1,,"
        "claim payment,CLM1,era:P1:T1:CLM1,",
        f"{entry},2026-03-05,2026-03,era,3,1110,Accounts receivable - patient,30.00,0.00,effect era:P1:T1:CLM1,,"
        "claim payment,CLM1,era:P1:T1:CLM1,",
        f"{entry},2026-03-05,2026-03,era,4,1100,Accounts receivable - insurance,0.00,200.00,effect era:P1:T1:CLM1,,"
        "claim payment,CLM1,era:P1:T1:CLM1,",
    ]


def test_organisations_have_their_own_chart_and_books(engine: Engine) -> None:
    with engine.begin() as conn:
        _post(conn, _claim_story())
        _post(conn, _claim_story()[:1], organisation_id="north")
        assert trial_balance(conn, organisation_id="north").debits == D("200.00")
        assert trial_balance(conn).debits == D("430.00")
        assert len(list_accounts(conn, "north")) == len(load_chart().accounts)


def test_installing_the_chart_again_updates_by_number(engine: Engine) -> None:
    chart = load_chart()
    renamed = chart.model_copy(update={"accounts": tuple(
        a.model_copy(update={"name": "Bank - First National"}) if a.key == "bank" else a for a in chart.accounts)})
    with engine.begin() as conn:
        install_chart(conn, chart)
        install_chart(conn, renamed)
        assert _count(conn, ledger_accounts) == len(chart.accounts)
        assert conn.execute(select(ledger_accounts.c.name).where(ledger_accounts.c.number == "1000")).scalar_one() \
            == "Bank - First National"


def test_amounts_sum_exactly_over_many_lines(engine: Engine) -> None:
    # 0.10 and 0.20 are inexact in binary floating point; the trial balance must still be to the cent.
    drafts = [_draft(f"k{i}", date(2026, 3, 1), debit("1010", D("0.10")), debit("4100", D("0.20")),
                     credit("1100", D("0.30"))) for i in range(3_000)]
    with engine.begin() as conn:
        _post(conn, drafts)
        report = trial_balance(conn)
    assert (report.balance_of("1010"), report.balance_of("4100"), report.balance_of("1100")) == (
        D("300.00"), D("600.00"), D("-900.00"))


def test_ten_thousand_entries_post_in_a_few_statements(engine: Engine) -> None:
    drafts = [_draft(f"era:P1:T9:CLM{i}", date(2026, 3, 1 + i % 28), debit("undeposited_funds", D("10.01")),
                     debit("contractual_allowances", D(f"{i % 50}.50")), credit("ar_insurance", D(f"{10 + i % 50}.51")),
                     source=f"CLM{i}") for i in range(10_000)]
    statements: list[str] = []

    def record(_conn: object, clauseelement: Any, *_args: object) -> None:
        statements.append(str(clauseelement).split("(")[0].strip())

    with engine.begin() as conn:
        event.listen(conn, "before_execute", record)
        try:
            refs = _post(conn, drafts)
        finally:
            event.remove(conn, "before_execute", record)
        assert _count(conn, journal_entries) == 10_000 and _count(conn, journal_lines) == 30_000
        assert len({r.entry_id for r in refs}) == 10_000 and all(r.created for r in refs)
        assert trial_balance(conn).balanced

    # Chart and period look-ups, key look-ups in chunks, one insert of entries, one of lines (COPY on
    # PostgreSQL, outside SQLAlchemy's execute): never a statement per entry.
    assert len(statements) <= 12, statements
    with engine.begin() as conn:  # the same ten thousand again: all found posted, nothing written
        again = _post(conn, drafts)
        assert not any(r.created for r in again) and [r.entry_id for r in again] == [r.entry_id for r in refs]
        assert _count(conn, journal_entries) == 10_000 and _count(conn, journal_lines) == 30_000

"""Posting end to end on a real database: match, classify, journal, states, work items, exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine, func, select

from rcmflow.adapters.store.schema import (
    claim_payments,
    claims,
    journal_entries,
    remittances,
    work_items,
)
from rcmflow.domain.money import total
from rcmflow.domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment
from rcmflow.services.claims import store_claims
from rcmflow.services.demo_data import build_network
from rcmflow.services.ledger import trial_balance
from rcmflow.services.posting import apply_unapplied, post_pending, post_remittances
from rcmflow.services.remittances import store_remittances

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _store(conn: Connection, batches, items) -> list[int]:
    store_claims(conn, None, batches, actor="test", now=NOW)
    return list(store_remittances(conn, None, items, actor="test", now=NOW).stored)


def _count(conn: Connection, table, *conditions) -> int:
    return conn.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()


def _negated(claim: ClaimPayment) -> ClaimPayment:
    """The payer's reversal (CLP02 22) of a claim payment: every amount negated."""
    def flip(adjustments):
        return tuple(a._replace(amount=-a.amount) for a in adjustments)
    return claim._replace(status="22", charge=-claim.charge, paid=-claim.paid,
                          patient_responsibility=-(claim.patient_responsibility or 0),
                          adjustments=flip(claim.adjustments),
                          service_payments=tuple(line._replace(charge=-line.charge, paid=-line.paid,
                                                               adjustments=flip(line.adjustments))
                                                 for line in claim.service_payments))


def test_a_network_posts_straight_through_with_balanced_books(engine: Engine) -> None:
    network = build_network(60, seed=11)
    items = [remittance for _, remittance in network.remittances]
    with engine.begin() as conn:
        ids = _store(conn, [batch for _, _, batch in network.batches], items)
        result = post_remittances(conn, ids, actor="test", now=NOW)
        paid = [claim for item in items for claim in item.claims]
        assert result.claim_payments == len(paid) and result.matched == len(paid) and result.unapplied == 0
        assert {row.state for row in conn.execute(select(claim_payments.c.state))} == {"posted"}
        assert {row.match_method for row in conn.execute(select(claim_payments.c.match_method))} == {
            "patient_control_number"}
        ledger = trial_balance(conn)
        assert ledger.balanced
        # Cash on its way to the bank is exactly what the payers sent: sum of BPR02.
        assert ledger.balance_of("undeposited_funds") == total(item.payment_amount for item in items)
        patient = total(adj.amount for claim in paid for line in claim.service_payments
                        for adj in line.adjustments if adj.group == "PR")
        assert ledger.balance_of("ar_patient") == patient
        denied = [claim for claim in paid if claim.status == "4"]
        states = dict(conn.execute(select(claims.c.state, func.count()).group_by(claims.c.state)).all())
        assert states.get("denied", 0) == len(denied) and states["paid"] == len(paid) - len(denied)
        assert _count(conn, work_items, work_items.c.queue == "denials") == len(denied)
        assert {row.state for row in conn.execute(select(remittances.c.state))} == {"posted"}
        interest = -total(plb.amount for item in items for plb in item.provider_adjustments if plb.reason == "L6")
        assert ledger.balance_of("interest_income") == interest


def test_posting_again_changes_nothing(engine: Engine) -> None:
    network = build_network(20, seed=3)
    with engine.begin() as conn:
        _store(conn, [batch for _, _, batch in network.batches], [r for _, r in network.remittances])
    first = post_pending(engine, actor="test", now=NOW)
    with engine.connect() as conn:
        entries = _count(conn, journal_entries)
        before = trial_balance(conn)
    again = post_pending(engine, actor="test", now=NOW)
    assert first.claim_payments > 0 and again.claim_payments == 0 and again.entries == 0
    with engine.connect() as conn:
        assert _count(conn, journal_entries) == entries and trial_balance(conn) == before


def test_an_unmatched_payment_is_unapplied_cash_until_its_claim_arrives(engine: Engine) -> None:
    network = build_network(8, seed=4)
    _, remittance = network.remittances[0]
    batches = [batch for _, _, batch in network.batches]
    claim = remittance.claims[0]
    lone = remittance._replace(claims=(claim,), provider_adjustments=(), payment_amount=claim.paid)
    with engine.begin() as conn:
        [remittance_id] = store_remittances(conn, None, [lone], actor="test", now=NOW).stored
        result = post_remittances(conn, [remittance_id], actor="test", now=NOW)
        assert result.unapplied == 1 and result.matched == 0
        assert conn.execute(select(claim_payments.c.state)).scalar_one() == "unapplied"
        assert trial_balance(conn).balance_of("unapplied_cash") == claim.paid
        [item] = conn.execute(select(work_items.c.queue, work_items.c.state)).all()
        assert tuple(item) == ("unapplied_cash", "open")
    with engine.begin() as conn:
        store_claims(conn, None, batches, actor="test", now=NOW)
        later = apply_unapplied(conn, actor="test", now=NOW)
        assert later.matched == 1
        row = conn.execute(select(claim_payments)).one()
        assert row.state == "posted" and row.claim_id is not None
        ledger = trial_balance(conn)
        assert ledger.balance_of("unapplied_cash") == Decimal("0.00") and ledger.balanced
        assert ledger.balance_of("undeposited_funds") == claim.paid
        assert conn.execute(select(work_items.c.state).where(work_items.c.queue == "unapplied_cash")
                            ).scalar_one() == "resolved"


def test_a_reversal_reverses_the_original_exactly_and_the_correction_posts_after_it(engine: Engine) -> None:
    network = build_network(12, seed=8)
    _, remittance = network.remittances[0]
    original = next(claim for claim in remittance.claims if claim.status == "1")
    batches = [batch for _, _, batch in network.batches]
    corrected = original._replace(paid=original.paid + Decimal("5.00"), service_payments=(
        original.service_payments[0]._replace(
            paid=original.service_payments[0].paid + Decimal("5.00"),
            adjustments=tuple(adj._replace(amount=adj.amount - Decimal("5.00")) if adj.group == "CO" else adj
                              for adj in original.service_payments[0].adjustments)),
        *original.service_payments[1:]))
    follow_up = remittance._replace(
        trace_number=remittance.trace_number + "R", payment_amount=Decimal("5.00"), payment_date=date(2026, 11, 19),
        claims=(_negated(original), corrected), provider_adjustments=())
    with engine.begin() as conn:
        ids = _store(conn, batches, [remittance])
        post_remittances(conn, ids, actor="test", now=NOW)
        before = trial_balance(conn)
        [follow_id] = store_remittances(conn, None, [follow_up], actor="test", now=NOW).stored
        result = post_remittances(conn, [follow_id], actor="test", now=NOW)
        assert result.reversals == 1 and result.matched == 2
        states = conn.execute(select(claim_payments.c.status, claim_payments.c.state).where(
            claim_payments.c.patient_control_number == original.patient_control_number)
            .order_by(claim_payments.c.id)).all()
        assert [tuple(row) for row in states] == [("1", "reversed"), ("22", "posted"), ("1", "posted")]
        reversal = conn.execute(select(journal_entries).where(journal_entries.c.reversal_of.is_not(None))).one()
        reversed_key = conn.execute(select(journal_entries.c.idempotency_key).where(
            journal_entries.c.id == reversal.reversal_of)).scalar_one()
        first_id = conn.execute(select(func.min(claim_payments.c.id)).where(
            claim_payments.c.patient_control_number == original.patient_control_number)).scalar_one()
        assert reversed_key == f"claim-payment:{first_id}"
        after = trial_balance(conn)
        assert after.balance_of("undeposited_funds") - before.balance_of("undeposited_funds") == Decimal("5.00")
        assert after.balance_of("contractual_allowances") - before.balance_of("contractual_allowances") == Decimal(
            "-5.00")
        assert after.balanced
        claim_state = conn.execute(select(claims.c.state).where(
            claims.c.patient_control_number == original.patient_control_number)).scalar_one()
        assert claim_state == "paid"


def test_an_underpayment_against_the_contract_opens_an_underpayment_item(engine: Engine) -> None:
    network = build_network(10, seed=2)
    payer, remittance = next((p, r) for p, r in network.remittances if p.payer_id == "60054")
    claim = next(claim for claim in remittance.claims if claim.status == "1")
    line = claim.service_payments[0]
    short = Decimal("10.00")  # the payer allowed 10.00 less than its contract's 72% of charge
    cheap_line = line._replace(paid=line.paid - short, adjustments=tuple(
        adj._replace(amount=adj.amount + short) if adj.group == "CO" else adj for adj in line.adjustments),
        amounts=tuple(amount._replace(value=amount.value - short) if amount.qualifier == "B6" else amount
                      for amount in line.amounts))
    cheap = claim._replace(paid=claim.paid - short, service_payments=(cheap_line, *claim.service_payments[1:]))
    item = remittance._replace(claims=(cheap,), provider_adjustments=(), payment_amount=cheap.paid)
    with engine.begin() as conn:
        ids = _store(conn, [batch for _, _, batch in network.batches], [item])
        result = post_remittances(conn, ids, actor="test", now=NOW)
        assert result.underpayments == 1
        row = conn.execute(select(claim_payments)).one()
        assert row.variance == short
        [queue] = conn.execute(select(work_items.c.queue)).scalars()
        assert queue == "underpayments"


def test_plb_adjustments_post_to_their_accounts(engine: Engine) -> None:
    network = build_network(6, seed=9)
    _, remittance = network.remittances[0]
    plbs = (ProviderAdjustment("1234567893", date(2026, 12, 31), "L6", "", Decimal("-12.34")),
            ProviderAdjustment("1234567893", date(2026, 12, 31), "FB", "X1", Decimal("20.00")))
    item = remittance._replace(provider_adjustments=plbs,
                               payment_amount=remittance.claim_payment_total - Decimal("7.66"))
    with engine.begin() as conn:
        ids = _store(conn, [batch for _, _, batch in network.batches], [item])
        post_remittances(conn, ids, actor="test", now=NOW)
        ledger = trial_balance(conn)
        assert ledger.balance_of("interest_income") == Decimal("12.34")
        assert ledger.balance_of("provider_adjustment_clearing") == Decimal("20.00")
        assert ledger.balance_of("undeposited_funds") == item.payment_amount


def test_a_denied_claim_opens_a_denial_item_with_its_category(engine: Engine) -> None:
    network = build_network(10, seed=2)
    _, remittance = network.remittances[0]
    claim = remittance.claims[0]
    denied = claim._replace(status="4", paid=Decimal("0.00"), patient_responsibility=Decimal("0.00"),
                            service_payments=tuple(line._replace(paid=Decimal("0.00"), adjustments=(
                                Adjustment("CO", "50", line.charge),)) for line in claim.service_payments))
    item = remittance._replace(claims=(denied,), provider_adjustments=(), payment_amount=Decimal("0.00"))
    with engine.begin() as conn:
        ids = _store(conn, [batch for _, _, batch in network.batches], [item])
        post_remittances(conn, ids, actor="test", now=NOW)
        row = conn.execute(select(work_items)).one()
        assert (row.queue, row.item_type, row.details["category"], row.details["carc"]) == (
            "denials", "denial", "medical necessity", ["50"])
        assert conn.execute(select(claims.c.state).where(
            claims.c.patient_control_number == claim.patient_control_number)).scalar_one() == "denied"
        # The denied charge stays in insurance A/R for the denial specialist: no write-off was posted.
        assert trial_balance(conn).balance_of("denial_writeoffs") == Decimal("0.00")


def test_a_crossover_is_recorded_on_the_claim_for_secondary_billing(engine: Engine) -> None:
    from rcmflow.adapters.store.schema import event_log
    from rcmflow.domain.parties import Party

    network = build_network(10, seed=2)
    _, remittance = network.remittances[0]
    claim = next(claim for claim in remittance.claims if claim.status == "1")
    forwarded = claim._replace(status="19", entities=(*claim.entities, Party("TT", "MEDIGAP PLAN", id="MG01")))
    item = remittance._replace(claims=(forwarded,), provider_adjustments=(), payment_amount=forwarded.paid)
    with engine.begin() as conn:
        ids = _store(conn, [batch for _, _, batch in network.batches], [item])
        post_remittances(conn, ids, actor="test", now=NOW)
        [row] = conn.execute(select(event_log).where(event_log.c.activity == "record crossover to next payer")).all()
        assert row.object_type == "claim" and row.to_state == "paid"
        assert row.attributes["crossover_payer"] == "MG01" and row.attributes["status"] == "19"

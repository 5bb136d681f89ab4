"""837 claims are stored once each, with their lines, a "submitted" event and a charge journal entry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import claim_lines, claims, event_log, journal_entries
from rcmflow.domain.money import total
from rcmflow.services.claims import claim_digest, store_claims
from rcmflow.services.demo_data import build_network
from rcmflow.services.ledger import trial_balance

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _batches(claims_count: int = 40):
    return [batch for _, _, batch in build_network(claims_count, seed=7).batches]


def test_claims_are_stored_with_their_lines_events_and_charges(engine: Engine) -> None:
    batches = _batches()
    billed = [claim for batch in batches for claim in batch.claims]
    with engine.begin() as conn:
        result = store_claims(conn, None, batches, actor="test", now=NOW)
        assert len(result.stored) == len(billed) and result.duplicates == 0
        rows = {row.patient_control_number: row for row in conn.execute(select(claims))}
        assert set(rows) == {claim.patient_control_number for claim in billed}
        first = billed[0]
        row = rows[first.patient_control_number]
        assert (row.state, row.payer_id, row.facility_id, row.member_id) == (
            "submitted", first.payer.id, first.billing_provider.id, first.subscriber.party.id)
        assert row.total_charge == first.total_charge and row.line_count == len(first.service_lines)
        assert row.service_from == first.service_lines[0].service_date
        lines = conn.execute(select(claim_lines).where(claim_lines.c.claim_id == row.id)
                             .order_by(claim_lines.c.line_number)).all()
        assert [line.line_item_control_number for line in lines] == [
            line.line_item_control_number for line in first.service_lines]
        assert conn.execute(select(func.count()).select_from(event_log).where(
            event_log.c.object_type == "claim", event_log.c.to_state == "submitted")).scalar_one() == len(billed)
        ledger = trial_balance(conn)
        charged = total(claim.total_charge for claim in billed)
        assert ledger.balance_of("ar_insurance") == charged
        assert ledger.balance_of("patient_service_revenue") == charged
        assert ledger.balanced


def test_the_same_claims_again_store_nothing(engine: Engine) -> None:
    batches = _batches(12)
    with engine.begin() as conn:
        store_claims(conn, None, batches, actor="test", now=NOW)
    with engine.begin() as conn:
        again = store_claims(conn, None, batches, actor="test", now=NOW)
        assert again.stored == () and again.duplicates == sum(len(b.claims) for b in batches)
        assert conn.execute(select(func.count()).select_from(journal_entries)).scalar_one() == again.duplicates


def test_a_replacement_claim_is_a_new_claim_with_the_same_control_number(engine: Engine) -> None:
    batch = _batches(3)[0]
    original = batch.claims[0]
    replacement = original._replace(frequency="7", total_charge=original.total_charge + Decimal("10.00"))
    assert claim_digest(original) != claim_digest(replacement)
    with engine.begin() as conn:
        store_claims(conn, None, [batch._replace(claims=(original, replacement))], actor="test", now=NOW)
        frequencies = sorted(conn.execute(select(claims.c.frequency).where(
            claims.c.patient_control_number == original.patient_control_number)).scalars())
        assert frequencies == ["1", "7"]

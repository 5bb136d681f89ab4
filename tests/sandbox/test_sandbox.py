"""The sandbox payer at the file level: 837s from rcmflow's own writer go into an inbox, ``respond`` answers in
an outbox, and every answer is read back with rcmflow's strict parsers.

A demo network (``services.demo_data``) gives volume: its claims acknowledged on one day and paid by a later
one. Hand-made claims with every random habit switched off (``quiet``) check one behaviour at a time.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from rcmflow.domain.carc import DENIAL_GROUPS
from rcmflow.domain.claim import Claim, OtherPayer, Patient, Subscriber
from rcmflow.domain.contracts import ExpectedLine, actual_allowed, contract_variance, load_contracts
from rcmflow.domain.parties import Party, Reference
from rcmflow.domain.remittance import (
    ClaimPayment,
    QualifiedAmount,
    claim_imbalance,
    remittance_imbalance,
    service_imbalance,
)
from rcmflow.sandbox import PROFILES, respond
from rcmflow.sandbox.followups import reversal
from rcmflow.services.demo_data import build_network
from tests.sandbox.builders import (
    ACME,
    CREATED,
    DOS,
    LATER,
    MEDICAID,
    MEDICARE,
    RECEIVED,
    SEED,
    bank_deposits,
    batch,
    by_pcn,
    drop,
    everything,
    institutional,
    line,
    next_business_day,
    of_kind,
    outbox_files,
    professional,
    quiet,
    read_x12,
    remittances,
    statuses,
)

DEMO_CLAIMS = 300


def demo_inbox(inbox: Path, claims: int = DEMO_CLAIMS, network_seed: int = 5) -> dict[str, tuple[Claim, str]]:
    """The demo network's batches as 837 files, one per facility and payer; the claims by patient control number."""
    network = build_network(claims, seed=network_seed)
    submitted = {}
    for number, (_, payer, claim_batch) in enumerate(network.batches, start=1):
        drop(inbox, f"sandbox-{payer.payer_id}-{number:04d}.837", claim_batch, start=number * 10)
        submitted.update({claim.patient_control_number: (claim, payer.payer_id) for claim in claim_batch.claims})
    return submitted


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The demo network acknowledged on RECEIVED, then paid by LATER."""
    root = tmp_path_factory.mktemp("demo")
    inbox, outbox = root / "inbox", root / "outbox"
    submitted = demo_inbox(inbox)
    first = respond(inbox, outbox, seed=SEED, as_of=RECEIVED)
    acknowledged = set(outbox_files(outbox))
    second = respond(inbox, outbox, seed=SEED, as_of=LATER)
    return SimpleNamespace(inbox=inbox, outbox=outbox, submitted=submitted, first=first, second=second,
                           acknowledged=acknowledged, remittances=remittances(outbox), statuses=statuses(outbox))


def settle(inbox: Path, outbox: Path, **options: object) -> None:
    """Receive the inbox on RECEIVED, then let every payment come due."""
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, **options)  # type: ignore[arg-type]
    respond(inbox, outbox, seed=SEED, as_of=LATER, **options)  # type: ignore[arg-type]


def originals(remits: list) -> dict[str, ClaimPayment]:
    """The first adjudication of each claim (reversals and corrected payments aside)."""
    found: dict[str, ClaimPayment] = {}
    for remittance in remits:
        for claim in remittance.claims:
            if claim.status != "22" and not any(ref.qualifier == "F8" for ref in claim.references):
                assert claim.patient_control_number not in found, claim.patient_control_number
                found[claim.patient_control_number] = claim
    return found


# ---- the demo network -----------------------------------------------------------------------------

def test_every_answer_parses_strictly(demo: SimpleNamespace) -> None:
    kinds = Counter(path.suffix for path in demo.outbox.iterdir() if not path.name.startswith("."))
    files = len(list(demo.inbox.iterdir()))
    assert kinds[".999"] == kinds[".277ca"] == files
    assert kinds[".835"] > 0 and kinds[".bai"] > 0
    for suffix in (".999", ".277ca", ".835"):
        for path in of_kind(demo.outbox, suffix):
            read_x12(path)
    bank_deposits(demo.outbox)  # every BAI2 file reads without an issue
    assert demo.first.files_read == {"837": files} and demo.second.files_read == {}
    assert set(demo.first.files_written) == {"999", "277CA"}  # nothing is paid on the day of receipt
    assert set(demo.second.files_written) == {"835", "BAI2"}


def test_999s_accept_every_interchange(demo: SimpleNamespace) -> None:
    acks = [ack for path in of_kind(demo.outbox, ".999") for ack in read_x12(path).of_type("999")]
    assert len(acks) == len(list(demo.inbox.iterdir()))
    assert all(ack.status == "A" and ack.functional_id == "HC" for ack in acks)


def test_every_835_balances(demo: SimpleNamespace) -> None:
    for remittance in demo.remittances:
        assert remittance_imbalance(remittance) == 0
        assert remittance.payment_amount >= 0
        for claim in remittance.claims:
            assert claim_imbalance(claim) == 0
            assert all(service_imbalance(line) == 0 for line in claim.service_payments)


def test_277ca_answers_every_claim_exactly_once(demo: SimpleNamespace) -> None:
    answered = Counter(status.patient_control_number for status in demo.statuses)
    assert answered == Counter(list(demo.submitted))
    accepted = [status for status in demo.statuses if status.accepted]
    rejected = [status for status in demo.statuses if status.rejected]
    assert len(accepted) + len(rejected) == len(demo.submitted) and rejected
    assert all(status.payer_claim_control_number for status in accepted)
    assert not any(status.payer_claim_control_number for status in rejected)
    assert demo.first.claims_accepted == len(accepted) and demo.first.claims_rejected == len(rejected)
    codes = {f"{s.category}:{s.code}:{s.entity}" for status in rejected for entry in status.statuses
             for s in entry.statuses}
    assert codes <= {"A7:21:IL", "A3:164:IL", "A7:562:85", "A7:33:IL"}


def test_rejected_claims_are_never_paid_and_accepted_ones_once(demo: SimpleNamespace) -> None:
    paid = by_pcn(demo.remittances)
    first = originals(demo.remittances)
    for status in demo.statuses:
        if status.rejected:
            assert status.patient_control_number not in paid
        else:
            claim = first[status.patient_control_number]
            assert claim.payer_claim_control_number == status.payer_claim_control_number
    assert set(first) == {status.patient_control_number for status in demo.statuses if status.accepted}
    assert demo.second.claims_paid + demo.second.claims_denied == len(first)


def test_835_echoes_the_claim_and_line_identifiers(demo: SimpleNamespace) -> None:
    for pcn, payment in originals(demo.remittances).items():
        claim, payer_id = demo.submitted[pcn]
        assert payment.charge == claim.total_charge
        assert [line.line_item_control_number for line in payment.service_payments] == [
            line.line_item_control_number for line in claim.service_lines]
        assert [line.charge for line in payment.service_payments] == [line.charge for line in claim.service_lines]
        assert payment.payer_claim_control_number.startswith(payer_id)
    for remittance in demo.remittances:
        assert remittance.payer is not None and remittance.payee is not None
        assert {demo.submitted[claim.patient_control_number][1] for claim in remittance.claims} == {
            remittance.payer.id}


def test_adjustments_carry_the_expected_groups(demo: SimpleNamespace) -> None:
    """Denials are CO/OA/PI with denial CARCs; paid lines carry CO-45 for the contractual difference, PR for
    deductible, coinsurance, copay or non-covered, and Medicare's CO-253 sequestration."""
    denial_reasons = {"16", "18", "27", "29", "50", "97", "197", "B7", "96"}
    statuses_seen: Counter[str] = Counter()
    medicare_sequestration = 0
    for payment in originals(demo.remittances).values():
        statuses_seen[payment.status] += 1
        _, payer_id = demo.submitted[payment.patient_control_number]
        for service in payment.service_payments:
            allowed = service.amount("B6")
            for adjustment in service.adjustments:
                assert adjustment.amount > 0
                if adjustment.group == "PR":
                    assert adjustment.reason in {"1", "2", "3", "204"}
                elif adjustment.reason == "45":
                    assert allowed is not None and adjustment.amount == service.charge - allowed
                elif adjustment.reason == "253":
                    medicare_sequestration += 1
                    assert payer_id == "04412"
                else:
                    assert adjustment.group in DENIAL_GROUPS and adjustment.reason in denial_reasons
        if payment.status == "4":
            assert payment.paid == 0
            denials = [adj for service in payment.service_payments for adj in service.adjustments]
            assert denials and all(adj.group in DENIAL_GROUPS | {"PR"} for adj in denials)
    assert statuses_seen["1"] and statuses_seen["4"] and medicare_sequestration


def test_paid_claims_meet_their_contract_but_for_deliberate_underpayments(demo: SimpleNamespace) -> None:
    contracts = load_contracts()
    checked = variances = 0
    for payment in originals(demo.remittances).values():
        if payment.status != "1" or any(adj.reason in {"97", "197", "204", "96"} for line in payment.service_payments
                                        for adj in line.adjustments):
            continue
        claim, payer_id = demo.submitted[payment.patient_control_number]
        contractual = sum((adj.amount for line in payment.service_payments for adj in line.adjustments
                           if adj.group == "CO" and adj.reason != "253"), Decimal(0))
        lines = [ExpectedLine(line.procedure.code, line.procedure.modifiers, line.revenue_code or None, line.charge,
                              line.units_paid) for line in payment.service_payments]
        variance = contract_variance(contracts, payer_id=payer_id, claim_type=claim.claim_type,
                                     service_date=claim.service_lines[0].service_date, lines=lines,
                                     actual_allowed=actual_allowed(payment.charge, contractual))
        checked += 1
        if variance is not None:
            variances += 1
            assert variance.is_underpayment()
    assert checked > DEMO_CLAIMS // 2
    assert 0 < variances < checked * 0.1


def test_bank_deposits_add_up_to_each_eft(demo: SimpleNamespace) -> None:
    deposits = bank_deposits(demo.outbox)
    by_trace: dict[str, list] = {}
    for day, deposit in deposits:
        assert deposit.value_date == day and deposit.is_credit
        by_trace.setdefault(deposit.trace_number, []).append(deposit)
    eft = [remittance for remittance in demo.remittances if remittance.payment_method == "ACH"]
    assert eft and {remittance.trace_number for remittance in eft} == set(by_trace)
    for remittance in eft:
        credits = by_trace[remittance.trace_number]
        assert sum((deposit.amount for deposit in credits), Decimal(0)) == remittance.payment_amount > 0
        assert remittance.payment_date is not None
        for deposit in credits:
            assert deposit.value_date in (remittance.payment_date, next_business_day(remittance.payment_date))
            assert deposit.originator_id == remittance.originator_id == f"1{remittance.payer.id:0>9}"
    others = [remittance for remittance in demo.remittances if remittance.payment_method != "ACH"]
    assert all(remittance.trace_number not in by_trace for remittance in others)
    assert demo.second.total_deposited == sum((deposit.amount for _, deposit in deposits), Decimal(0))
    assert demo.second.total_paid == sum((remittance.payment_amount for remittance in demo.remittances), Decimal(0))
    traces = [remittance.trace_number for remittance in demo.remittances]
    assert len(traces) == len(set(traces))


def test_a_second_run_answers_nothing_twice(demo: SimpleNamespace) -> None:
    before = everything(demo.outbox)
    again = respond(demo.inbox, demo.outbox, seed=SEED, as_of=LATER)
    assert everything(demo.outbox) == before
    assert not again.files_read and not again.files_written and not again.written
    assert (again.claims_accepted, again.claims_paid, again.total_paid) == (0, 0, 0)


# ---- determinism ----------------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_outcomes(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    demo_inbox(inbox, claims=80)
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        respond(inbox, tmp_path / name, seed=seed, as_of=RECEIVED)
        respond(inbox, tmp_path / name, seed=seed, as_of=LATER)
        runs[name] = outbox_files(tmp_path / name)
    assert runs["a"] == runs["b"]
    outcome = {name: {pcn: (claim.status, claim.paid) for pcn, claim in originals(remittances(tmp_path / name)).items()}
               for name in ("a", "c")}
    assert outcome["a"] != outcome["c"]


def test_a_claims_fate_does_not_depend_on_the_files_around_it(tmp_path: Path) -> None:
    network = build_network(60, seed=9)
    batches = [claim_batch for _, _, claim_batch in network.batches]
    together, apart = tmp_path / "together", tmp_path / "apart"
    for number, claim_batch in enumerate(batches):
        drop(together / "inbox", f"f{number:03d}.837", claim_batch)
        for index, claim in enumerate(reversed(claim_batch.claims)):  # one claim a file, in reverse order
            drop(apart / "inbox", f"z{number:03d}-{index:03d}.837", claim_batch._replace(claims=(claim,)))
    for root in (together, apart):
        settle(root / "inbox", root / "outbox")
    assert originals(remittances(together / "outbox")) == originals(remittances(apart / "outbox"))
    assert {status.patient_control_number: status.statuses for status in statuses(together / "outbox")} == {
        status.patient_control_number: status.statuses for status in statuses(apart / "outbox")}


def test_running_week_by_week_ends_with_the_outbox_of_one_run(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    demo_inbox(inbox, claims=120)
    respond(inbox, tmp_path / "once", seed=SEED, as_of=RECEIVED)
    respond(inbox, tmp_path / "once", seed=SEED, as_of=LATER)
    day = RECEIVED
    while day < LATER:
        run = respond(inbox, tmp_path / "weekly", seed=SEED, as_of=day)
        for remittance in remittances(tmp_path / "weekly", run.written):
            assert remittance.payment_date is not None and remittance.payment_date <= day  # as_of gates payments
        day += timedelta(days=7)
    respond(inbox, tmp_path / "weekly", seed=SEED, as_of=LATER)
    assert outbox_files(tmp_path / "weekly") == outbox_files(tmp_path / "once")


# ---- one behaviour at a time ----------------------------------------------------------------------

def test_as_of_holds_back_payments_until_their_day(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    drop(inbox, "claims.837", batch(professional("PCN1"), professional("PCN2")))
    profiles = quiet()
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=profiles)
    assert not of_kind(outbox, ".835")
    (pay_day,) = {status.statuses[0].effective_date for status in statuses(outbox)}
    assert pay_day == RECEIVED
    lag = PROFILES["60054"].lag_days
    early = respond(inbox, outbox, seed=SEED, as_of=RECEIVED + timedelta(days=lag[0] - 1), profiles=profiles)
    assert not early.written
    today = RECEIVED + timedelta(days=lag[1] + 7)
    late = respond(inbox, outbox, seed=SEED, as_of=today, profiles=profiles)
    assert late.claims_paid == 2 and set(late.files_written) == {"835", "BAI2"}
    for remittance in remittances(outbox):  # each claim has its own lag; ACME pays on Tuesdays and Fridays
        assert remittance.payment_date is not None and remittance.payment_date.weekday() in (1, 4)
        assert RECEIVED + timedelta(days=lag[0]) <= remittance.payment_date <= today


def test_reversal_and_corrected_payment_follow_an_earlier_payment(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    drop(inbox, "claims.837", batch(*[professional(f"PCN{n}") for n in range(1, 7)]))
    profiles = quiet({"60054": {"reversal_rate": 1.0}})
    written_by_call: dict[str, int] = {}
    day, call = RECEIVED, 0
    while day <= LATER:
        call += 1
        for name in respond(inbox, outbox, seed=SEED, as_of=day, profiles=profiles).written:
            written_by_call[name] = call
        day += timedelta(days=7)
    paid_in: dict[str, int] = {}
    reversed_claims = 0
    for path in of_kind(outbox, ".835"):
        for remittance in read_x12(path).of_type("835"):
            claims = list(remittance.claims)
            for claim in claims:
                if claim.status == "1" and not claim.references:
                    paid_in[claim.payer_claim_control_number] = written_by_call[path.name]
            for earlier, later in zip(claims, claims[1:], strict=False):
                if earlier.status != "22":
                    continue
                reversed_claims += 1
                number = earlier.payer_claim_control_number
                assert paid_in[number] < written_by_call[path.name]  # paid in an earlier run
                original = next(claim for other in remittances(outbox) for claim in other.claims
                                if claim.payer_claim_control_number == number and claim.status == "1")
                assert earlier == reversal(original)
                assert later.patient_control_number == original.patient_control_number
                assert later.references == (Reference("F8", number),)
                assert later.payer_claim_control_number == number[:-2] + "01"
                assert later.paid != original.paid and claim_imbalance(later) == 0
    assert reversed_claims == 6


def test_front_end_rejections(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    bad_npi = professional("NPI1", billing_provider=professional("X").billing_provider._replace(id="1234567890"))
    unbalanced = professional("SUM1", total_charge=Decimal("999.00"))
    future = professional("FUT1", line(1, "99213", "150.00", day=RECEIVED + timedelta(days=3)))
    drop(inbox, "claims.837", batch(bad_npi, unbalanced, future, professional("OK1")))
    settle(inbox, outbox, profiles=quiet({"60054": {"unknown_member_rate": 1.0}}))
    found = {status.patient_control_number: status for status in statuses(outbox)}
    codes = {pcn: [":".join(part for part in s if part) for s in status.statuses[0].statuses]
             for pcn, status in found.items()}
    assert codes == {"NPI1": ["A7:562:85"], "SUM1": ["A7:400"], "FUT1": ["A7:187"], "OK1": ["A7:33:IL"]}
    assert all(status.statuses[0].action == "U" and status.statuses[0].message for status in found.values())
    assert not of_kind(outbox, ".835")


def test_a_claim_resent_after_a_random_rejection_is_taken(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    profiles = quiet({"60054": {"rejection_rate": 1.0}})
    drop(inbox, "first.837", batch(professional("PCN1")))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=profiles)
    (rejected,) = statuses(outbox)
    assert rejected.rejected and rejected.statuses[0].statuses[0].category in {"A3", "A7"}
    drop(inbox, "second.837", batch(professional("PCN1")), start=50)
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED + timedelta(days=1), profiles=profiles)
    second = [status for status in statuses(outbox) if status.accepted]
    assert len(second) == 1 and second[0].payer_claim_control_number
    respond(inbox, outbox, seed=SEED, as_of=LATER, profiles=profiles)
    (payment,) = [claim for remittance in remittances(outbox) for claim in remittance.claims]
    assert payment.status == "1" and payment.payer_claim_control_number == second[0].payer_claim_control_number


def test_duplicates_replacements_and_voids(tmp_path: Path) -> None:
    """A claim sent again as an original is an exact duplicate (CO-18); a replacement (7) or void (8) naming
    the payer's claim number takes the earlier payment back (CLP02 22) and, for a replacement, pays anew."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    profiles = quiet()
    drop(inbox, "a.837", batch(professional("PCN1"), professional("PCN2")))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=profiles)
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED + timedelta(days=30), profiles=profiles)
    first = {claim.patient_control_number: claim for remittance in remittances(outbox) for claim in remittance.claims}
    replacement = professional("PCN1", line(1, "99214", "200.00"), frequency="7",
                               references=(Reference("F8", first["PCN1"].payer_claim_control_number),))
    void = professional("PCN2", frequency="8", references=(Reference("F8", first["PCN2"].payer_claim_control_number),))
    drop(inbox, "b.837", batch(replacement, void, professional("PCN1")), start=40)
    before = set(outbox_files(outbox))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED + timedelta(days=31), profiles=profiles)
    respond(inbox, outbox, seed=SEED, as_of=LATER, profiles=profiles)
    later = remittances(outbox, set(outbox_files(outbox)) - before)
    claims = [claim for remittance in later for claim in remittance.claims]
    assert [(claim.patient_control_number, claim.status) for claim in claims] == [
        ("PCN1", "22"), ("PCN1", "1"), ("PCN2", "22"), ("PCN1", "4")]
    assert claims[0] == reversal(first["PCN1"]) and claims[2] == reversal(first["PCN2"])
    assert claims[1].charge == Decimal("200.00") and claims[1].frequency == "7"
    assert [(adj.group, adj.reason) for adj in claims[3].service_payments[0].adjustments] == [("CO", "18")]


def test_payer_rules_on_hand_made_claims(tmp_path: Path) -> None:
    """Timely filing, prior authorisation, copay, sequestration, coordination of benefits and crossover."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    old = professional("OLD1", line(1, "99213", "150.00", day=RECEIVED - timedelta(days=120)))
    mri = professional("MRI1", line(1, "99213", "150.00"), line(2, "72148", "900.00"))
    authorised = mri._replace(patient_control_number="MRI2", references=(Reference("G1", "AUTH77"),))
    primary_paid = OtherPayer(Subscriber("P", "18", filing_indicator="CI", party=Party(
        "IL", "DOE", "JANE", entity_type="1", id_qualifier="MI", id="M100200")), ACME,
        amounts=(QualifiedAmount("D", Decimal("80.00")),), benefits_assignment="Y", release_of_information="Y")
    secondary = professional("SEC1", payer=MEDICAID, other_payers=(primary_paid,),
                             subscriber=professional("X").subscriber._replace(payer_responsibility="S"))
    medigap = OtherPayer(Subscriber("S", "18", filing_indicator="MC", party=Party(
        "IL", "DOE", "JANE", entity_type="1", id_qualifier="MI", id="MCD1")), MEDICAID, benefits_assignment="Y",
        release_of_information="Y")
    crossover = professional("MCR1", payer=MEDICARE, other_payers=(medigap,))
    child = professional("DEP1", patient=Patient("19", Party("QC", "DOE", "TOM", entity_type="1",
                                                             birth_date=date(2015, 3, 4), gender="M")))
    drop(inbox, "claims.837", batch(old, mri, authorised, child), batch(secondary, reference="B2"),
         batch(crossover, reference="B3"))
    settle(inbox, outbox, profiles=quiet())
    paid = originals(remittances(outbox))

    assert paid["OLD1"].status == "4"  # ACME files within 90 days
    assert [(a.group, a.reason) for a in paid["OLD1"].service_payments[0].adjustments] == [("CO", "29")]

    office, scan = paid["MRI1"].service_payments
    assert [(a.group, a.reason, a.amount) for a in office.adjustments] == [
        ("CO", "45", Decimal("42.00")), ("PR", "3", Decimal("25.00"))]  # 72 % allowed, ACME's office copay
    assert office.paid == Decimal("83.00") and paid["MRI1"].status == "1"
    assert [(a.group, a.reason) for a in scan.adjustments] == [("CO", "197")] and scan.paid == 0
    assert [remark.code for remark in scan.remarks] == ["M62"]
    assert paid["MRI2"].service_payments[1].paid > 0  # authorised
    assert [(party.role, party.first_name, party.id) for party in paid["DEP1"].entities] == [
        ("QC", "TOM", "M100200"), ("IL", "JANE", "M100200")]  # the patient, then the insured

    sec = paid["SEC1"]
    assert sec.status == "2"
    prior = [a for line in sec.service_payments for a in line.adjustments if (a.group, a.reason) == ("OA", "23")]
    assert sum((a.amount for a in prior), Decimal(0)) == Decimal("80.00")
    assert sec.paid == Decimal("81.60") - Decimal("80.00")  # 48 % of 170.00, less what ACME paid

    mcr = paid["MCR1"]
    assert mcr.status == "19" and mcr.entity("TT") == Party("TT", "SUNRISE MEDICAID", entity_type="2",
                                                             id_qualifier="PI", id="77001")
    assert [remark.code for remark in mcr.remarks] == ["MA01", "MA18"]
    office = mcr.service_payments[0]
    assert [(a.group, a.reason, a.amount) for a in office.adjustments] == [
        ("CO", "45", Decimal("67.50")), ("CO", "253", Decimal("1.32")), ("PR", "2", Decimal("16.50"))]
    assert office.paid == Decimal("64.68")  # 55 % of 150.00 = 82.50; 20 % coinsurance; 2 % sequestration


def test_prompt_pay_interest_and_overpayment_recovery(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    profiles = quiet({"60054": {"review_rate": 1.0, "review_days": (40, 40), "recoupment_rate": 1.0}})
    drop(inbox, "a.837", batch(professional("PCN1"), professional("PCN2")))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=profiles)
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED + timedelta(days=70), profiles=profiles)
    (late,) = remittances(outbox)
    interest = [plb for plb in late.provider_adjustments if plb.reason == "L6"]
    assert {plb.reference for plb in interest} == {claim.payer_claim_control_number for claim in late.claims}
    assert all(plb.amount < 0 for plb in interest)
    assert late.payment_amount == late.claim_payment_total - late.provider_adjustment_total
    # The recoveries wait for a payment to take them from: the next claims' payment, weeks later.
    drop(inbox, "b.837", batch(institutional("PCN3", day=RECEIVED + timedelta(days=95)), reference="B2"), start=40)
    before = set(outbox_files(outbox))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED + timedelta(days=100), profiles=profiles)
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED + timedelta(days=200), profiles=profiles)
    (following,) = remittances(outbox, set(outbox_files(outbox)) - before)
    recovered = [plb for plb in following.provider_adjustments if plb.reason == "WO"]
    assert {plb.reference for plb in recovered} == {claim.payer_claim_control_number for claim in late.claims}
    for plb in recovered:
        claim = next(claim for claim in late.claims if claim.payer_claim_control_number == plb.reference)
        assert 0 < plb.amount <= claim.paid
    assert remittance_imbalance(following) == 0


def test_unknown_payers_get_the_default_profile(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    other = Party("PR", "NORTHWIND HEALTH", entity_type="2", id_qualifier="PI", id="99123")
    drop(inbox, "claims.837", batch(professional("PCN1", payer=other)))
    settle(inbox, outbox, profiles=quiet())
    (remittance,) = remittances(outbox)
    assert remittance.payer is not None and (remittance.payer.name, remittance.payer.id) == ("NORTHWIND HEALTH",
                                                                                            "99123")
    (claim,) = remittance.claims
    assert [line.amount("B6") for line in claim.service_payments] == [Decimal("90.00"), Decimal("12.00")]  # 60 %


# ---- what the sandbox will not answer --------------------------------------------------------------

def test_files_that_do_not_parse_cleanly_get_only_the_999_of_their_errors(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    path = drop(inbox, "broken.837", batch(professional("PCN1")))
    path.write_text(path.read_text().replace("CLM*PCN1*170*", "CLM*PCN1*1X0*"))
    (inbox / "notes.txt").write_text("not an interchange")
    (inbox / ".partial-upload").write_text("ISA*")
    run = respond(inbox, outbox, seed=SEED, as_of=LATER, profiles=quiet())
    assert run.files_read == {"rejected": 1, "unreadable": 1}
    assert sorted(outbox_files(outbox)) == ["broken.837.999"]
    (ack,) = read_x12(outbox / "broken.837.999").of_type("999")
    assert ack.rejected and ack.transactions[0].segment_errors[0].segment_id == "CLM"


def test_x12_the_payer_does_not_answer_is_left_alone(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    drop(inbox, "claims.837", batch(professional("PCN1")))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=quiet())
    (inbox / "ack.999").write_bytes((outbox / "claims.837.999").read_bytes())
    run = respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=quiet())
    assert run.files_read == {"ignored": 1} and not run.written


# ---- state ----------------------------------------------------------------------------------------

class Kill:
    """Stands in for a function and raises on its ``at``-th call, as killing the process there would."""

    def __init__(self, real: Callable[..., None], at: int) -> None:
        self.real, self.at, self.calls = real, at, 0

    def __call__(self, *args: object) -> None:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt("killed")
        self.real(*args)


@pytest.mark.parametrize(("function", "at"), [("write_atomically", 1), ("write_atomically", 6), ("save_state", 1),
                                              ("save_state", 2)])
def test_a_run_killed_midway_is_finished_by_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str,
                                                     at: int) -> None:
    """Killed before its journal is saved, while writing files, or before clearing the journal: the next run
    ends with the outbox (state file included) of a run never interrupted."""
    inbox = tmp_path / "inbox"
    demo_inbox(inbox, claims=60)
    respond(inbox, tmp_path / "clean", seed=SEED, as_of=LATER)
    module = importlib.import_module("rcmflow.sandbox.respond")  # the package's ``respond`` is the function
    outbox = tmp_path / "killed"
    with monkeypatch.context() as patch:
        patch.setattr(module, function, Kill(getattr(module, function), at))
        with pytest.raises(KeyboardInterrupt):
            respond(inbox, outbox, seed=SEED, as_of=LATER)
    (outbox / ".sandbox-tmp-leftover.835").write_text("half a file")  # what a kill during a write leaves
    rerun = respond(inbox, outbox, seed=SEED, as_of=LATER)
    assert everything(outbox) == everything(tmp_path / "clean")
    assert (rerun.recovered > 0) == (function == "write_atomically" or at == 2)


def test_the_state_keeps_its_seed_and_a_replayed_day_changes_nothing(tmp_path: Path) -> None:
    """A run again with an earlier "today" (a resumed simulation replaying its days) writes nothing twice, and
    receives a file on the day its sender made it, as the run on that day would have."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    drop(inbox, "claims.837", batch(professional("PCN1")))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=quiet())
    with pytest.raises(ValueError, match="seed"):
        respond(inbox, outbox, seed=SEED + 1, as_of=RECEIVED)
    respond(inbox, outbox, seed=SEED, as_of=LATER, profiles=quiet())
    before = everything(outbox)
    replayed = respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=quiet())
    assert not replayed.written and everything(outbox) == before
    (inbox / "late.837").write_text((inbox / "claims.837").read_text().replace("*261102*", "*270105*")
                                    .replace("*20261102*", "*20270105*").replace("PCN1", "PCN2"))
    respond(inbox, outbox, seed=SEED, as_of=RECEIVED, profiles=quiet())
    (late,) = [status for status in statuses(outbox) if status.patient_control_number == "PCN2"]
    assert late.statuses[0].effective_date == date(2027, 1, 5)


def test_without_as_of_files_are_received_on_their_own_date(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    drop(inbox, "claims.837", batch(professional("PCN1")))
    respond(inbox, outbox, seed=SEED, profiles=quiet())
    (status,) = statuses(outbox)
    assert status.statuses[0].effective_date == CREATED.date()
    (remittance,) = remittances(outbox)  # everything is written at once
    assert remittance.claims[0].dates[0].value == CREATED.date() and DOS < CREATED.date()

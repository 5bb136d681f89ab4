"""Benchmark: a million service lines from 835 files to a posted, journaled, reconciled ledger.

    python bench/posting.py [--lines 1000000] [--per-file 2500] [--database sqlite|postgresql|both] [--no-anchor]

Set-up (not timed, its own process): the open claims for ``--lines`` service lines (4 per claim) are stored
in bulk through ``services.claims.store_claims`` (with their charge entries), and their 835 remittances are
written as files of ``--per-file`` claims each, with the bank's BAI2 file of the deposits. About 5% of claims
are denied (CO-50), 1 in 1,000 payments is for a claim never billed (unapplied cash), 1 in 500 is priced
below contract (an underpayment).

Timed (a fresh process, so peak memory is the path's own), as ``rcmflow ingest`` runs it: every file
through the document store, the X12 parser (the next file's in a worker process while this one is stored and
posted) and ERA storage, then its payments' matching, contract variance, posting rules, journal entries,
state moves and work items (in the same transaction, from what was just read), then unapplied cash retried
and deposits reassociated and reconciled.
Prints service lines per second for each stage and in total, the peak memory, and a machine check timed in the
same run (``machine_check``: how fast this VM is against the one of the run the README quotes). The anchor, the
LinuxForHealth X12 parser (../shared/anchors/lfh_x12_parse.sh), parses one of the same files in the same
run: rcmflow's parse of that file is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/machine_check.py beside this file
import machine_check  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ANCHOR = REPO.parent / "shared" / "anchors" / "lfh_x12_parse.sh"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAYER, PAYER_NAME, ORIGINATOR = "60054", "ACME HEALTH PLAN", "1000060054"
NPI = "1234567893"
LINES_PER_CLAIM = 4
CODES = (("99213", 11000), ("99214", 16500), ("85025", 2800), ("36415", 1200), ("93000", 5500), ("80053", 4500),
         ("99203", 15000), ("71046", 9500))
SERVICE_DAY = date(2026, 10, 1)


def service_day(number: int) -> date:
    """Claims spread over a month of visits, as a practice's are."""
    return SERVICE_DAY + timedelta(days=number % 30)
PAID_ON = date(2026, 11, 16)


def money(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def percent(cents: int, rate: int) -> int:
    """``cents`` x ``rate``% rounded half up to the cent, as contracts price a line."""
    return int((Decimal(cents) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def claim_lines(number: int) -> list[tuple[str, int, str]]:
    """(code, charge in cents, line item control number) of claim ``number``: deterministic, no RNG state."""
    return [(CODES[(number * 7 + i * 3) % len(CODES)][0], CODES[(number * 7 + i * 3) % len(CODES)][1],
             f"L{number:09d}-{i + 1}") for i in range(LINES_PER_CLAIM)]


# ---- set-up ----------------------------------------------------------------------------------------------

def store_open_claims(url: str, claims: int) -> float:
    """The open claims, stored 20,000 at a time through the product's own bulk store."""
    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema
    from rcmflow.domain.claim import Claim, ClaimBatch, ServiceLine, Subscriber
    from rcmflow.domain.parties import Party
    from rcmflow.domain.remittance import Procedure, QualifiedDate
    from rcmflow.services.claims import store_claims

    engine = create_engine_for(url)
    ensure_schema(engine)
    billing = Party("85", "BENCH CLINIC", entity_type="2", id_qualifier="XX", id=NPI)
    payer = Party("PR", PAYER_NAME, entity_type="2", id_qualifier="PI", id=PAYER)
    started = time.perf_counter()
    for first in range(0, claims, 20_000):
        batch = []
        for number in range(first, min(claims, first + 20_000)):
            day = (QualifiedDate("472", service_day(number)),)
            lines = tuple(ServiceLine(i + 1, Decimal(charge) / 100, Procedure("HC", code), unit_basis="UN",
                                      units=Decimal(1), dates=day, line_item_control_number=licn)
                          for i, (code, charge, licn) in enumerate(claim_lines(number)))
            insured = Party("IL", f"DOE{number % 997}", "JANE", entity_type="1", id_qualifier="MI", id=f"M{number:09d}")
            batch.append(Claim("P", f"PCN{number:09d}", sum(line.charge for line in lines), facility_code="11",
                               facility_qualifier="B", frequency="1", billing_provider=billing,
                               subscriber=Subscriber("P", "18", party=insured), payer=payer, service_lines=lines))
        with engine.begin() as conn:
            store_claims(conn, None, [ClaimBatch("0001", "P", "005010X222A1", "00", "BENCH", SERVICE_DAY, "1200",
                                                 "CH", Party("41", "BENCH"), Party("40", PAYER_NAME), tuple(batch))],
                         actor="bench", now=datetime.now(UTC))
    engine.dispose()
    return time.perf_counter() - started


def remittance_text(file_number: int, first: int, count: int) -> tuple[str, int]:
    """One 835 interchange paying claims first..first+count; returns the text and the payment in cents."""
    body: list[str] = []
    total = 0
    for number in range(first, first + count):
        denied = number % 20 == 7
        unbilled = number % 1000 == 500
        rate = 62 if number % 500 == 250 else 72  # the odd claim priced below its 72% contract
        pcn = f"UNBILLED{number:09d}" if unbilled else f"PCN{number:09d}"
        lines: list[str] = []
        charge_total = paid_total = patient_total = 0
        for code, charge, licn in claim_lines(number):
            charge_total += charge
            lines += [f"SVC*HC:{code}*{money(charge)}*{{paid}}**1", f"DTM*472*{service_day(number):%Y%m%d}"]
            if denied:
                lines[-2] = lines[-2].format(paid="0.00")
                lines += [f"CAS*CO*50*{money(charge)}", f"REF*6R*{licn}", "LQ*HE*N115"]
                continue
            allowed = percent(charge, rate)
            patient = percent(allowed, 20) if number % 3 == 0 else 0
            paid = allowed - patient
            paid_total, patient_total = paid_total + paid, patient_total + patient
            lines[-2] = lines[-2].format(paid=money(paid))
            lines.append(f"CAS*CO*45*{money(charge - allowed)}")
            if patient:
                lines.append(f"CAS*PR*2*{money(patient)}")
            lines += [f"REF*6R*{licn}", f"AMT*B6*{money(allowed)}"]
        status = "4" if denied else "1"
        body += [f"CLP*{pcn}*{status}*{money(charge_total)}*{money(paid_total)}*{money(patient_total)}*12"
                 f"*{PAYER}{number:011d}", f"NM1*QC*1*DOE{number % 997}*JANE****MI*M{number:09d}", *lines]
        total += paid_total
    st = [f"ST*835*{file_number:04d}",
          f"BPR*I*{money(total)}*C*ACH*CCP*01*011000015*DA*123456789*{ORIGINATOR}**01*021000021*DA*987654321"
          f"*{PAID_ON:%Y%m%d}", f"TRN*1*EFT{file_number:07d}*{ORIGINATOR}", "DTM*405*20261115",
          f"N1*PR*{PAYER_NAME}*XV*{PAYER}", "N3*PO BOX 1000", "N4*DENVER*CO*80201",
          f"N1*PE*BENCH CLINIC*XX*{NPI}", "LX*1", *body]
    st.append(f"SE*{len(st) + 1}*{file_number:04d}")
    segments = [f"ISA*00*          *00*          *ZZ*{PAYER:<15}*ZZ*BENCHCLINIC    *261116*0930*^*00501"
                f"*{file_number:09d}*0*P*:", f"GS*HP*{PAYER}*BENCHCLINIC*20261116*0930*{file_number}*X*005010X221A1",
                *st, f"GE*1*{file_number}", f"IEA*1*{file_number:09d}"]
    return "~\n".join(segments) + "~\n", total


def write_files(out: Path, claims: int, per_file: int) -> None:
    from rcmflow.domain.deposit import CREDIT, Deposit
    from rcmflow.formats.bai2_write import AccountActivity, BankGroup, write_bai2

    out.mkdir(parents=True, exist_ok=True)
    deposits = []
    for file_number, first in enumerate(range(0, claims, per_file), start=1):
        text, total = remittance_text(file_number, first, min(per_file, claims - first))
        (out / f"era-{file_number:05d}.835").write_text(text)
        deposits.append(Deposit("9812345678", Decimal(total) / 100, date(2026, 11, 17), CREDIT, "165",
                                f"ACH{file_number:07d}", "", trace_number=f"EFT{file_number:07d}",
                                originator_id=ORIGINATOR, bank="021000021"))
    (out / "bank.bai").write_bytes(write_bai2("021000021", "BENCHCLINIC", "BENCH1", datetime(2026, 11, 18, 6, 0), [
        BankGroup("021000021", date(2026, 11, 17), (AccountActivity("9812345678", tuple(deposits)),))]))


def setup(url: str, out: Path, lines: int, per_file: int) -> None:
    claims = lines // LINES_PER_CLAIM
    seconds = store_open_claims(url, claims)
    write_files(out, claims, per_file)
    print(json.dumps({"claims": claims, "store_claims_seconds": round(seconds, 2)}))


# ---- the timed path --------------------------------------------------------------------------------------

def timed_path(url: str, folder: Path) -> None:
    """What ``rcmflow ingest`` does with the folder: each file stored, read, and its remittances stored and
    posted in one transaction, then unapplied cash retried and deposits reconciled; prints one JSON line of
    stage seconds."""
    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema
    from rcmflow.services.posting import PostingResult, apply_unapplied
    from rcmflow.services.processing import ingest_and_post_files
    from rcmflow.services.reconciliation import reconcile

    engine = create_engine_for(url)
    ensure_schema(engine)
    posting = PostingResult()
    lines = 0
    files = [*sorted(folder.glob("*.835")), folder / "bank.bai"]
    started = time.perf_counter()
    for path, result in ingest_and_post_files(engine, files, channel="bench", actor="bench"):
        if result.status != "parsed":  # the generator must write valid files
            raise SystemExit(f"{path.name}: {result.status} {result.summary.get('errors', [])[:3]}")
        if result.posting is not None:
            posting.add(result.posting)
        lines += sum(item.get("service_lines", 0) for item in result.summary.get("transactions", ()))
    ingest = time.perf_counter() - started
    # What posting's own stages do not account for: document store, parsing and digests, the remittance rows and
    # events, PLB rows, the bank file, commits.
    stages = {"store and read": ingest - sum(posting.timings.values())}
    with engine.begin() as conn:
        posting.add(apply_unapplied(conn, actor="bench", now=datetime.now(UTC)))
    for stage, seconds in posting.timings.items():
        stages[f"post: {stage}"] = seconds
    started = time.perf_counter()
    with engine.begin() as conn:
        recon = reconcile(conn, actor="bench", now=datetime.now(UTC))
    stages["reconcile"] = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the read-ahead process, ended by now
    print(json.dumps({"lines": lines, "stages": stages, "peak_mb": round(peak), "worker_peak_mb": round(worker),
                      "posted": posting.matched,
                      "unapplied": posting.unapplied, "denied": posting.denied,
                      "underpayments": posting.underpayments, "entries": posting.entries,
                      "deposits_reconciled": recon.deposits_reconciled}))


def parse_only(path: Path) -> None:
    from rcmflow.formats.x12.parser import parse

    started = time.perf_counter()
    parse(path.read_bytes())
    print(json.dumps({"seconds": time.perf_counter() - started}))


# ---- driver ----------------------------------------------------------------------------------------------

def child(*args: str) -> dict:
    run = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def database(kind: str, tmp: Path) -> tuple[str, callable]:
    """A fresh database URL and its clean-up."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    from sqlalchemy import create_engine, text

    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", drop


def run(kind: str, lines: int, per_file: int, goal: float) -> None:
    probes = machine_check.measure()  # before the set-up, so that the machine is idle
    tmp = Path(tempfile.mkdtemp(prefix="rcmflow-bench-"))
    url, drop = database(kind, tmp)
    try:
        print(f"\n{kind}: setting up {lines:,} service lines of open claims and their 835 and BAI2 files...",
              flush=True)
        made = child("--setup", url, str(tmp / "files"), str(lines), str(per_file))
        print(f"  set-up: {made['claims']:,} claims stored with their lines and charge entries in "
              f"{made['store_claims_seconds']:.1f} s (not timed below)", flush=True)
        result = child("--timed", url, str(tmp / "files"))
    finally:
        drop()
        shutil.rmtree(tmp, ignore_errors=True)
    stages, total_lines = result["stages"], result["lines"]
    total = sum(stages.values())
    print(f"  {'stage':<18}{'seconds':>9}{'lines/s':>14}")
    for stage, seconds in stages.items():
        print(f"  {stage:<18}{seconds:9.2f}{total_lines / seconds if seconds else 0:14,.0f}")
    verdict = (f"goal {goal:.0f} s: {'met' if total <= goal else 'NOT met'}" if total_lines == 1_000_000
               else f"the goal, {goal:.0f} s, is for 1,000,000")
    print(f"  {'total':<18}{total:9.2f}{total_lines / total:14,.0f}   ({total_lines:,} service lines; {verdict})")
    print(f"  peak memory {result['peak_mb']} MB (read-ahead worker {result['worker_peak_mb']} MB); "
          f"posted {result['posted']:,} claim payments ({result['denied']:,} denied, "
          f"{result['underpayments']:,} underpaid, {result['unapplied']:,} unapplied), "
          f"{result['entries']:,} journal entries, {result['deposits_reconciled']:,} deposits reconciled")
    print(f"  {machine_check.describe(probes)}")
    relative = machine_check.speed(probes)
    if relative is not None:
        print(f"  at the speed of the README's run, the total would be about {total * relative:.1f} s")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--setup":
        setup(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--timed":
        timed_path(sys.argv[2], Path(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--parse":
        parse_only(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--per-file", type=int, default=2_500, help="claims per 835 file")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--no-anchor", action="store_true")
    args = parser.parse_args()
    print(f"rcmflow {args.lines:,} service lines end to end, {os.cpu_count()} CPU(s)")
    for kind, goal in (("sqlite", 30.0), ("postgresql", 45.0)):
        if args.database in (kind, "both"):
            run(kind, args.lines, args.per_file, goal)
    if args.no_anchor:
        return
    sample = Path(tempfile.mkdtemp(prefix="rcmflow-anchor-")) / "era-00001.835"
    text, _ = remittance_text(1, 0, args.per_file)
    sample.write_text(text)
    ours = child("--parse", str(sample))
    print(f"\nanchor: one file of {args.per_file:,} claims ({sample.stat().st_size / 1e6:.1f} MB)")
    print(f"  rcmflow parse             {ours['seconds']:7.3f} s")
    if not ANCHOR.exists():
        print(f"  anchor skipped: {ANCHOR} is absent")
        return
    anchor_run = subprocess.run(["bash", str(ANCHOR), str(sample)], capture_output=True, text=True)
    if anchor_run.returncode != 0:
        print(f"  anchor failed: {anchor_run.stderr.strip()[-500:]}")
        return
    anchor = json.loads(anchor_run.stdout.strip().splitlines()[-1])
    print(f"  linuxforhealth-x12 parse  {anchor['seconds']:7.3f} s   (rcmflow's whole path posts "
          f"{LINES_PER_CLAIM * args.per_file:,} lines in the time shown per stage above)")
    print(f"  ratio anchor / rcmflow parse {anchor['seconds'] / ours['seconds']:.1f}x")


if __name__ == "__main__":
    main()

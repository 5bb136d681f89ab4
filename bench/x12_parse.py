"""Benchmark: parse a seeded 100,000-claim 835 into canonical objects, against LinuxForHealth x12.

    python bench/x12_parse.py [--claims 100000] [--seed 1] [--sets 1] [--no-anchor]

Prints MB/s, claims/s and peak memory for rcmflow, then times the anchor
(../shared/anchors/lfh_x12_parse.sh, the LinuxForHealth x12 parser) on the same file in the same run
and prints the ratio. Skips the anchor with a note when ../shared is absent. Each parse runs in a
fresh process so that peak memory is the parser's own.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANCHOR = REPO.parent / "shared" / "anchors" / "lfh_x12_parse.sh"
CODES = ["99211", "99213", "99214", "85025", "93000", "71046"]


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def generate(path: Path, claims: int, seed: int, sets: int, varied: bool = False) -> None:
    """A balanced synthetic 835 of ``claims`` claims split over ``sets`` transaction sets.

    The default draws charges from five fee-schedule values, like the anchor's own generator; with
    ``varied`` every charge gets random cents, so amounts rarely repeat (the reader's interning of
    repeated amounts and adjustments then helps little: the worst case)."""
    rng = random.Random(seed)
    per_set = -(-claims // sets)
    out = ["ISA*00*          *00*          *ZZ*PAYERSENDER    *ZZ*PROVRECEIVER   *261102*0930*^*00501*000000001*0*P*:",
           "GS*HP*1999999999*PROVRECEIVER*20261102*0930*1*X*005010X221A1"]
    written = 0
    for number in range(1, sets + 1):
        body: list[str] = []
        total = 0
        for i in range(written, min(claims, written + per_set)):
            clp_charge = clp_paid = clp_pr = 0
            lines: list[str] = []
            for _ in range(rng.choice([1, 1, 2, 3])):
                charge = rng.choice([9500, 15000, 80000, 120000, 240000]) + (rng.randrange(100_000) if varied else 0)
                paid, pr = charge * 56 // 100, charge * 20 // 100
                clp_charge, clp_paid, clp_pr = clp_charge + charge, clp_paid + paid, clp_pr + pr
                lines += [f"SVC*HC:{rng.choice(CODES)}*{money(charge)}*{money(paid)}**1",
                          f"DTM*472*2026{rng.randint(1, 9):02d}{rng.randint(10, 28)}",
                          f"CAS*CO*45*{money(charge - paid - pr)}", f"CAS*PR*{rng.choice([1, 2, 3])}*{money(pr)}",
                          f"AMT*B6*{money(paid + pr)}"]
            total += clp_paid
            body += [f"CLP*PCN{i:09d}*1*{money(clp_charge)}*{money(clp_paid)}*{money(clp_pr)}*12*PAYER{i:010d}",
                     f"NM1*QC*1*DOE{i % 997}*JANE****MI*M{i:08d}", *lines]
        written = min(claims, written + per_set)
        header = [f"BPR*I*{money(total)}*C*ACH*CCP*01*011000015*DA*123456789*1999999999**01*021000021*DA*987654321"
                  "*20261101", f"TRN*1*EFT{number:07d}*1999999999", "DTM*405*20261030", "N1*PR*SYNTHETIC PAYER",
                  "N3*1 MAIN ST", "N4*DENVER*CO*80202", "N1*PE*SYNTHETIC CLINIC*XX*1234567893", "LX*1"]
        st = [f"ST*835*{number:04d}", *header, *body]
        out += [*st, f"SE*{len(st) + 1}*{number:04d}"]
    out += [f"GE*{sets}*1", "IEA*1*000000001"]
    path.write_text("~\n".join(out) + "~\n")


def measure_rcmflow(path: Path) -> dict:
    """Parse in this process (called in a child): seconds, claims, issues, peak RSS."""
    from rcmflow.formats.x12.parser import X12Stream

    start = time.perf_counter()
    claims = lines = transactions = errors = 0
    stream = X12Stream(path)
    for tx in stream:
        transactions += 1
        claims += len(tx.content.claims)
        lines += tx.content.service_line_count
        errors += len(tx.errors)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "claims": claims, "service_lines": lines, "transactions": transactions,
            "errors": errors + len(stream.issues), "peak_mb": peak_memory_mb()}


def child(path: Path, repeat: int = 1) -> dict:
    """Measure in ``repeat`` fresh processes; the run with the median time (machines here are shared,
    and one run can be slowed by a neighbour)."""
    code = f"import json,sys; sys.path.insert(0, {str(REPO / 'bench')!r}); import x12_parse as b; " \
           f"print(json.dumps(b.measure_rcmflow(b.Path({str(path)!r}))))"
    runs = []
    for _ in range(repeat):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        runs.append(json.loads(result.stdout))
    return sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]


def baseline_split(path: Path) -> float:
    """Seconds for plain bytes.split into segments and elements, all kept: the pure-Python ceiling
    for any parser that looks at every element."""
    gc.disable()  # as rcmflow's readers do while they build records
    try:
        start = time.perf_counter()
        data = path.read_bytes()
        elements = [segment.split(b"*") for segment in data.split(b"~")]
        seconds = time.perf_counter() - start
        del elements
    finally:
        gc.enable()
    return seconds


def peak_memory_mb() -> float:
    """This process's resident-memory high-water mark. VmHWM starts afresh at exec; ru_maxrss would
    carry over the parent's peak, which is how Linux reports it after fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sets", type=int, default=1, help="transaction sets to spread the claims over")
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs per figure (median kept)")
    parser.add_argument("--no-anchor", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.835"
        generate(path, args.claims, args.seed, args.sets)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.claims:,} claims in {args.sets} transaction set(s), {size_mb:.1f} MB (seed {args.seed}); "
              f"rcmflow figures are the median of {args.repeat} fresh-process runs")
        split_s = baseline_split(path)
        print(f"bytes.split, kept       {size_mb / split_s:8.1f} MB/s  (the pure-Python ceiling)")
        ours = child(path, args.repeat)
        mbps = size_mb / ours["seconds"]
        print(f"rcmflow                 {mbps:8.1f} MB/s  {ours['claims'] / ours['seconds']:10,.0f} claims/s  "
              f"{ours['seconds']:.2f} s  peak {ours['peak_mb']:.0f} MB  "
              f"({ours['claims']:,} claims, {ours['service_lines']:,} lines, {ours['errors']} errors)")
        if args.sets == 1:
            streamed = Path(tmp) / "streamed.835"
            generate(streamed, args.claims, args.seed, 100)
            many = child(streamed, args.repeat)
            print(f"rcmflow, 100 sets       {streamed.stat().st_size / 1e6 / many['seconds']:8.1f} MB/s  "
                  f"peak {many['peak_mb']:.0f} MB (streams: memory follows the largest set, not the file)")
            varied = Path(tmp) / "varied.835"
            generate(varied, args.claims, args.seed, 1, varied=True)
            worst = child(varied, args.repeat)
            print(f"rcmflow, varied amounts {varied.stat().st_size / 1e6 / worst['seconds']:8.1f} MB/s  "
                  f"peak {worst['peak_mb']:.0f} MB (amounts rarely repeat: little to intern)")
        if args.no_anchor:
            return
        if not ANCHOR.exists():
            print(f"anchor skipped: {ANCHOR} is absent")
            return
        print("anchor: LinuxForHealth x12 (first run creates its virtual environment)...", flush=True)
        run = subprocess.run(["bash", str(ANCHOR), str(path)], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"anchor failed: {run.stderr.strip()[-500:]}")
            return
        anchor = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"linuxforhealth-x12      {anchor['mb_per_s']:8.2f} MB/s  {args.claims / anchor['seconds']:10,.0f} "
              f"claims/s  {anchor['seconds']:.2f} s")
        print(f"ratio rcmflow / anchor  {anchor['seconds'] / ours['seconds']:8.1f}x")


if __name__ == "__main__":
    main()

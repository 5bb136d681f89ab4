"""``rcmflow demo``: a regional health network's revenue cycle, day by day, through the real pipeline.

Each simulated day: the EHRs send the day's charges (FHIR bundles, HL7 DFT messages through the same
handler the MLLP listener uses, charge CSVs) and the corrections of yesterday's mistakes; rcmflow stores,
captures and scrubs them, routing the held ones to their queues; billers release yesterday's reviewed
claims; ready claims are submitted as 837 files into the sandbox payer's drop folder; the sandbox payer
answers (999, 277CA, 835, BAI2) as of that day; rcmflow ingests the answers, posts the payments, reconciles
the deposits and bills secondary payers; the day ends with a snapshot of its KPIs (the control tower's trends).

Every step is idempotent (the same bytes are the same document; only ready claims are submitted; the
sandbox remembers what it answered), and every step of a day runs with that day's clock: killed at any
point and run again with the same seed and database, the demo ends in the state of an uninterrupted run.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import claims, event_log, scrub_findings
from rcmflow.demo.ehr import (
    Encounter,
    charge_csv,
    dft_message,
    encounters_for,
    fhir_bundle,
    next_day_versions,
    sent_at,
)
from rcmflow.demo.network import Network, build_network
from rcmflow.entrypoints.cli_ingest import in_processing_order
from rcmflow.services.charge_claims import release_claim
from rcmflow.services.destinations import configured_handlers
from rcmflow.services.hl7_intake import acknowledge_message
from rcmflow.services.intake import ingest_file
from rcmflow.services.kpi_snapshots import snapshot_kpis
from rcmflow.services.kpis import day_end
from rcmflow.services.outbox import relay_once, release_own_leases
from rcmflow.services.policies import configured_trading_partners
from rcmflow.services.processing import ingest_and_post, process_pending
from rcmflow.services.scrubbing import configured_scrubber
from rcmflow.services.submission import submit_ready_claims
from rcmflow.settings import get_settings

START = date(2026, 3, 2)  # a Monday: the simulated network's first day
ACTOR = "system:demo"
RELAY_ID = "demo"  # the demo's one relay: a killed run's deliveries in flight are its own to finish
RUNOUT_DAYS = 45  # after the last day of visits, payers keep paying until nothing is left with them


@dataclass
class DemoTotals:
    encounters: int = 0
    charge_files: int = 0
    hl7_messages: int = 0
    submissions: int = 0
    payer_files: int = 0
    released: int = 0
    last_visit_day: date = START
    runout_days: int = 0
    ingested: set[Path] = field(default_factory=set)


def day_clock(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _write(path: Path, content: bytes) -> Path:
    """Write a generated file once: the same day makes the same bytes, so an existing file is kept as it is."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.partial")
        temporary.write_bytes(content)
        temporary.replace(path)
    return path


def ehr_files(network: Network, encounters: list[Encounter], folder: Path) -> tuple[list[Path], list[Path]]:
    """The day's charge files (FHIR bundles and CSVs, one per facility) and HL7 messages (one per visit)."""
    by_facility: dict[str, list[Encounter]] = defaultdict(list)
    for encounter in encounters:
        by_facility[encounter.facility.key].append(encounter)
    files, messages = [], []
    for facility in network.facilities:
        batch = by_facility.get(facility.key)
        if not batch:
            continue
        if facility.interface == "fhir":
            files.append(_write(folder / "fhir" / f"{facility.key}.json", fhir_bundle(facility, batch)))
        elif facility.interface == "csv":
            files.append(_write(folder / "csv" / f"{facility.key}.csv", charge_csv(facility, batch)))
        else:
            for encounter in batch:
                messages.append(_write(folder / "hl7" / f"{encounter.claim_id}.hl7",
                                       dft_message(encounter, sent_at(encounter.day))))
    return files, messages


def _release_reviewed(engine: Engine, before: date, now: datetime) -> int:
    """Billers release the claims routed for review (warnings only) captured before today."""
    with engine.connect() as conn:
        latest = (select(scrub_findings.c.claim_id, func.max(scrub_findings.c.scrub_number).label("number"))
                  .group_by(scrub_findings.c.claim_id).subquery())
        errors = (select(scrub_findings.c.claim_id).join(latest, (latest.c.claim_id == scrub_findings.c.claim_id)
                                                         & (latest.c.number == scrub_findings.c.scrub_number))
                  .where(scrub_findings.c.severity == "error"))
        ids = list(conn.execute(select(claims.c.id).where(
            claims.c.state == "scrubbed", claims.c.created_at < day_clock(before, 0),
            claims.c.id.not_in(errors)).order_by(claims.c.id)).scalars())
    for claim_id in ids:
        with engine.begin() as conn:
            release_claim(conn, claim_id, actor="user:demo-biller", now=now)
    return len(ids)


def simulate_day(engine: Engine, network: Network, day: date, per_day: int, out: Path, totals: DemoTotals,
                 progress: Progress, task: int, *, visits: bool = True) -> None:
    """One day of the network's revenue cycle (every step safe to repeat). Without ``visits`` (the run-out
    after the last simulated day) the EHRs send only yesterday's corrections."""
    from rcmflow.sandbox import respond

    settings = get_settings()
    scrubber = configured_scrubber()
    policies = scrubber.policies
    encounters = encounters_for(network, day, per_day, policies) if visits else []
    yesterday = day - timedelta(days=1)
    if day > START and (visits or yesterday == totals.last_visit_day):
        encounters += next_day_versions(encounters_for(network, yesterday, per_day, policies))
    totals.encounters += len(encounters)
    files, messages = ehr_files(network, encounters, out / "ehr" / day.isoformat())
    evening = day_clock(day, 20)
    for path in files:
        with engine.begin() as conn:
            ingest_file(conn, path.read_bytes(), filename=path.name, channel="demo-ehr", now=evening)
    for path in messages:
        acknowledge_message(engine, path.read_bytes(), now=evening)
    totals.charge_files += len(files)
    totals.hl7_messages += len(messages)
    progress.advance(task)

    totals.released += _release_reviewed(engine, day, evening)
    partners = configured_trading_partners()
    with engine.begin() as conn:
        submitted = submit_ready_claims(conn, partners, actor=ACTOR, now=evening)
    totals.submissions += len(submitted.submissions)
    handlers = configured_handlers(engine, settings)
    try:
        relay_once(engine, handlers, worker_id=RELAY_ID, batch=10_000)
    finally:
        handlers.close()
    progress.advance(task)

    sandbox = partners.partners[0]
    respond(partners.folder_of(sandbox, settings.data_dir), out / "payer", seed=network.seed, as_of=day)
    # The payer's new files (a resumed run reads them all once again: storing the same bytes is a no-op).
    payer_files = in_processing_order(sorted(path for path in (out / "payer").rglob("*") if path.is_file()
                                             and not path.name.startswith(".") and path not in totals.ingested))
    for path in payer_files:
        ingest_and_post(engine, path.read_bytes(), filename=path.name, channel="demo-payer", now=evening)
        totals.ingested.add(path)
    totals.payer_files += len(payer_files)
    process_pending(engine, now=evening)
    with engine.begin() as conn:  # the day's KPIs, for the control tower's trends (redone whole on a resume)
        snapshot_kpis(conn, day=day, now=day_end(day))
    progress.advance(task)


def run_network(console: Console, engine: Engine, out: Path, *, claims_total: int, days: int, seed: int) -> \
        DemoTotals:
    """Simulate ``days`` days of ``claims_total`` visits in all, then let the payers finish paying what was billed
    (up to ``RUNOUT_DAYS`` more days without visits); returns what was made."""
    network = build_network(seed, patients=max(200, claims_total // 2), start=START)
    per_day = max(1, claims_total // days)
    totals = DemoTotals(last_visit_day=START + timedelta(days=days - 1))
    # A run killed and started again carries on with the day it was in (redone whole: every step is
    # idempotent); replaying earlier days would submit later days' claims with an earlier day's clock.
    resume = _day_in_progress(engine)
    if resume is None:
        partners = configured_trading_partners()
        _set_aside_earlier_run(console, out, partners.folder_of(partners.partners[0], get_settings().data_dir))
    with engine.begin() as conn:  # files a killed run was delivering go out now, not after their lease
        release_own_leases(conn, RELAY_ID)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("simulating", total=days * 3)
        for offset in range(days):
            day = START + timedelta(days=offset)
            progress.update(task, description=f"day {offset + 1}/{days} ({day:%a %d %b}): visits, claims, payers")
            if resume is not None and day < resume:
                progress.advance(task, 3)
                continue
            simulate_day(engine, network, day, per_day, out, totals, progress, task)
        runout = progress.add_task("payers finishing what was billed", total=RUNOUT_DAYS * 3)
        for offset in range(RUNOUT_DAYS):
            if not _awaiting_payers(engine):
                break
            day = totals.last_visit_day + timedelta(days=offset + 1)
            if resume is not None and day < resume:
                continue
            simulate_day(engine, network, day, per_day, out, totals, progress, runout, visits=False)
            totals.runout_days += 1
        progress.update(runout, completed=RUNOUT_DAYS * 3)
    return totals


def _set_aside_earlier_run(console: Console, out: Path, drop_folder: Path) -> Path | None:
    """A database with no demo day yet, beside the files of an earlier run (of another database, say one deleted
    to start over): the EHR files, the sandbox payer's answers and memory, and the claim files delivered to it are
    moved into ``out/previous-<time>``, not read. Else the payer would not answer claims it remembers answering, and
    its old answers would be posted before their claims exist (the same demo, other figures). Returns where they
    went, None when there was nothing to move."""
    leftovers = [(folder, name) for folder, name in ((out / "ehr", "ehr"), (out / "payer", "payer"),
                                                     (drop_folder, "delivered"))
                 if folder.is_dir() and any(folder.iterdir())]
    if not leftovers:
        return None
    target = out / f"previous-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    for folder, name in leftovers:
        (target / name).mkdir(parents=True)
        for path in list(folder.iterdir()):  # the contents: the drop folder stays where delivery expects it
            shutil.move(path, target / name / path.name)
    console.print(f"This database has no demo run yet: the files of an earlier run "
                  f"({', '.join(name for _, name in leftovers)}) were moved to {target}")
    return target


def _day_in_progress(engine: Engine) -> date | None:
    """The simulated day the last run got to: the business clock of the latest claim event (claims move only on
    the simulated clock; outbox deliveries are logged at the wall clock), if any."""
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(event_log.c.occurred_at)).where(
            event_log.c.object_type == "claim")).scalar_one()
    if latest is None:
        return None
    return latest.date() if isinstance(latest, datetime) else datetime.fromisoformat(str(latest)).date()


def _awaiting_payers(engine: Engine) -> bool:
    """Claims still with a payer (submitted or accepted, not yet adjudicated) or ready to go."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(claims).where(
            claims.c.state.in_(("ready", "submitted", "accepted")))).scalar_one() > 0

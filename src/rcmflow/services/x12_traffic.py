"""A clinic's X12 traffic as files: the 837s, their 999s, the payers' 835s (with a truncated transmission, a
reprocessed ERA with reversals and corrected payments) and the bank's BAI2 file, written from a seeded
``demo_data`` network.

This is the fixed corpus the posting tests, the exactly-once tests and the posting benchmark read: the
claims were "submitted" elsewhere, so their 837s arrive as files. ``rcmflow demo`` (``rcmflow.demo``) runs the
whole cycle from charges instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from rich.progress import Progress
from sqlalchemy import Connection

from rcmflow.adapters.store.control_numbers import StoredControlNumbers
from rcmflow.domain.deposit import Deposit
from rcmflow.formats.bai2_write import AccountActivity, BankGroup, write_bai2
from rcmflow.formats.x12.parser import parse
from rcmflow.formats.x12.ts835_write import write_835_interchange
from rcmflow.formats.x12.ts837_write import write_837_interchange
from rcmflow.formats.x12.ts999_write import write_999
from rcmflow.formats.x12.writing import Party
from rcmflow.services.demo_data import Network

CLINIC = Party("RCMFLOWDEMO")


@dataclass(frozen=True)
class DemoFile:
    """One generated file and what it is."""

    path: Path
    kind: str


def write_files(network: Network, out: Path, conn: Connection, progress: Progress) -> list[DemoFile]:
    """Write every claim file, its 999, every remittance, and one truncated transmission; control
    numbers come from the store, so a second demo run never reuses an ISA13."""
    out.mkdir(parents=True, exist_ok=True)
    numbers = StoredControlNumbers(conn, CLINIC.id)
    files: list[DemoFile] = []
    task = progress.add_task("writing X12 files", total=len(network.batches) + len(network.remittances))
    for facility, payer, batch in network.batches:
        stem = f"{facility.name.split()[0].lower()}-{payer.payer_id}-{batch.control_number}"
        claims_path = out / f"{stem}.837{'i' if batch.claim_type == 'I' else 'p'}"
        text = write_837_interchange([batch], CLINIC, Party(payer.payer_id), numbers)
        claims_path.write_text(text)
        files.append(DemoFile(claims_path, "claims"))
        ack_path = out / f"{stem}.999"
        ack_path.write_text(write_999(parse(text.encode(), strict=True),
                                      control_numbers=StoredControlNumbers(conn, payer.payer_id)))
        files.append(DemoFile(ack_path, "acknowledgment"))
        progress.advance(task)
    for payer, remittance in network.remittances:
        path = out / f"era-{payer.payer_id}-{remittance.control_number}.835"
        path.write_text(write_835_interchange([remittance], Party(payer.payer_id), CLINIC,
                                              StoredControlNumbers(conn, payer.payer_id)))
        files.append(DemoFile(path, "remittance"))
        progress.advance(task)
    # A transmission cut off mid-file, as a dropped SFTP session leaves it: it must be kept and flagged.
    source = next(f.path for f in files if f.kind == "remittance")
    data = source.read_bytes()
    cut = out / f"{source.stem}-truncated.835"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    files.append(DemoFile(cut, "remittance"))
    for payer, remittance in network.follow_ups:
        path = out / f"era-{payer.payer_id}-{remittance.control_number}-reprocessed.835"
        path.write_text(write_835_interchange([remittance], Party(payer.payer_id), CLINIC,
                                              StoredControlNumbers(conn, payer.payer_id)))
        files.append(DemoFile(path, "remittance"))
    if network.deposits:
        # One group per as-of date: a BAI2 16 record has no date of its own, its group's date is its value date.
        by_day: dict[date, list[Deposit]] = {}
        for deposit in network.deposits:
            by_day.setdefault(deposit.value_date or date.today(), []).append(deposit)
        day = max(by_day)
        bank, account = network.deposits[0].bank, network.deposits[0].account
        path = out / f"bank-{day:%Y%m%d}.bai"
        path.write_bytes(write_bai2(bank, CLINIC.id, f"{day:%y%m%d}01", datetime.combine(day, time(6, 30)),
                                    [BankGroup(bank, as_of, (AccountActivity(account, tuple(items)),))
                                     for as_of, items in sorted(by_day.items())]))
        files.append(DemoFile(path, "bank"))
    return files

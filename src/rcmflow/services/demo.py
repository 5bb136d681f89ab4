"""``rcmflow demo``: the regional network simulated day by day through the real pipeline, then its summary.

The simulation itself lives in ``rcmflow.demo`` (network, EHR interfaces, the day loop, the summary); this
module is the command's service: run it, then report from the stored state.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from rcmflow.demo.report import demo_figures, print_demo_summary
from rcmflow.demo.run import run_network
from rcmflow.entrypoints.cli_report import print_summary
from rcmflow.services.reports import summary


def run_demo(console: Console, engine: Engine, out: Path, *, claims: int, days: int, seed: int) -> dict:
    """Simulate the network and print what happened; returns the demo's figures."""
    totals = run_network(console, engine, out, claims_total=claims, days=days, seed=seed)
    console.print(f"{totals.encounters} encounters sent by the EHRs: {totals.charge_files} charge files "
                  f"(FHIR bundles, CSVs) and {totals.hl7_messages} HL7 DFT messages; {totals.released} claims "
                  f"released after review; files under {out}")
    with engine.connect() as conn:
        figures = demo_figures(conn)
        print_demo_summary(console, figures)
        print_summary(console, summary(conn))
    console.print("Look around: [bold]rcmflow queues[/bold], [bold]rcmflow claims list[/bold], "
                  "[bold]rcmflow claims show ID[/bold], [bold]rcmflow work list[/bold], "
                  "[bold]rcmflow ledger trial-balance[/bold]")
    return figures

"""``rcmflow ingest``: folders and files, idempotent, per-file JSON, non-zero exit on an unreadable file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcmflow.entrypoints.cli import app
from tests.x12_text import remittance_835

runner = CliRunner()


@pytest.fixture
def inbox(tmp_path: Path, empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    folder = tmp_path / "inbox"
    (folder / "2026-11").mkdir(parents=True)
    (folder / "era-1.835").write_text(remittance_835(trace="EFT1"))
    (folder / "2026-11" / "era-2.txt").write_text(remittance_835(trace="EFT2"))  # the name says nothing
    (folder / ".partial").write_text("still being written")  # hidden: skipped
    return folder


def test_a_folder_is_ingested_once_and_reported_per_file(inbox: Path) -> None:
    first = runner.invoke(app, ["ingest", str(inbox), "--json"])
    assert first.exit_code == 0, first.output
    results = json.loads(first.stdout)
    assert [(Path(r["file"]).name, r["type"], r["status"], r["new"]) for r in results] == [
        ("era-2.txt", "835", "parsed", True), ("era-1.835", "835", "parsed", True)]
    assert results[1]["transactions"][0]["trace_number"] == "EFT1"
    again = json.loads(runner.invoke(app, ["ingest", str(inbox), "--json"]).stdout)
    assert [r["new"] for r in again] == [False, False]
    assert [r["document_id"] for r in again] == [r["document_id"] for r in results]


def test_an_unreadable_file_is_kept_and_the_exit_is_non_zero(inbox: Path) -> None:
    bad = inbox / "cut.835"
    text = remittance_835(trace="EFT3")
    bad.write_text(text[: len(text) // 2])
    result = runner.invoke(app, ["ingest", str(bad), "--json"])
    assert result.exit_code == 1
    [outcome] = json.loads(result.stdout)
    assert outcome["status"] == "failed" and "truncated" in {error["code"] for error in outcome["errors"]}
    listed = runner.invoke(app, ["documents", "list", "--status", "failed"])
    assert "cut.835" in listed.stdout


def test_a_missing_path_is_one_clear_error(inbox: Path) -> None:
    result = runner.invoke(app, ["ingest", str(inbox / "nope.835")])
    assert result.exit_code != 0 and "no such file" in str(result.exception)


def test_bank_files_are_detected_by_content_and_summarised(inbox: Path) -> None:
    from rcmflow.domain.money import format_amount
    from rcmflow.formats.bai2 import parse_bai2

    fixtures = Path(__file__).resolve().parents[1] / "formats" / "fixtures"
    bank = inbox / "bank"
    bank.mkdir()
    (bank / "statement.dat").write_bytes((fixtures / "bai2_two_groups.bai").read_bytes())
    (bank / "lockbox.txt").write_bytes((fixtures / "lockbox_march.csv").read_bytes())
    result = runner.invoke(app, ["ingest", str(bank), "--json"])
    assert result.exit_code == 0, result.output
    by_name = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    credits = [d for d in parse_bai2((fixtures / "bai2_two_groups.bai").read_bytes()).deposits if d.is_credit]
    statement = by_name["statement.dat"]
    assert (statement["type"], statement["status"], statement["deposits"]) == ("bai2", "parsed", len(credits))
    assert statement["deposit_total"] == format_amount(sum(d.amount for d in credits))
    lockbox = by_name["lockbox.txt"]
    assert (lockbox["type"], lockbox["status"], lockbox["deposits"], lockbox["deposit_total"]) == (
        "lockbox_csv", "parsed", 4, "4241.26")

"""The command line: the ``x12 inspect`` JSON contract, exit statuses, and no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcmflow.entrypoints.cli import app
from tests.x12_text import remittance_835

runner = CliRunner()


def _inspect(path: Path, *extra: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["x12", "inspect", str(path), "--json", *extra])
    return result.exit_code, json.loads(result.stdout)


def test_inspect_json_contract_for_a_clean_835(tmp_path: Path) -> None:
    path = tmp_path / "era.835"
    path.write_text(remittance_835())
    code, summary = _inspect(path)
    assert code == 0
    assert summary["file"] == str(path) and summary["interchanges"] == 1 and summary["errors"] == []
    [tx] = summary["transactions"]
    assert {key: tx[key] for key in ("type", "control_number", "payer", "payee_id", "payment_amount",
                                      "payment_method", "trace_number", "claims", "service_lines",
                                      "claim_payment_total", "provider_adjustment_total", "balanced")} == {
        "type": "835", "control_number": "0001", "payer": "ACME HEALTH PLAN", "payee_id": "1234567893",
        "payment_amount": "150.00", "payment_method": "ACH", "trace_number": "EFT123", "claims": 1,
        "service_lines": 1, "claim_payment_total": "150.00", "provider_adjustment_total": "0.00", "balanced": True,
    }


def test_inspect_reports_bpr_mismatch_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "era.835"
    path.write_text(remittance_835(payment="999.00"))
    code, summary = _inspect(path)
    assert code == 1
    assert summary["transactions"][0]["balanced"] is False
    assert [(e["segment_index"], e["segment_id"], e["element"], e["code"]) for e in summary["errors"]] == [
        (4, "BPR", 2, "unbalanced")]
    assert set(summary["errors"][0]) == {"segment_index", "segment_id", "element", "code", "message"}


def test_inspect_truncated_file_is_an_error_not_silence(tmp_path: Path) -> None:
    text = remittance_835()
    path = tmp_path / "cut.835"
    path.write_text(text[: text.index("CAS*PR")])
    code, summary = _inspect(path)
    assert code == 1
    assert "truncated" in {error["code"] for error in summary["errors"]}
    assert summary["transactions"][0]["claims"] == 1  # what was there is still read


@pytest.mark.parametrize("content", [b"", b"%PDF-1.4\n\x00\xff\xfe\x80garbage", "héllo wörld".encode("utf-16")])
def test_inspect_non_x12_gives_located_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    code, summary = _inspect(path)
    assert code == 1 and summary["transactions"] == []
    assert summary["errors"][0]["code"] in {"not_x12", "empty"}


def test_human_output_names_the_error(tmp_path: Path) -> None:
    path = tmp_path / "era.835"
    path.write_text(remittance_835(payment="999.00"))
    result = runner.invoke(app, ["x12", "inspect", str(path)])
    assert result.exit_code == 1
    assert "segment 4 BPR02" in result.stdout and "unbalanced" in result.stdout


@pytest.mark.parametrize("args", [["x12", "inspect", "/no/such/file.835"], ["x12", "inspect", "/"],
                                  ["x12", "ack", "/no/such/file.835", "-o", "/tmp/out.999"]])
def test_bad_paths_give_one_line_and_no_traceback(args: list[str]) -> None:
    run = subprocess.run([sys.executable, "-m", "rcmflow", *args], capture_output=True, text=True)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "error:" in run.stderr


def test_truncated_835_is_not_called_balanced(tmp_path: Path) -> None:
    text = remittance_835()
    path = tmp_path / "cut.835"
    path.write_text(text[: text.index("SE*")])
    _, summary = _inspect(path)
    assert summary["transactions"][0]["balanced"] is False


def test_bad_setting_stops_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "era.835"
    path.write_text(remittance_835())
    env = {"RCMFLOW_LOG_LEVEL": "LOUD", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "rcmflow", "x12", "inspect", str(path)], capture_output=True,
                         text=True, env=env)
    assert run.returncode == 2 and "RCMFLOW_LOG_LEVEL" in run.stderr and "Traceback" not in run.stderr

"""PHI never reaches the logs: the scrubbing rules one by one, the processor on real log records, and real
pipelines (``ingest`` of an 837 and an 835, ``claims scrub``, an HL7 DFT through intake, broken inputs and an
exception on the error path) run at DEBUG in JSON with their whole output scanned for seeded identifiers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from sqlalchemy import Engine
from typer.testing import CliRunner

from rcmflow.entrypoints.cli import app
from rcmflow.log_config import configure_logging
from rcmflow.log_redaction import REDACTED, is_identifier_key, redact_phi, scrub_text
from rcmflow.services.hl7_intake import acknowledge_message
from tests.entrypoints.test_cli_claims import CHARGES, PATIENT
from tests.formats.test_hl7_dft import VISIT
from tests.formats.x12.builders import BODY_835, BODY_837P, IMPL_837P, interchange

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def json_lines(output: str) -> list[dict]:
    """Every JSON log line of ``output``, each checked to carry the fields every line must have."""
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    for record in records:
        assert {"timestamp", "level", "event", "logger"} <= set(record), record
        assert record["timestamp"].endswith("Z")
    return records


# --- the rules ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "scrubbed"), [
    # X12: a patient's or subscriber's name and member id go, element positions stay
    ("NM1*QC*1*DOE*JANE****MI*M123~", f"NM1*QC*1*{REDACTED}*{REDACTED}****MI*{REDACTED}~"),
    ("NM1*IL*1*DOE*JANE*Q***MI*MEMBER01", f"NM1*IL*1*{REDACTED}*{REDACTED}*{REDACTED}***MI*{REDACTED}"),
    # a rendering provider in person: the name goes, the NPI stays; organisations stay whole
    ("NM1*82*1*CHEN*WEI****XX*1987654328", f"NM1*82*1*{REDACTED}*{REDACTED}****XX*1987654328"),
    ("NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01", "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01"),
    ("N3*5 ELM STREET*APT 2~N4*HARTFORD*CT*06101~", f"N3*{REDACTED}*{REDACTED}~N4*{REDACTED}*CT*{REDACTED}~"),
    ("DMG*D8*19800101*F", f"DMG*D8*{REDACTED}*F"),
    ("PER*IC*JERRY*TE*3055552222*EM*J@X.COM", f"PER*IC*{REDACTED}*TE*{REDACTED}*EM*{REDACTED}"),
    ("REF*SY*123456789~REF*1W*W1~REF*IG*P9~REF*6R*LINE1~REF*EI*123456789",
     f"REF*SY*{REDACTED}~REF*1W*{REDACTED}~REF*IG*{REDACTED}~REF*6R*LINE1~REF*EI*123456789"),
    # a repr of bytes: printed "\n" separates segments too
    ("b'NM1*IL*1*DOE*JANE~\\nN3*5 ELM ST~\\n'", f"b'NM1*IL*1*{REDACTED}*{REDACTED}~\\nN3*{REDACTED}~\\n'"),
    # HL7 v2
    ("PID|1||MRN1^^^V^MR||Rivera^Ana^M||19840719|F|||12 Oak St^^Hartford^CT^06105||^PRN^PH^^1^860^5550101\r"
     "PV1|1|O|EXAM^3",
     f"PID|1||{REDACTED}||{REDACTED}||{REDACTED}|F|||{REDACTED}||{REDACTED}\rPV1|1|O|EXAM^3"),
    ("GT1|1||Rivera^Ana||12 Oak St|||19840719|F||SEL",
     f"GT1|1||{REDACTED}||{REDACTED}|||{REDACTED}|F||SEL"),
    ("IN1|1|AETNAPOS|60054|Aetna||||GRP1||||||||Rivera^Ana|SEL|19840719|12 Oak St",
     f"IN1|1|AETNAPOS|60054|Aetna||||GRP1||||||||{REDACTED}|SEL|{REDACTED}|{REDACTED}"),
    ("NK1|1|Rivera^Luis|FTH|12 Oak St|^PRN^PH^^1^860^5550102",
     f"NK1|1|{REDACTED}|FTH|{REDACTED}|{REDACTED}"),
    # FHIR-like JSON, closed or cut off
    ('{"name": [{"family": "Rivera", "given": ["Ana"]}], "birthDate": "1984-07-19", "id": "p1"}',
     f'{{"name": [{{"family": "{REDACTED}", "given": ["{REDACTED}"]}}], "birthDate": "{REDACTED}", "id": "p1"}}'),
    ('{"given": ["Ana", "Mar', f'{{"given": ["{REDACTED}"]'),
    # keyed values in prose, any case style
    ("row 3, patient_birth_date: '1984-13-45' is not a date", f"row 3, patient_birth_date: {REDACTED} is not a date"),
    ("patient_birth_date '1984-13-45' is not a date; charge '12.x' is not an amount",
     f"patient_birth_date {REDACTED} is not a date; charge '12.x' is not an amount"),
    ("memberId=XKB1 claim_id=V1, subscriberFirstName: Ana", f"memberId={REDACTED} claim_id=V1, "
                                                            f"subscriberFirstName: {REDACTED}"),
    ("patient_address: 12 Oak St, Hartford, CT 06105; next", f"patient_address: {REDACTED}; next"),
    # a parser's located message quoting the value of an identifier field or element; others stay
    ("PID-7 '19710431' is not a calendar date; FT1[2]-6 '16x' is not an amount; DMG02 \"1980\"; SV102 '80x'",
     f"PID-7 '{REDACTED}' is not a calendar date; FT1[2]-6 '16x' is not an amount; DMG02 \"{REDACTED}\"; "
     "SV102 '80x'"),
    # patterns
    ("SSN 123-45-6789, call (860) 555-0101 or 860.555.0101, mail ana.rivera@example.org",
     f"SSN {REDACTED}, call {REDACTED} or {REDACTED}, mail {REDACTED}"),
    ("DOB 07/19/1984; born 1984-07-19; birthdate 19840719", f"DOB {REDACTED}; born {REDACTED}; birthdate {REDACTED}"),
])
def test_identifiers_are_scrubbed_from_text(raw: str, scrubbed: str) -> None:
    assert scrub_text(raw) == scrubbed


def test_operational_information_survives() -> None:
    text = ("document 42 (835) failed: segment 12 NM1 element NM109 missing (code missing_element); claim PCN001 "
            "paid 125.00 on 2026-03-02, NPI 1234567893, TIN 12-3456789, routing 011000015, trace EFT0001, "
            "CLP*PCN001*1*800*500*100*12*PAYER001~SVC*HC:99213:25*800*600**1~DTM*472*20260105 count=3 "
            "capacity=5 request_id=4f0c2a")
    assert scrub_text(text) == text


def test_identifier_keys_match_by_name_and_suffix_in_any_case_style() -> None:
    for key in ("member_id", "subscriber_member_id", "patientFirstName", "DOB", "birth-date", "zip", "ssn"):
        assert is_identifier_key(key), key
    for key in ("claim_id", "document_id", "payer_name", "capacity", "status", "billing_npi", "gzip"):
        assert not is_identifier_key(key), key


def test_the_processor_redacts_keys_and_scrubs_everything_else() -> None:
    @dataclass
    class Person:
        last_name: str

    event = redact_phi(None, "info", {
        "event": "claim PCN001 for NM1*QC*1*DOE*JANE", "member_id": "M123", "count": 3, "ok": True,
        "payload": {"claim_id": "V1", "patient": {"dob": "1980-01-01", "note": "DOB 01/01/1980"}},
        "segments": ["DMG*D8*19800101*F", 7], "person": Person("Doe"), "raw": b"N3*5 ELM ST",
        "request_id": "r1"})
    assert event == {
        "event": f"claim PCN001 for NM1*QC*1*{REDACTED}*{REDACTED}", "member_id": REDACTED, "count": 3, "ok": True,
        "payload": {"claim_id": "V1", "patient": {"dob": REDACTED, "note": f"DOB {REDACTED}"}},
        "segments": [f"DMG*D8*{REDACTED}*F", 7], "person": f"{Person.__qualname__}(last_name={REDACTED})",
        "raw": f"N3*{REDACTED}", "request_id": "r1"}


# --- on real log records ----------------------------------------------------------------------------------

RAW_NM1 = "NM1*IL*1*QUILLFEATHER*MARISOL****MI*ZQX7730019"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_logged_raw_segment_is_caught_in_message_fields_and_tracebacks(fmt: str) -> None:
    buffer = io.StringIO()
    configure_logging("DEBUG", fmt, buffer)  # type: ignore[arg-type]
    log = logging.getLogger("rcmflow.test")
    log.debug("read %s", RAW_NM1)
    structlog.stdlib.get_logger("rcmflow.test").info("segment", segment=RAW_NM1, member_id="ZQX7730019")
    try:
        raise ValueError(f"cannot read {RAW_NM1}")
    except ValueError:
        log.exception("broken input")
    output = buffer.getvalue()
    assert "QUILLFEATHER" not in output and "MARISOL" not in output and "ZQX7730019" not in output
    assert output.count("NM1*IL*1*") == 3 and "ValueError: cannot read NM1*IL*1*" in output
    if fmt == "json":
        assert [record["level"] for record in json_lines(output)] == ["debug", "info", "error"]


def test_the_check_would_fail_without_the_processor() -> None:
    """The scan below is not vacuous: the same record, rendered without redaction, carries the identifiers."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(processor=structlog.processors.JSONRenderer()))
    log = logging.getLogger("rcmflow.test.unredacted")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("read %s", RAW_NM1)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert "QUILLFEATHER" in buffer.getvalue()


# --- real pipelines ---------------------------------------------------------------------------------------

# Identifiers seeded into every input below; none may appear in any log output.
SUBSCRIBER = ("THORNCASTLE", "EVANDER", "ZQX7730020")
PATIENT_NAME = ("QUILLFEATHER", "MARISOL")
MEMBER_ID = "ZQX7730019"
BIRTH = ("19710423", "1971-04-23", "1971-04-31", "19710431")  # the last two: mistyped, still identifying
STREET = "77 JUNIPER HOLLOW RD"
CITY = "WETHERSFIELD"
PHONE = ("8605550199", "5550199")
SEEDED = (*SUBSCRIBER, *PATIENT_NAME, MEMBER_ID, *BIRTH, STREET, CITY, *PHONE)


def seeded_837() -> bytes:
    body = [segment.replace("PER*IC*JERRY*TE*3055552222", f"PER*IC*{PATIENT_NAME[1]}*TE*{PHONE[0]}")
            .replace("NM1*IL*1*DOE*JANE****MI*MEMBER01", f"NM1*IL*1*{PATIENT_NAME[0]}*{PATIENT_NAME[1]}****MI*"
                                                          f"{MEMBER_ID}")
            .replace("N3*5 ELM STREET", f"N3*{STREET}")
            .replace("N4*HARTFORD*CT*06101", f"N4*{CITY}*CT*06109")
            .replace("DMG*D8*19800101*F", f"DMG*D8*{BIRTH[0]}*F")
            for segment in BODY_837P]
    return interchange(*body, st01="837", implementation=IMPL_837P)


def seeded_835(control: str = "000000001") -> bytes:
    body = list(BODY_835)
    patient = body.index("NM1*QC*1*DOE*JANE****MI*MEMBER01")
    body[patient:patient + 1] = [f"NM1*QC*1*{PATIENT_NAME[0]}*{PATIENT_NAME[1]}****MI*{MEMBER_ID}",
                                 f"NM1*IL*1*{SUBSCRIBER[0]}*{SUBSCRIBER[1]}****MI*{SUBSCRIBER[2]}"]
    body[body.index("PER*BL*CLAIMS*TE*8005551212")] = f"PER*BL*{SUBSCRIBER[1]}*TE*{PHONE[0]}"
    return interchange(*body, control=control)


def seeded_charges() -> str:
    person = f"{PATIENT_NAME[0].title()},{PATIENT_NAME[1].title()},{BIRTH[1]},F,{STREET},{CITY},CT,06109,{MEMBER_ID}"
    # V9: a birth date that is not a date: its finding quotes the field
    broken = (f"V9,P,{PATIENT_NAME[0].title()},{PATIENT_NAME[1].title()},{BIRTH[2]},F,{STREET},{CITY},CT,06109,"
              f"{MEMBER_ID},60054,ACME HEALTH PLAN,1234567893,Valley Clinic,12-3456789,207Q00000X,1 Main St,"
              f"Hartford,CT,06101,11,I10,Y,2026-03-04,99213,,1,125.00,1,,")
    return CHARGES.replace(PATIENT, person) + broken + "\n"


def seeded_dft(control: str = "MSG00001") -> str:
    return (VISIT.replace("Rivera^Ana", f"{PATIENT_NAME[0].title()}^{PATIENT_NAME[1].title()}")
            .replace("19840719", BIRTH[0]).replace("12 Oak St^^Hartford", f"{STREET.title()}^^{CITY.title()}")
            .replace("^860^5550101", f"^860^{PHONE[1]}").replace("XKB884120301", MEMBER_ID)
            .replace("MSG00001", control))


def broken_dft() -> str:
    """A message whose claim cannot be built: a birth date that is not a date and a charge that is not an amount."""
    return (seeded_dft("MSG00002").replace(f"||{BIRTH[0]}|F|||", f"||{BIRTH[3]}|F|||", 1)
            .replace("165.00&USD", "16x&USD"))


def assert_no_seeded_identifier(output: str) -> None:
    lowered = output.lower()
    leaked = [value for value in SEEDED if value.lower() in lowered]
    assert not leaked, f"identifiers in the log output: {leaked}"


def test_the_seeded_identifiers_are_in_the_inputs() -> None:
    """Otherwise the scans below would pass for want of anything to find."""
    texts = [seeded_837().decode(), seeded_835().decode(), seeded_charges(), seeded_dft(), broken_dft()]
    everything = "\n".join(texts).lower()
    assert all(value.lower() in everything for value in SEEDED)
    for text in texts:
        assert PATIENT_NAME[0].lower() in text.lower() and MEMBER_ID in text


@pytest.fixture
def cli_env(tmp_path: Path, empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("RCMFLOW_LOG_FORMAT", "json")
    return tmp_path


def test_ingest_of_an_837_and_an_835_logs_no_identifier(cli_env: Path) -> None:
    (cli_env / "claims.837").write_bytes(seeded_837())
    (cli_env / "era.835").write_bytes(seeded_835())
    result = runner.invoke(app, ["-v", "ingest", str(cli_env / "claims.837"), str(cli_env / "era.835"), "--json"])
    assert result.exit_code == 0, result.output
    records = json_lines(result.stderr)
    documents = [r["event"] for r in records if r["logger"] == "rcmflow.services.intake"]
    assert documents == ["document 1 (837P) parsed with 0 warning(s)", "document 2 (835) parsed with 0 warning(s)"]
    assert_no_seeded_identifier(result.stderr)


def test_a_broken_file_and_a_failing_posting_log_their_errors_without_identifiers(
        cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rcmflow.services.intake as intake

    # A bug that puts the input into an exception message: the traceback is logged (posting failed, the file is
    # kept unposted), and must come out scrubbed.
    def failing_post(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"cannot post the claim of NM1*QC*1*{PATIENT_NAME[0]}*{PATIENT_NAME[1]}****MI*{MEMBER_ID}")

    monkeypatch.setattr(intake, "receive_and_post", failing_post)
    whole = seeded_835(control="000000002")
    (cli_env / "cut.835").write_bytes(whole[: whole.index(b"SVC*")])  # ends inside the patient's claim
    (cli_env / "era.835").write_bytes(seeded_835())
    result = runner.invoke(app, ["-v", "ingest", str(cli_env / "cut.835"), str(cli_env / "era.835"), "--json"])
    assert result.exit_code == 1, result.output
    records = json_lines(result.stderr)
    failures = [r for r in records if r["event"] == "posting era.835 failed; storing it without posting"]
    assert len(failures) == 1 and "RuntimeError: cannot post the claim of NM1*QC*1*" in failures[0]["exception"]
    assert f"*{REDACTED}*{REDACTED}****MI*{REDACTED}" in failures[0]["exception"]
    assert any(r["event"].startswith("document 1 error:") for r in records)
    assert_no_seeded_identifier(result.stderr)


def test_claims_scrub_of_a_charge_file_logs_no_identifier(cli_env: Path) -> None:
    charges = cli_env / "charges.csv"
    charges.write_text(seeded_charges(), encoding="utf-8")
    result = runner.invoke(app, ["-v", "claims", "scrub", str(charges), "--json", "--today", "2026-03-20"])
    assert result.exit_code == 1, result.output
    assert "V9" in result.stdout  # the broken row was read and reported
    json_lines(result.stderr)
    assert_no_seeded_identifier(result.stderr)
    # the same file through intake: captured, scrubbed, its unreadable row logged as a warning
    result = runner.invoke(app, ["-v", "ingest", str(charges), "--json", "--no-post"])
    records = json_lines(result.stderr)
    assert any(r["event"].startswith("document 1 warning:") for r in records), result.stderr
    assert_no_seeded_identifier(result.stderr)


def test_an_hl7_dft_through_intake_logs_no_identifier(engine: Engine) -> None:
    buffer = io.StringIO()
    configure_logging("DEBUG", "json", buffer)
    good = acknowledge_message(engine, seeded_dft().encode())
    bad = acknowledge_message(engine, broken_dft().encode())
    assert "|AA|MSG00001" in good and ("|AE|MSG00002" in bad or "|AR|MSG00002" in bad)
    output = buffer.getvalue()
    records = json_lines(output)
    assert {r["logger"] for r in records} >= {"rcmflow.services.intake"}
    assert_no_seeded_identifier(output)

"""HL7 v2.5.1 ACKs: sender and receiver swapped, the original control id echoed, ERR for AE/AR with the
location and text, the inbound delimiters kept, and an answer even for a message whose MSH cannot be read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rcmflow.formats.hl7_ack import ack_for, error_location_erl
from rcmflow.formats.hl7_dft import Delimiters, Hl7Message, read_dft_message, split_message

INBOUND = ("MSH|^~\\&|EPIC|VALLEYCLINIC^2.16.840.1.113883.3.72^ISO|RCMFLOW|BILLING|20240304153000-0500||"
           "DFT^P03^DFT_P03|MSG00001|P|2.5.1|||AL|NE\rEVN|P03|20240304153000-0500\rPID|1||MRN4471^^^VALLEY^MR\r")
NOW = datetime(2024, 3, 4, 15, 30, 5, tzinfo=timezone(timedelta(hours=-5)))


def fields(ack: str) -> tuple[Hl7Message, dict[str, list[str]]]:
    """The ACK parsed back: its segments by id, each as its list of (escaped) fields."""
    parsed = split_message(ack)
    return parsed, {segment.id: list(segment.fields) for segment in parsed.segments}


def test_an_accept_swaps_sender_and_receiver_and_echoes_the_control_id() -> None:
    ack = ack_for(INBOUND, "AA", control_id="ACK0001", now=NOW)
    assert ack == ("MSH|^~\\&|RCMFLOW|BILLING|EPIC|VALLEYCLINIC^2.16.840.1.113883.3.72^ISO|20240304153005-0500||"
                   "ACK^P03^ACK|ACK0001|P|2.5.1\rMSA|AA|MSG00001\r")


def test_each_ack_gets_its_own_control_id_and_the_current_time() -> None:
    first, second = (fields(ack_for(INBOUND.encode(), "AA"))[1]["MSH"] for _ in range(2))
    assert first[10] != second[10] and first[10] != "MSG00001" and 1 <= len(first[10]) <= 20
    assert first[7][:8].isdigit() and first[7][-5] in "+-"


def test_an_error_carries_err_with_the_location_code_severity_and_text() -> None:
    ack = ack_for(INBOUND, "AE", "FT1-4 '20240231' is not a calendar date", "FT1[2]-4", control_id="A2", now=NOW)
    parsed, segments = fields(ack)
    assert segments["MSA"] == ["MSA", "AE", "MSG00001", "FT1-4 '20240231' is not a calendar date"]
    err = segments["ERR"]
    assert err[2] == "FT1^2^4" and err[3] == "207^Application internal error^HL70357" and err[4] == "E"
    assert err[7] == "FT1-4 '20240231' is not a calendar date"
    assert parsed.value(parsed.segments[0], 9, 1) == "ACK" and parsed.value(parsed.segments[0], 9, 3) == "ACK"


@pytest.mark.parametrize(("location", "code", "erl"), [
    ("MSH-9", "200^Unsupported message type^HL70357", "MSH^1^9"),
    ("PID", "100^Segment sequence error^HL70357", "PID^1"),
    ("IN1[1]-13", "207^Application internal error^HL70357", "IN1^1^13"),
    ("", "207^Application internal error^HL70357", ""),
])
def test_a_reject_names_the_hl7_error_condition(location: str, code: str, erl: str) -> None:
    err = fields(ack_for(INBOUND, "AR", "refused", location))[1]["ERR"]
    assert err[2:5] == [erl, code, "E"]


def test_the_error_code_can_be_given() -> None:
    err = fields(ack_for(INBOUND, "AE", "bad date", "FT1[1]-4", error_code="102"))[1]["ERR"]
    assert err[3] == "102^Data type error^HL70357"


def test_a_location_err_2_cannot_name_stays_in_the_text() -> None:
    err = fields(ack_for(INBOUND, "AR", "not a segment", "segment 5"))[1]["ERR"]
    assert err[2] == "" and err[7] == "at segment 5: not a segment"


def test_text_is_escaped_and_msa_3_kept_short() -> None:
    text = "bad | field ^ with & all ~ delimiters \\ and\ra line break " + "x" * 100
    parsed, segments = fields(ack_for(INBOUND, "AE", text, "PID-5"))
    assert len(parsed.segments) == 3  # the line break did not end a segment
    assert parsed.part(segments["ERR"][7]) == text.replace("\r", " ")
    msa_3 = parsed.part(segments["MSA"][3])
    assert len(msa_3) == 80 and text.replace("\r", " ").startswith(msa_3)


def test_the_inbound_delimiters_are_kept() -> None:
    inbound = INBOUND.translate(str.maketrans({"|": "#", "^": "$", "~": "*", "\\": "!", "&": "@"}))
    ack = ack_for(inbound, "AE", "x^y", "FT1[1]-11", control_id="A3", now=NOW)
    assert ack.startswith("MSH#$*!@#RCMFLOW#BILLING#EPIC#VALLEYCLINIC$2.16.840.1.113883.3.72$ISO#")
    parsed, segments = fields(ack)
    assert parsed.delimiters == Delimiters("#", "$", "*", "!", "@")
    assert segments["ERR"][2] == "FT1$1$11" and parsed.part(segments["ERR"][7]) == "x^y"


def test_the_trigger_event_and_version_are_the_inbound_ones() -> None:
    adt = INBOUND.replace("DFT^P03^DFT_P03", "ADT^A04^ADT_A01").replace("|2.5.1|", "|2.3|")
    msh = fields(ack_for(adt, "AR", "not a DFT^P03", "MSH-9"))[1]["MSH"]
    assert msh[9] == "ACK^A04^ACK" and msh[12] == "2.3"


@pytest.mark.parametrize("broken", [b"", b"\x00\xff\xfe binary", "PID|1||MRN\r", "MS", "MSH"])
def test_a_message_without_a_readable_msh_is_rejected_with_what_is_known(broken: str | bytes) -> None:
    ack = ack_for(broken, "AA", control_id="A4", now=NOW)
    assert ack == ("MSH|^~\\&|||||20240304153005-0500||ACK^P03^ACK|A4|P|2.5.1\rMSA|AR||no MSH segment\r"
                   "ERR||MSH^1|100^Segment sequence error^HL70357|E|||no MSH segment\r")


def test_with_unreadable_encoding_characters_the_control_id_is_still_echoed() -> None:
    ack = ack_for("MSH|^~|EPIC|CLINIC|RCMFLOW|BILLING|20240304||DFT^P03|MSG^77|P|2.5.1\r", "AE", "oops",
                  control_id="A5", now=NOW)
    _, segments = fields(ack)
    assert segments["MSH"][3:7] == ["RCMFLOW", "BILLING", "EPIC", "CLINIC"]
    # MSH-2 could not be read, so MSH-10 is plain text: its ^ is escaped rather than read as a component.
    assert segments["MSA"][:3] == ["MSA", "AR", "MSG\\S\\77"]
    assert segments["ERR"][2:5] == ["MSH^1^2", "102^Data type error^HL70357", "E"]
    assert segments["ERR"][7] == "MSH-2 encoding characters are not four distinct symbols: oops"


def test_an_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="CA"):
        ack_for(INBOUND, "CA")


@pytest.mark.parametrize(("location", "erl"), [
    ("FT1[2]-11", "FT1^2^11"), ("PID-7", "PID^1^7"), ("FT1[3]-26.1", "FT1^3^26^1^1"),
    ("PID-5.1.2", "PID^1^5^1^1^2"), ("MSH", "MSH^1"), ("DG1[2]", "DG1^2"), ("segment 4", ""), ("", ""),
])
def test_error_locations(location: str, erl: str) -> None:
    assert error_location_erl(location) == erl


def test_a_dft_result_answers_its_message() -> None:
    """How a channel handler acknowledges: the result's code and its first problem's place and text."""
    adt = INBOUND.replace("DFT^P03^DFT_P03", "ADT^A04^ADT_A01")
    result = read_dft_message(adt)
    problem = result.problems[0]
    _, segments = fields(ack_for(adt, result.ack_code, problem.message, problem.field))
    assert segments["MSA"][1:3] == ["AR", "MSG00001"]
    assert segments["ERR"][2:4] == ["MSH^1^9", "200^Unsupported message type^HL70357"]

"""Excerpts of stored X12 for the claim page: the right loop of the right transaction set, cut where the
implementation guide ends it, one segment per line, member identifiers masked."""

from __future__ import annotations

from rcmflow.formats.x12.excerpt import claim_loop, claim_payment_loops, mask_identifier
from tests.x12_text import ISA, remittance_835

SECOND_SET = [  # another 835 in the same interchange: a reversal and its correction of one claim, and a PLB
    "ST*835*0002", "BPR*I*95.00*C*ACH*CCP*01*011000015*DA*123456789*1999999999**01*021000021*DA*987654321*20261102",
    "TRN*1*EFT456*1999999999", "N1*PR*ACME HEALTH PLAN", "LX*1",
    "CLP*PCN2*22*-100.00*-100.00**12*PAYERCLAIM2", "NM1*QC*1*ROE*RICHARD****MI*XKB884120301",
    "CLP*PCN2*1*100.00*95.00**12*PAYERCLAIM2", "NM1*QC*1*ROE*RICHARD****MI*XKB884120301", "CAS*CO*45*5.00",
    "REF*1W*XKB884120301", "PLB*1234567893*20261231*L6*-0.00", "SE*12*0002",
]


def _two_sets() -> bytes:
    first = remittance_835(trace="EFT123").split("~\n")
    body = first[2:first.index("GE*1*7")]
    segments = [ISA, "GS*HP*PAYER*CLINIC*20261101*1200*7*X*005010X221A1", *body, *SECOND_SET, "GE*2*7",
                "IEA*1*000000042"]
    return ("~\n".join(segments) + "~\n").encode()


def test_the_clp_loops_of_the_set_with_the_trace_number_in_file_order() -> None:
    loops = claim_payment_loops(_two_sets(), trace_number="EFT456", control_number="0002")
    assert [loop.segments[0][:3] for loop in loops] == [("CLP", "PCN2", "22"), ("CLP", "PCN2", "1")]
    reversal, correction = (loop.lines() for loop in loops)
    assert reversal == ["CLP*PCN2*22*-100.00*-100.00**12*PAYERCLAIM2~", "NM1*QC*1*ROE*RICHARD****MI*••••••••0301~"]
    assert correction[-2:] == ["CAS*CO*45*5.00~", "REF*1W*••••••••0301~"]  # the PLB and SE are not the claim's
    assert "XKB884120301" in "".join(loops[1].lines(mask=False))
    [only] = claim_payment_loops(_two_sets(), trace_number="EFT123")
    assert only.lines()[0].startswith("CLP*PCN1*1*200.00") and only.lines()[-1] == "REF*6R*LINE1~"
    assert claim_payment_loops(_two_sets(), trace_number="NOPE") == []


def test_the_claim_loop_of_an_837_runs_to_the_next_claim() -> None:
    text = "~".join([
        ISA, "GS*HC*CLINIC*PAYER*20261101*1200*9*X*005010X222A1", "ST*837*0001*005010X222A1",
        "HL*1**20*1", "HL*2*1*22*0", "NM1*IL*1*RIVERA*ANA****MI*XKB884120301",
        "CLM*V1*125***11:B:1*Y*A*Y*Y", "HI*ABK:J029", "LX*1", "SV1*HC:99213*125*UN*1***1",
        "CLM*V2*80***11:B:1*Y*A*Y*Y", "LX*1", "SV1*HC:99212*80*UN*1***1",
        "HL*3*1*22*0", "CLM*V3*60***11:B:1*Y*A*Y*Y", "SE*14*0001", "GE*1*9", "IEA*1*000000042"]) + "~"
    first = claim_loop(text.encode(), "V1")
    assert first is not None and first.lines() == ["CLM*V1*125***11:B:1*Y*A*Y*Y~", "HI*ABK:J029~", "LX*1~",
                                                   "SV1*HC:99213*125*UN*1***1~"]
    assert claim_loop(text.encode(), "V2").lines()[-1] == "SV1*HC:99212*80*UN*1***1~"  # ends at the next HL
    assert claim_loop(text.encode(), "V3").lines() == ["CLM*V3*60***11:B:1*Y*A*Y*Y~"]
    assert claim_loop(text.encode(), "V9") is None


def test_an_identifier_is_masked_to_its_last_four_characters() -> None:
    assert mask_identifier("XKB884120301") == "••••••••0301"
    assert mask_identifier("1234") == "••••" and mask_identifier("") == ""

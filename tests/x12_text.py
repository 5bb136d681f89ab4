"""Small, hand-written X12 texts for tests of intake and the command line (not copies of samples)."""

from __future__ import annotations

ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         *261101*1200*^*00501*000000042*0*P*:"


def remittance_835(payment: str = "150.00", claim_paid: str = "150.00", trace: str = "EFT123") -> str:
    """A one-claim 835 whose BPR02 is ``payment`` and whose claim pays ``claim_paid``."""
    body = [
        "ST*835*0001",
        f"BPR*I*{payment}*C*ACH*CCP*01*011000015*DA*123456789*1999999999**01*021000021*DA*987654321*20261101",
        f"TRN*1*{trace}*1999999999",
        "N1*PR*ACME HEALTH PLAN",
        "N1*PE*VALLEY CLINIC*XX*1234567893",
        "LX*1",
        f"CLP*PCN1*1*200.00*{claim_paid}*30.00*12*PAYERCLAIM1",
        "NM1*QC*1*DOE*JANE****MI*M123",
        f"SVC*HC:99213*200.00*{claim_paid}**1",
        "DTM*472*20261015",
        "CAS*CO*45*20.00",
        "CAS*PR*2*30.00",
        "REF*6R*LINE1",
    ]
    body.append(f"SE*{len(body) + 1}*0001")
    segments = [ISA, "GS*HP*PAYER*CLINIC*20261101*1200*7*X*005010X221A1", *body, "GE*1*7", "IEA*1*000000042"]
    return "~\n".join(segments) + "~\n"

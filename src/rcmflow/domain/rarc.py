"""Remittance advice remark codes (RARC): what the remarks payers send with an adjustment mean.

A RARC (LQ*HE, MOA, MIA) explains a CARC further: the CARC says why money was adjusted, the remark says what
the payer wants or which policy applied. The full list is maintained by CMS and changes three times a year;
this table holds short forms of the remarks payers commonly send, shown to users next to the code. A code
not in it is shown as such, never guessed at.
"""

from __future__ import annotations

RARC_MEANINGS: dict[str, str] = {
    "M1": "X-ray not taken within the past 12 months or near enough to the start of treatment",
    "M15": "Separately billed services or tests were bundled as components of the same procedure",
    "M16": "Alert: see the payer's web site, mailings or bulletins for details of this policy or decision",
    "M20": "Missing, incomplete or invalid HCPCS code",
    "M51": "Missing, incomplete or invalid procedure code(s)",
    "M62": "Missing, incomplete or invalid treatment authorization code",
    "M76": "Missing, incomplete or invalid diagnosis or condition",
    "M77": "Missing, incomplete or invalid place of service",
    "M80": "Not covered when performed during the same session or date as a previously processed service",
    "M86": "Service denied: payment was already made for the same or a similar procedure within the time frame",
    "M123": "Missing, incomplete or invalid name, strength or dosage of the drug furnished",
    "M127": "Missing patient medical record for this service",
    "MA01": "Alert: if you disagree with what was approved for these services, you may appeal the decision",
    "MA04": "Secondary payment cannot be considered without the primary payer's identity or payment information",
    "MA07": "Alert: the claim information was also forwarded to Medicaid for review",
    "MA18": "Alert: the claim information is also being forwarded to the patient's supplemental insurer",
    "MA67": "Correction to a prior claim",
    "MA130": "The claim has incomplete or invalid information and is unprocessable: submit a new, corrected claim",
    "N4": "Missing, incomplete or invalid prior insurance carrier(s) EOB",
    "N20": "Service not payable with another service rendered on the same date",
    "N30": "Patient ineligible for this service",
    "N54": "Claim information is inconsistent with the pre-certified or authorized services",
    "N56": "Procedure code billed is not correct or valid for the services billed or the date of service",
    "N115": "This decision was based on a Local Coverage Determination (LCD)",
    "N130": "Consult the plan's benefit documents or guidelines for restrictions on this service",
    "N179": "Additional information was requested from the member; the charges will be reconsidered on receipt",
    "N211": "Alert: you may not appeal this decision",
    "N290": "Missing, incomplete or invalid rendering provider primary identifier",
    "N362": "The number of days or units of service exceeds the acceptable maximum",
    "N381": "Alert: consult the contractual agreement for restrictions, billing or payment information",
    "N386": "This decision was based on a National Coverage Determination (NCD)",
    "N479": "Missing explanation of benefits (coordination of benefits or Medicare secondary payer)",
    "N522": "Duplicate of a claim processed, or to be processed, as a crossover claim",
    "N657": "This should be billed with the appropriate code for these services",
}


def rarc_meaning(code: str) -> str:
    """The short meaning of a remark code, or a plain note that the code is not in the table."""
    key = code.strip().upper()
    return RARC_MEANINGS.get(key, f"RARC {key} (meaning not in rcmflow's table)")

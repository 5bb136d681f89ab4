"""Code sets the canonical objects carry, with their meanings (X12 5010 code lists).

Codes are kept as the plain strings the standards define; these tables give their meaning and
let readers and rules check them. CARC/RARC full lists are maintained by X12/CMS and are loaded
from data files by later services; only the categories needed here live in code.
"""

from __future__ import annotations

from enum import StrEnum

# CLP02: claim status codes (005010X221A1).
CLAIM_STATUS = {
    "1": "Processed as primary",
    "2": "Processed as secondary",
    "3": "Processed as tertiary",
    "4": "Denied",
    "19": "Processed as primary, forwarded to additional payer(s)",
    "20": "Processed as secondary, forwarded to additional payer(s)",
    "21": "Processed as tertiary, forwarded to additional payer(s)",
    "22": "Reversal of previous payment",
    "23": "Not our claim, forwarded to additional payer(s)",
    "25": "Predetermination pricing only, no payment",
}
CLAIM_STATUS_REVERSAL = "22"
CLAIM_STATUS_DENIED = "4"
CLAIM_STATUS_FORWARDED = frozenset({"19", "20", "21", "23"})


class AdjustmentGroup(StrEnum):
    """CAS01 claim adjustment group codes."""

    CONTRACTUAL = "CO"
    CORRECTION_REVERSAL = "CR"
    OTHER = "OA"
    PAYER_INITIATED = "PI"
    PATIENT_RESPONSIBILITY = "PR"


ADJUSTMENT_GROUPS = frozenset(group.value for group in AdjustmentGroup)

# BPR04: payment method codes.
PAYMENT_METHOD = {
    "ACH": "Automated Clearing House",
    "BOP": "Financial institution option",
    "CHK": "Check",
    "FWT": "Federal Reserve funds/wire transfer",
    "NON": "Non-payment data",
}

# BPR01: transaction handling codes.
TRANSACTION_HANDLING = {
    "C": "Payment accompanies remittance advice",
    "D": "Make payment only",
    "H": "Notification only",
    "I": "Remittance information only",
    "P": "Prenotification of future transfers",
    "U": "Split payment and remittance",
    "X": "Handling party's option to split payment and remittance",
}

# PLB03-1 and following: provider level adjustment reason codes.
PROVIDER_ADJUSTMENT_REASON = {
    "50": "Late charge",
    "51": "Interest penalty charge",
    "72": "Authorized return",
    "90": "Early payment allowance",
    "AH": "Origination fee",
    "AM": "Applied to borrower's account",
    "AP": "Acceleration of benefits",
    "B2": "Rebate",
    "B3": "Recovery allowance",
    "BD": "Bad debt adjustment",
    "BN": "Bonus",
    "C5": "Temporary allowance",
    "CR": "Capitation interest",
    "CS": "Adjustment",
    "CT": "Capitation payment",
    "CV": "Capital passthru",
    "CW": "Certified registered nurse anesthetist passthru",
    "DM": "Direct medical education passthru",
    "E3": "Withholding",
    "FB": "Forwarding balance",
    "FC": "Fund allocation",
    "GO": "Graduate medical education passthru",
    "HM": "Hemophilia clotting factor supplement",
    "IP": "Incentive premium payment",
    "IR": "Internal Revenue Service withholding",
    "IS": "Interim settlement",
    "J1": "Nonreimbursable",
    "L3": "Penalty",
    "L6": "Interest owed",
    "LE": "Levy",
    "LS": "Lump sum",
    "OA": "Organ acquisition passthru",
    "OB": "Offset for affiliated providers",
    "PI": "Periodic interim payment",
    "PL": "Payment final",
    "RA": "Retro-activity adjustment",
    "RE": "Return on equity",
    "SL": "Student loan repayment",
    "TL": "Third party liability",
    "WO": "Overpayment recovery",
    "WU": "Unspecified recovery",
}

# SVC01-1 / SV101-1 / SV202-1: product or service id qualifiers.
PROCEDURE_QUALIFIER = {
    "AD": "American Dental Association codes",
    "ER": "Jurisdiction specific procedure and supply codes",
    "HC": "HCPCS / CPT codes",
    "HP": "HIPPS skilled nursing facility rate code",
    "IV": "Home infusion EDI coalition (HIEC) product/service code",
    "N4": "National Drug Code in 5-4-2 format",
    "NU": "National Uniform Billing Committee revenue code",
    "WK": "Advanced billing concepts (ABC) codes",
}

# CLM05-3: claim frequency type codes.
CLAIM_FREQUENCY = {
    "1": "Original claim",
    "6": "Corrected claim",
    "7": "Replacement of prior claim",
    "8": "Void/cancel of prior claim",
}


class ClaimType(StrEnum):
    """Which 837 implementation a claim belongs to."""

    PROFESSIONAL = "P"
    INSTITUTIONAL = "I"


# HI qualifiers: principal and other diagnoses, professional (ABK/ABF) and institutional (BK/BF...).
PRINCIPAL_DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "BK"})
ADMITTING_DIAGNOSIS_QUALIFIERS = frozenset({"ABJ", "BJ"})
OTHER_DIAGNOSIS_QUALIFIERS = frozenset({"ABF", "BF"})
REASON_FOR_VISIT_QUALIFIERS = frozenset({"APR", "PR"})
EXTERNAL_CAUSE_QUALIFIERS = frozenset({"ABN", "BN"})
PROCEDURE_CODE_QUALIFIERS = frozenset({"BBR", "BBQ", "BR", "BQ", "CAH", "CAI"})

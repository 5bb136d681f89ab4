"""Claim adjustment reason codes (CARC): what each means, which ones are denials, and the denial category.

A CAS adjustment is either *pricing* (the payer applied its contract or the patient's benefits: the money
is settled, nobody needs to act) or a *denial* (the payer refused to pay for a reason someone can work:
fix the coding, get the authorisation, send the records, bill the right payer, appeal). Only denials open
work in the denials queue, and the category says which team and which playbook.

The rule (``is_denial``):

- The group must be CO, OA or PI. PR (patient responsibility) is never a denial for the provider: the
  amount moves to the patient and is collected from them, whatever the reason (a PR-204 non-covered
  service the patient agreed to pay is the patient's bill, not the denial specialist's). CR
  (correction/reversal) restates an earlier adjudication and is posted as such.
- The reason must be one of ``DENIAL_CATEGORIES``. Pricing reasons are kept out of that table on
  purpose (``PRICING_REASONS``, disjoint from it): 45 (charge above the fee schedule), 1/2/3
  (deductible, coinsurance, copay), 23 (the prior payer's adjudication), 24 (capitation), 253
  (sequestration), 59 (multiple-procedure rules), 94 (processed in excess of charges), 131 (negotiated
  discount), 144 (incentive adjustment) and the like reduce what the payer pays by contract or law:
  there is nothing to appeal.
- An unknown code is not a denial: it is posted as a contractual or other adjustment, which is visible
  in the ledger, rather than flooding the denials queue with codes nobody has classified. (On a claim the
  payer denied outright, CLP02 = 4, posting treats it as part of the denial: see ``domain.posting``.)

Codes are the X12 strings (``"16"``, ``"B7"``); meanings are short forms of the X12 CARC descriptions,
shown to users next to the code. Deactivated codes that payers still send (57, 62) are kept.
"""

from __future__ import annotations

ELIGIBILITY = "eligibility"
AUTHORIZATION = "authorization"
CODING = "coding"
MEDICAL_NECESSITY = "medical necessity"
TIMELY_FILING = "timely filing"
DUPLICATE = "duplicate"
COORDINATION_OF_BENEFITS = "coordination of benefits"
MISSING_INFORMATION = "missing information"
NON_COVERED = "non-covered"
BUNDLING = "bundling"
OTHER = "other"

CATEGORIES: tuple[str, ...] = (ELIGIBILITY, AUTHORIZATION, CODING, MEDICAL_NECESSITY, TIMELY_FILING, DUPLICATE,
                               COORDINATION_OF_BENEFITS, MISSING_INFORMATION, NON_COVERED, BUNDLING, OTHER)

DENIAL_GROUPS = frozenset({"CO", "OA", "PI"})

# Denial CARC -> category. Written per category (easier to review than one flat table).
_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    ELIGIBILITY: ("26", "27", "31", "32", "33", "34", "109", "140", "166", "177", "178", "179", "200", "258",
                  "B9"),
    AUTHORIZATION: ("15", "39", "62", "183", "184", "197", "198", "243", "288"),
    CODING: ("4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "40", "110", "146", "181", "182", "185",
             "189", "199", "206", "207", "208", "B7", "B16"),
    MEDICAL_NECESSITY: ("50", "55", "56", "57", "58", "150", "151", "152", "153", "154", "167", "B12", "B22"),
    TIMELY_FILING: ("29",),
    DUPLICATE: ("18", "B13"),
    COORDINATION_OF_BENEFITS: ("19", "20", "21", "22", "129", "136", "254", "P1"),
    MISSING_INFORMATION: ("16", "17", "107", "125", "163", "164", "226", "227", "252"),
    NON_COVERED: ("35", "49", "51", "53", "54", "60", "96", "111", "112", "114", "116", "117", "119", "149",
                  "155", "157", "158", "159", "160", "170", "171", "172", "190", "204", "242", "256", "273",
                  "283", "B1", "B5", "B15", "B20"),
    BUNDLING: ("97", "231", "234", "236"),
    OTHER: ("A1", "193"),
}

DENIAL_CATEGORIES: dict[str, str] = {code: category for category, codes in _BY_CATEGORY.items() for code in codes}

# Adjustments that settle the claim by contract, benefits or law: never a denial, whatever the group.
PRICING_REASONS = frozenset({
    "1", "2", "3", "23", "24", "42", "44", "45", "59", "66", "85", "89", "90", "94", "100", "101", "102", "104",
    "105", "118", "122", "130", "131", "132", "137", "142", "144", "161", "186", "187", "223", "237", "253",
})

CARC_MEANINGS: dict[str, str] = {
    "1": "Deductible amount",
    "2": "Coinsurance amount",
    "3": "Co-payment amount",
    "4": "Procedure code inconsistent with the modifier used, or a required modifier is missing",
    "5": "Procedure code or bill type inconsistent with the place of service",
    "6": "Procedure or revenue code inconsistent with the patient's age",
    "7": "Procedure or revenue code inconsistent with the patient's gender",
    "8": "Procedure code inconsistent with the provider type or specialty (taxonomy)",
    "9": "Diagnosis inconsistent with the patient's age",
    "10": "Diagnosis inconsistent with the patient's gender",
    "11": "Diagnosis inconsistent with the procedure",
    "12": "Diagnosis inconsistent with the provider type",
    "13": "Date of death precedes the date of service",
    "14": "Date of birth follows the date of service",
    "15": "Authorization number missing, invalid, or not for the billed services or provider",
    "16": "Claim or service lacks information or has submission/billing errors",
    "17": "Requested information was not provided or was insufficient (deactivated; see 226/227)",
    "18": "Exact duplicate claim or service",
    "19": "Work-related injury or illness: liability of the workers' compensation carrier",
    "20": "Injury or illness covered by the liability carrier",
    "21": "Injury or illness is the liability of the no-fault carrier",
    "22": "Care may be covered by another payer per coordination of benefits",
    "23": "Impact of prior payer(s) adjudication, including payments and adjustments",
    "24": "Charges covered under a capitation agreement or managed care plan",
    "26": "Expenses incurred prior to coverage",
    "27": "Expenses incurred after coverage terminated",
    "29": "The time limit for filing has expired",
    "31": "Patient cannot be identified as our insured",
    "32": "Patient is not an eligible dependent",
    "33": "Insured has no dependent coverage",
    "34": "Insured has no coverage for newborns",
    "35": "Lifetime benefit maximum has been reached",
    "39": "Services denied when authorization or pre-certification was requested",
    "40": "Charges do not meet the qualifications for emergent or urgent care",
    "42": "Charges exceed the usual and customary fee (deactivated; see 45)",
    "44": "Prompt-pay discount",
    "45": "Charge exceeds the fee schedule, maximum allowable or contracted fee arrangement",
    "49": "Routine or preventive exam, or screening done with one: not covered",
    "50": "Not deemed a medical necessity by the payer",
    "51": "Pre-existing condition: not covered",
    "53": "Services by an immediate relative or household member are not covered",
    "54": "Multiple physicians or assistants are not covered in this case",
    "55": "Procedure, treatment or drug deemed experimental or investigational by the payer",
    "56": "Procedure or treatment not deemed proven to be effective by the payer",
    "57": "Information submitted does not support this level of service (deactivated; see 150-154)",
    "58": "Rendered in an inappropriate or invalid place of service",
    "59": "Processed under multiple or concurrent procedure rules",
    "60": "Outpatient services too close to an inpatient stay are not covered",
    "62": "Pre-certification or authorization absent or exceeded (deactivated; see 197/198)",
    "66": "Blood deductible",
    "85": "Patient interest adjustment",
    "89": "Professional fees removed from charges",
    "90": "Ingredient cost adjustment",
    "94": "Processed in excess of charges",
    "96": "Non-covered charge(s)",
    "97": "Included in the payment or allowance for another service already adjudicated",
    "100": "Payment made to the patient, insured or responsible party",
    "101": "Predetermination: anticipated payment upon completion of services",
    "102": "Major medical adjustment",
    "104": "Managed care withholding",
    "105": "Tax withholding",
    "107": "The related or qualifying claim or service was not identified on this claim",
    "109": "Not covered by this payer: send the claim to the correct payer",
    "110": "Billing date predates the service date",
    "111": "Not covered unless the provider accepts assignment",
    "112": "Service not furnished directly to the patient and/or not documented",
    "114": "Procedure or product not approved by the FDA",
    "116": "The advance notice signed by the patient did not meet the requirements",
    "117": "Transportation covered only to the closest facility that can provide the care",
    "118": "ESRD network support adjustment",
    "119": "Benefit maximum for this time period or occurrence has been reached",
    "122": "Psychiatric reduction",
    "125": "Submission or billing error(s)",
    "129": "Prior processing information appears incorrect",
    "130": "Claim submission fee",
    "131": "Claim-specific negotiated discount",
    "132": "Prearranged demonstration project adjustment",
    "136": "Failure to follow the prior payer's coverage rules",
    "137": "Regulatory surcharges, assessments, allowances or health-related taxes",
    "140": "Patient/insured health identification number and name do not match",
    "142": "Monthly Medicaid patient liability amount",
    "144": "Incentive adjustment",
    "146": "Diagnosis was invalid for the date(s) of service",
    "149": "Lifetime benefit maximum reached for this service or benefit category",
    "150": "Information submitted does not support this level of service",
    "151": "Information submitted does not support this many services or this frequency",
    "152": "Information submitted does not support this length of service",
    "153": "Information submitted does not support this dosage",
    "154": "Information submitted does not support this day's supply",
    "155": "Patient refused the service or procedure",
    "157": "Service provided as a result of an act of war",
    "158": "Service provided outside the United States",
    "159": "Service provided as a result of terrorism",
    "160": "Injury or illness from an activity that is a benefit exclusion",
    "161": "Provider performance bonus",
    "163": "Attachment or documentation referenced on the claim was not received",
    "164": "Attachment or documentation referenced on the claim was not received in time",
    "166": "Submitted after the payer's responsibility for this plan ended",
    "167": "Diagnosis(es) not covered",
    "170": "Not paid when performed or billed by this type of provider",
    "171": "Not paid when performed or billed by this type of provider in this type of facility",
    "172": "Adjusted when performed or billed by a provider of this specialty",
    "177": "Patient has not met the eligibility requirements",
    "178": "Patient has not met the spend-down requirements",
    "179": "Patient has not met the waiting requirements",
    "181": "Procedure code was invalid on the date of service",
    "182": "Procedure modifier was invalid on the date of service",
    "183": "The referring provider is not eligible to refer the service billed",
    "184": "The prescribing or ordering provider is not eligible to order the service billed",
    "185": "The rendering provider is not eligible to perform the service billed",
    "186": "Level of care change adjustment",
    "187": "Consumer spending account payments",
    "189": "Unlisted or not-otherwise-classified code billed when a specific code exists",
    "190": "Included in the allowance for a skilled nursing facility qualified stay",
    "193": "Original payment decision maintained on review",
    "197": "Precertification, notification or authorization absent",
    "198": "Precertification, notification or authorization exceeded",
    "199": "Revenue code and procedure code do not match",
    "200": "Expenses incurred during a lapse in coverage",
    "204": "Service, equipment or drug not covered under the patient's current benefit plan",
    "206": "NPI missing",
    "207": "NPI invalid format",
    "208": "NPI not matched",
    "223": "Adjustment for a mandated federal, state or local law or regulation",
    "226": "Information requested from the billing or rendering provider was not provided or was insufficient",
    "227": "Information requested from the patient or insured was not provided or was insufficient",
    "231": "Mutually exclusive procedures cannot be done in the same day or setting",
    "234": "This procedure is not paid separately",
    "236": "Procedure or modifier combination not compatible with another procedure on the same day (NCCI)",
    "237": "Legislated or regulatory penalty",
    "242": "Services not provided by network or primary care providers",
    "243": "Services not authorized by network or primary care providers",
    "252": "An attachment or other documentation is required to adjudicate this claim",
    "253": "Sequestration: reduction in federal payment",
    "254": "Dental plan received the claim: submit to the patient's medical plan",
    "256": "Service not payable under the managed care contract",
    "258": "Not covered while the patient is in custody or incarcerated",
    "273": "Coverage or program guidelines were exceeded",
    "283": "Attending provider is not eligible to provide direction of care",
    "288": "Referral absent",
    "A1": "Claim or service denied",
    "B1": "Non-covered visits",
    "B5": "Coverage or program guidelines were not met or were exceeded",
    "B7": "Provider not certified or eligible to be paid for this service on this date",
    "B9": "Patient is enrolled in a hospice",
    "B12": "Services not documented in the patient's medical records",
    "B13": "Previously paid: payment for this claim or service may have been made already",
    "B15": "Requires a qualifying service or procedure to be received and covered",
    "B16": "'New patient' qualifications were not met",
    "B20": "Service partially or fully furnished by another provider",
    "B22": "Payment adjusted based on the diagnosis",
    "P1": "State-mandated requirement for property and casualty",
}


def denial_category(reason: str) -> str:
    """The denial category of a CARC ("other" for a code without one)."""
    return DENIAL_CATEGORIES.get(reason.strip().upper(), OTHER)


def is_denial(group: str, reason: str) -> bool:
    """True for a CO/OA/PI adjustment whose CARC is a denial reason (see the module docstring)."""
    return group.strip().upper() in DENIAL_GROUPS and reason.strip().upper() in DENIAL_CATEGORIES


def carc_meaning(reason: str) -> str:
    """The short meaning of a CARC, or a plain note that the code is not in the table."""
    code = reason.strip().upper()
    return CARC_MEANINGS.get(code, f"CARC {code} (meaning not in rcmflow's table)")

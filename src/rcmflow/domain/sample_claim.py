"""A complete claim, every optional part filled in, that rule packs are dry-run against when they load.

A rule that reads a field the facts lack, or calls a function that fails, is caught on this claim before
any real claim reaches it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rcmflow.domain.charges import CoverageFact, SourceClaim
from rcmflow.domain.claim import Claim, HealthCareCode, Patient, ServiceLine, Subscriber
from rcmflow.domain.parties import Address, Party, Reference
from rcmflow.domain.remittance import Procedure, QualifiedDate

_DAY = date(2026, 1, 5)
_ADDRESS = Address("1 MAIN ST", "", "HARTFORD", "CT", "06101")


def _line(number: int, code: str, modifiers: tuple[str, ...], charge: str, units: str = "1") -> ServiceLine:
    return ServiceLine(number, Decimal(charge), Procedure("HC", code, modifiers), unit_basis="UN",
                       units=Decimal(units), place_of_service="11", diagnosis_pointers=("1", "2"),
                       dates=(QualifiedDate("472", _DAY),), line_item_control_number=f"SAMPLE-{number}")


SAMPLE_CLAIM = Claim(
    "P", "SAMPLE1", Decimal("260.00"), "11", "B", "7", "Y", "A", "Y", "Y",
    billing_provider=Party("85", "VALLEY CLINIC", entity_type="2", id_qualifier="XX", id="1234567893",
                           address=_ADDRESS, references=(Reference("EI", "123456789"),), taxonomy="207Q00000X"),
    subscriber=Subscriber("P", "", "GRP1", "", "", "CI",
                          Party("IL", "DOE", "JANE", entity_type="1", id_qualifier="MI", id="M123456",
                                address=_ADDRESS, birth_date=date(1980, 1, 1), gender="F")),
    payer=Party("PR", "ACME HEALTH PLAN", entity_type="2", id_qualifier="PI", id="60054"),
    patient=Patient("19", Party("QC", "DOE", "TOM", entity_type="1", address=_ADDRESS,
                                birth_date=date(2012, 3, 4), gender="M")),
    references=(Reference("G1", "AUTH1"), Reference("F8", "PAYERICN1")),
    health_care_codes=(HealthCareCode("ABK", "J209"), HealthCareCode("ABF", "R051")),
    providers=(Party("82", "SMITH", "ANA", entity_type="1", id_qualifier="XX", id="1245319599",
                     taxonomy="208D00000X"),),
    service_lines=(_line(1, "99213", ("25",), "150.00"), _line(2, "80053", (), "60.00"),
                   _line(3, "80048", ("59",), "50.00", "2")),
)

SAMPLE_SOURCE_CLAIM = SourceClaim("sample", SAMPLE_CLAIM, CoverageFact("60054", "M123456", True, date(2026, 1, 1)),
                                  "sample", _DAY)

"""The billing provider of each facility that sends HL7 v2 charges (``config/hl7_facilities.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError

from rcmflow.domain.identifiers import is_valid_npi
from rcmflow.domain.parties import Address
from rcmflow.domain.strict_yaml import load_strict, quoted
from rcmflow.errors import ConfigurationError
from rcmflow.formats.hl7_dft import HL7BillingProvider

_MODEL = ConfigDict(frozen=True, extra="forbid")


def _text(value: Any) -> Any:
    return quoted(value, "ids and codes")


Text = Annotated[str, BeforeValidator(_text), StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class AddressSpec(BaseModel):
    model_config = _MODEL

    line1: Text
    line2: str = ""
    city: Text
    state: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    postal_code: Annotated[str, BeforeValidator(_text), StringConstraints(pattern=r"^[0-9]{5}([0-9]{4})?$")]


class FacilitySpec(BaseModel):
    model_config = _MODEL

    npi: Annotated[str, BeforeValidator(_text)]
    name: Text
    tax_id: Annotated[str, BeforeValidator(_text)] = ""
    taxonomy: str = ""
    address: AddressSpec | None = None
    outpatient_place_of_service: Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")] = "11"
    emergency_place_of_service: Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")] = "23"
    inpatient_place_of_service: Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")] = "21"


class FacilityFile(BaseModel):
    model_config = _MODEL

    version: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]
    facilities: dict[str, FacilitySpec]


def parse_hl7_facilities(text: str, *, source: str) -> Mapping[str, HL7BillingProvider]:
    """Facility id -> billing provider; ``ConfigurationError`` names the facility and field at fault."""
    try:
        spec = FacilityFile.model_validate(load_strict(text))
    except yaml.YAMLError as exc:
        raise ConfigurationError(detail=f"HL7 facilities {source} are not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
                             for error in exc.errors(include_url=False))
        raise ConfigurationError(detail=f"HL7 facilities {source}: {problems}") from exc
    result = {}
    for facility, item in spec.facilities.items():
        if not is_valid_npi(item.npi):
            raise ConfigurationError(detail=f"HL7 facilities {source}: facility {facility!r}: NPI {item.npi!r} fails "
                                            "its check digit")
        address = Address(item.address.line1, item.address.line2, item.address.city, item.address.state,
                          item.address.postal_code) if item.address else None
        result[facility] = HL7BillingProvider(item.npi, item.name, item.tax_id, item.taxonomy, address,
                                              item.outpatient_place_of_service, item.emergency_place_of_service,
                                              item.inpatient_place_of_service)
    return result


def load_hl7_facilities(path: str | Path | None = None) -> Mapping[str, HL7BillingProvider]:
    if path is None:
        text = files("rcmflow.config").joinpath("hl7_facilities.yaml").read_text(encoding="utf-8")
        return parse_hl7_facilities(text, source="(default) hl7_facilities.yaml")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(detail=f"HL7 facilities {path} cannot be read ({exc})") from exc
    return parse_hl7_facilities(text, source=str(path))

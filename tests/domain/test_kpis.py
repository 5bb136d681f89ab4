"""The KPI definitions: well-formed, documented exactly as defined, and their arithmetic (aging buckets, rates,
medians, percentiles) as ``docs/kpis.md`` states it."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcmflow.domain.kpis import (
    AGING_BUCKETS,
    DIMENSIONS,
    DRILL_LISTS,
    KPIS,
    UNITS,
    KpiDefinition,
    UnknownDimensionError,
    aging_bucket,
    check_dimension,
    median,
    percentile,
    quantize,
    rate,
    ratio,
    weighted_median,
    weighted_percentile,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"
D = Decimal


def test_every_kpi_is_well_formed() -> None:
    assert len(KPIS) >= 19
    for key, kpi in KPIS.items():
        assert kpi.key == key and re.fullmatch(r"[a-z0-9_]+", key)
        assert kpi.unit in UNITS and kpi.better in ("higher", "lower", "neither")
        assert set(kpi.dimensions) <= set(DIMENSIONS)
        assert kpi.drill[0] in DRILL_LISTS and all(isinstance(v, str) for v in kpi.drill[1].values())
        assert kpi.label and kpi.formula.endswith(".") and kpi.source


def test_a_definition_with_an_unknown_unit_dimension_or_list_is_refused() -> None:
    good = KPIS["clean_claim_rate"]
    for change, message in (({"unit": "euros"}, "unit"), ({"dimensions": ("colour",)}, "dimensions"),
                            ({"drill": ("invoices", {})}, "drill"), ({"better": "more"}, "better")):
        fields = {**good.__dict__, **change}
        with pytest.raises(ValueError, match=message):
            KpiDefinition(**fields)


def test_the_issue_s_kpis_are_all_there() -> None:
    assert {"claims_backlog", "ar_balance", "days_in_ar", "first_pass_acceptance_rate", "clean_claim_rate",
            "denial_rate", "denial_rate_dollars", "straight_through_posting_rate", "posting_latency_hours",
            "work_items_backlog", "exception_resolution_hours_median", "exception_resolution_hours_p90",
            "approval_cycle_hours", "rework_rate", "integration_failure_rate", "sla_breaches", "cash_posted",
            "cash_deposited", "cash_gap"} <= set(KPIS)


def _documented() -> dict[str, dict[str, str]]:
    """The KPI tables of docs/kpis.md: {key: {row name: text}}."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            current = {"label": line[4:].strip()}
        elif current is not None and (cells := re.fullmatch(r"\| ([a-z -]+) \| (.*) \|", line)):
            current[cells[1]] = cells[2]
            if cells[1] == "key":
                tables[cells[2].strip("`")] = current
    return tables


def test_docs_kpis_md_and_the_code_agree() -> None:
    documented = _documented()
    assert list(documented) == list(KPIS), "docs/kpis.md lists other KPIs, or in another order, than KPIS"
    for key, kpi in KPIS.items():
        doc = documented[key]
        assert doc["label"] == kpi.label, key
        assert doc["formula"] == kpi.formula, key
        assert doc["source"] == kpi.source, key
        assert doc["unit"] == kpi.unit, key
        assert doc["better"] == kpi.better, key
        assert doc["dimensions"] == (", ".join(kpi.dimensions) or "none (organisation-wide)"), key
        assert doc["drill-down"].startswith(kpi.drill[0]), key


def test_check_dimension_names_the_allowed_ones() -> None:
    check_dimension(None)
    check_dimension("payer")
    with pytest.raises(UnknownDimensionError, match="facility, payer, department, queue, exception_type"):
        check_dimension("colour")


@pytest.mark.parametrize(("days", "bucket"), [
    (-2, "0-30"), (0, "0-30"), (30, "0-30"), (30.99, "0-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"),
    (90, "61-90"), (91, "91-120"), (120, "91-120"), (120.5, "91-120"), (121, "120+"), (4000, "120+")])
def test_aging_buckets_are_whole_days(days: float, bucket: str) -> None:
    assert aging_bucket(days) == bucket
    assert bucket in AGING_BUCKETS


def test_rates_with_nothing_to_measure_are_none() -> None:
    assert rate(2, 3) == D("66.67") and rate(1, 8) == D("12.50") and rate(0, 5) == D("0.00")
    assert rate(0, 0) is None and rate(D("1.00"), D("0")) is None
    assert ratio(D("650.00") * 30, D("400.00"), "days") == D("48.75")
    assert ratio(1, 0, "days") is None
    assert quantize(D("0.005"), "percent") == D("0.01")  # half up
    assert quantize(7, "count") == D(7) and quantize(None, "usd") is None


def test_median_and_nearest_rank_percentile() -> None:
    assert median([]) is None and percentile([], 90) is None
    assert median([5]) == 5 and median([1, 3]) == 2 and median([1, 2, 10]) == 2
    assert median([1, 2, 3, 10]) == D("2.5")
    # p90 of ten values is the 9th; of three, the 3rd; of one, that one.
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile([390, 1440, 3240], 90) == 3240
    assert percentile([7], 90) == 7
    assert percentile([1, 2, 3, 4], 50) == 2
    with pytest.raises(ValueError):
        percentile([1], 0)


@given(st.lists(st.tuples(st.integers(min_value=-50, max_value=5000), st.integers(min_value=0, max_value=4)),
                max_size=12),
       st.integers(min_value=1, max_value=100))
def test_weighted_percentiles_equal_those_of_the_expanded_values(pairs: list[tuple[int, int]], p: int) -> None:
    expanded = sorted(value for value, times in pairs for _ in range(times))
    assert weighted_median(pairs) == median(expanded)
    assert weighted_percentile(pairs, p) == percentile(expanded, p)

"""Pages of a large organisation read figures stored ahead (the control tower's KPI reports, the process maps) and
say so: when they were computed, for whom, and that a stale one is being refreshed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from rcmflow.adapters.store.schema import kpi_reports, process_maps, utc_now
from rcmflow.services.background import wait_for_background
from rcmflow.services.kpi_reports import MAX_AGE, refresh_kpi_report, run_kpi_reports
from rcmflow.services.process_maps import refresh_process_map
from tests.entrypoints.web.browser import Clock
from tests.entrypoints.web.revenue_story import CLINIC_NPI, Story

Person = Callable[..., TestClient]


def _slow(engine: Engine, table: object, *, age: timedelta = timedelta(0)) -> None:
    """Pretend what is stored took seconds to compute (a health system's volume), ``age`` ago."""
    with engine.begin() as conn:
        conn.execute(update(table).values(duration_ms=5_000, computed_at=utc_now() - age))  # type: ignore[arg-type]


def _source(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</span>', page, re.S)
    assert match is not None, f"the page says nothing of {testid}"
    return " ".join(match.group(1).split())


def _tile(page: str, key: str) -> str:
    match = re.search(rf'data-testid="kpi-{key}">([^<]*)<', page)
    assert match is not None
    return match.group(1)


@pytest.mark.usefixtures("revenue_story")
def test_the_tower_says_whose_stored_figures_it_shows_and_when_they_were_computed(
        engine: Engine, person: Person, ui_clock: Clock) -> None:
    clinic = person("admin", facilities=[CLINIC_NPI])
    live = clinic.get("/ui/tower").text  # cheap here: computed now
    assert "figures computed" not in _source(live, "figures-source")
    assert wait_for_background()  # had computing been slow, a report was stored meanwhile: replaced below
    with engine.begin() as conn:
        refresh_kpi_report(conn, as_of=ui_clock(), window_days=30)
    _slow(engine, kpi_reports)
    stored = clinic.get("/ui/tower").text
    said = _source(stored, "figures-source")
    assert f"for facility {CLINIC_NPI} (its own figures)" in said and "being refreshed" not in said
    for key in ("claims_backlog", "ar_balance", "denial_rate", "cash_posted"):
        assert _tile(stored, key) == _tile(live, key), key  # the same figures as computing them for the clinic
    # A person of several facilities: computed now until their facility set's own report is stored (the worker
    # stores one per set people hold), then that one, saying so.
    two = person("admin", facilities=[CLINIC_NPI, "1234567890"])
    live_two = two.get("/ui/tower").text
    assert "computed now over your facilities" in _source(live_two, "figures-source")
    assert wait_for_background()
    assert run_kpi_reports(engine, ui_clock())["facility sets"]["refreshed"] == 1
    _slow(engine, kpi_reports)
    stored_two = two.get("/ui/tower").text
    said_two = _source(stored_two, "figures-source")
    assert "figures computed" in said_two and f"over your facilities 1234567890, {CLINIC_NPI}" in said_two
    for key in ("claims_backlog", "ar_balance", "denial_rate", "cash_posted"):
        assert _tile(stored_two, key) == _tile(live_two, key), key
    _slow(engine, kpi_reports, age=MAX_AGE + timedelta(minutes=1))
    stale = _source(person("admin").get("/ui/tower").text, "figures-source")
    assert "figures computed" in stale and "being refreshed now" in stale
    assert wait_for_background()


def test_the_process_map_says_when_a_stored_map_was_mined(engine: Engine, revenue_story: Story, person: Person,
                                                          ui_clock: Clock) -> None:
    lead = person("admin")
    assert "mined" not in _source(lead.get("/ui/process?days=90").text, "map-source")
    with engine.begin() as conn:
        refresh_process_map(conn, object_type="claim", window_days=90, until=ui_clock())
    _slow(engine, process_maps)
    page = lead.get("/ui/process?days=90").text
    said = _source(page, "map-source")
    assert "mined" in said and "the 90 days to" in said and 'class="process-map"' in page
    # A person limited to the clinic reads the map stored over the clinic's events, saying so.
    clinic = person("admin", facilities=[CLINIC_NPI])
    with engine.begin() as conn:
        refresh_process_map(conn, object_type="claim", window_days=90, until=ui_clock(), facilities=(CLINIC_NPI,))
    _slow(engine, process_maps)
    said = _source(clinic.get("/ui/process?days=90").text, "map-source")
    assert "mined" in said and f"over your facilities {CLINIC_NPI}" in said

"""The control tower's stored KPI reports: what is stored answers exactly what computing live answers (in total, per
slice, and for a person limited to one facility), and the tower reads it only when live would be slow and it
answers the view asked for; a stale report is served at once and refreshed once, in the background."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from rcmflow.adapters.store.schema import event_log, kpi_reports, utc_now
from rcmflow.domain.kpis import DIMENSIONS, KPIS
from rcmflow.services import kpi_reports as reports
from rcmflow.services.background import claim_refresh, wait_for_background
from rcmflow.services.events import append_events
from rcmflow.services.kpis import compute_kpis
from rcmflow.services.throughput import SERIES, daily_throughput
from rcmflow.services.worker import default_schedules, kpi_report_schedule
from tests.entrypoints.web.revenue_story import CLINIC_NPI, tell
from tests.services.test_kpis import AS_OF, at, claim_story, event, payment_story, work_story  # noqa: F401  (fixtures used below)


@pytest.fixture
def as_of(engine: Engine, tmp_path: Path) -> datetime:
    """Two visits paid and denied through the real pipeline, a held claim; the time of the last claim event."""
    tell(engine, tmp_path)
    with engine.connect() as conn:
        return conn.execute(select(func.max(event_log.c.occurred_at)).where(
            event_log.c.object_type == "claim")).scalar_one() + timedelta(hours=1)


def _slow(engine: Engine, *, ms: int = 5_000, age: timedelta = timedelta(0)) -> None:
    """Pretend the stored report took ``ms`` to compute, ``age`` ago."""
    with engine.begin() as conn:
        conn.execute(update(kpi_reports).values(duration_ms=ms, computed_at=utc_now() - age))


def _stored(engine: Engine, window_days: int = 30) -> reports.StoredReport:
    with engine.connect() as conn:
        found = reports.stored_report(conn, window_days=window_days)
    assert found is not None
    return found


def test_a_stored_report_answers_what_computing_live_answers_for_every_slice(engine: Engine, as_of: datetime) -> None:
    with engine.begin() as conn:
        assert reports.refresh_kpi_report(conn, as_of=as_of, window_days=30) >= 0
    stored = _stored(engine)
    with engine.connect() as conn:
        for by in (None, *DIMENSIONS):
            live = compute_kpis(conn, as_of=as_of, window_days=30, by=by)
            assert reports.report_of(stored.slices, by) == live, by
        assert stored.throughput == daily_throughput(conn, since=as_of - timedelta(days=14), until=as_of)
        live_total = compute_kpis(conn, as_of=as_of, window_days=30)
    assert live_total.value("denial_rate").value is not None  # the story has figures to compare, not just Nones


@pytest.fixture
def facility_events(engine: Engine) -> None:
    """Front-end answers, state changes that re-enter a state, and the throughput chart's events, in facilities F1
    and F2 and in none, within the window of ``AS_OF`` (the KPI tests' stories add claims, payments, work items
    and approvals in F1 and F2)."""
    accept, reject = "accept into adjudication (277CA)", "reject at front end (999)"
    moves = [event("claim", "K1", "submitted", "accepted", at(6, 21), activity=accept, facility="F1"),
             event("claim", "K2", "submitted", "rejected", at(6, 22), activity=reject, facility="F2"),
             event("claim", "K3", "submitted", "accepted", at(6, 23), activity=accept, facility="F2"),
             event("claim", "X1", "coded", "scrubbed", at(6, 2), facility="F1"),
             event("claim", "X1", "scrubbed", "coded", at(6, 3), facility="F1"),
             event("claim", "X1", "coded", "scrubbed", at(6, 4), facility="F1"),
             event("claim", "X2", "coded", "scrubbed", at(6, 5), facility="F2")]
    throughput = [event(kind, f"T{n}", None, "done", at(6, 20 + n % 10, n), activity=activity, facility=facility)
                  for n, ((_, kind, activity), facility) in enumerate(
                      (series, facility) for series in SERIES for facility in ("F1", "F2", "F2", None))]
    with engine.begin() as conn:
        append_events(conn, moves + throughput)


@pytest.mark.usefixtures("claim_story", "payment_story", "work_story", "facility_events")
def test_a_facilitys_own_figures_in_the_stored_report_are_what_computing_for_that_facility_gives(
        engine: Engine) -> None:
    with engine.begin() as conn:
        reports.refresh_kpi_report(conn, as_of=AS_OF, window_days=30)
    _slow(engine)
    stored = _stored(engine)
    assert stored.facility_throughput is not None
    since = AS_OF - timedelta(days=reports.THROUGHPUT_DAYS)
    with engine.connect() as conn:
        assert reports.report_of(stored.slices, None) == compute_kpis(conn, as_of=AS_OF, window_days=30)
        assert stored.throughput == daily_throughput(conn, since=since, until=AS_OF)
        for facility in ("F1", "F2", "F9"):  # F9 has nothing at all: every KPI's "nothing counted"
            for by in (None, "facility"):
                live = compute_kpis(conn, as_of=AS_OF, window_days=30, by=by, facilities=(facility,))
                assert reports.facility_report_of(stored.slices, facility, by) == live, (facility, by)
            figures = reports.tower_report(conn, as_of=AS_OF, window_days=30, by=None, facilities=(facility,))
            assert (figures.source, figures.facility) == ("stored", facility)
            assert figures.throughput == daily_throughput(conn, since=since, until=AS_OF, facilities=[facility])
        f1, f2 = (compute_kpis(conn, as_of=AS_OF, window_days=30, facilities=(f,)) for f in ("F1", "F2"))
    # The stories give the facilities figures of every kind to compare: rates, medians, counts, money, aging, denial
    # categories.
    assert f2.value("denial_rate").value is not None and f2.value("first_pass_acceptance_rate").value is not None
    assert f2.value("exception_resolution_hours_median").value is not None and f2.denials_by_category
    assert f2.value("claims_backlog").value and f1.value("ar_balance").value and f1.value("days_in_ar").value
    assert any(row.count for row in f1.aging if row.subject == "ar")
    assert any(count for _, count in stored.facility_throughput["F2"]["Claims submitted"])


def test_the_tower_computes_live_while_that_is_cheap_and_reads_a_stored_report_when_it_is_not(
        engine: Engine, as_of: datetime) -> None:
    with engine.connect() as conn:
        first = reports.tower_report(conn, as_of=as_of, window_days=30, by=None, facilities=None)
        assert first.source == "live"
    assert wait_for_background()
    with engine.begin() as conn:
        assert reports.stored_report(conn, window_days=30) is None  # cheap: nothing to store
        reports.refresh_kpi_report(conn, as_of=as_of, window_days=30)
    _slow(engine)  # as if this organisation were a health system with a million claims
    later = as_of + timedelta(hours=2)
    with engine.connect() as conn:
        stored = reports.tower_report(conn, as_of=later, window_days=30, by="payer", facilities=None)
        assert stored.source == "stored" and stored.report.as_of == as_of  # as of the refresh, and says so
        assert stored.report == compute_kpis(conn, as_of=as_of, window_days=30, by="payer")
        assert not stored.stale and stored.facility is None


def test_a_person_of_one_facility_reads_its_own_stored_figures_and_of_several_facilities_gets_live_ones(
        engine: Engine, as_of: datetime) -> None:
    with engine.begin() as conn:
        reports.refresh_kpi_report(conn, as_of=as_of, window_days=30)
    _slow(engine)
    later = as_of + timedelta(hours=2)
    with engine.connect() as conn:
        one = reports.tower_report(conn, as_of=later, window_days=30, by=None, facilities=(CLINIC_NPI,))
        assert (one.source, one.facility) == ("stored", CLINIC_NPI)
        assert one.report == compute_kpis(conn, as_of=as_of, window_days=30, facilities=(CLINIC_NPI,))
        assert one.report.value("denial_rate").value is not None
        assert one.report.value("cash_posted").value is None  # organisation-wide: nothing for one facility
        # Sliced by payer within the facility: not stored, so computed over the facility now.
        by_payer = reports.tower_report(conn, as_of=later, window_days=30, by="payer", facilities=(CLINIC_NPI,))
        assert by_payer.source == "live"
        assert by_payer.report == compute_kpis(conn, as_of=later, window_days=30, by="payer",
                                               facilities=(CLINIC_NPI,))
        # Several facilities: medians of several facilities are no sum of theirs, so live.
        several = reports.tower_report(conn, as_of=later, window_days=30, by=None,
                                       facilities=(CLINIC_NPI, "1234567890"))
        assert several.source == "live" and several.report.as_of == later


def test_a_stale_stored_report_is_served_at_once_and_refreshed_in_the_background(
        engine: Engine, as_of: datetime) -> None:
    with engine.begin() as conn:
        reports.refresh_kpi_report(conn, as_of=as_of, window_days=30)
    _slow(engine, age=reports.MAX_AGE + timedelta(minutes=1))  # no worker has refreshed it
    before = _stored(engine).computed_at
    later = as_of + timedelta(hours=3)
    with engine.connect() as conn:
        stale = reports.tower_report(conn, as_of=later, window_days=30, by=None, facilities=None)
    assert (stale.source, stale.stale, stale.computed_at) == ("stored", True, before)
    assert stale.report.as_of == as_of  # the old figures, saying when they were computed
    assert wait_for_background()
    refreshed = _stored(engine)
    assert refreshed.slices.as_of == later and refreshed.computed_at > before
    with engine.connect() as conn:
        assert reports.report_of(refreshed.slices, None) == compute_kpis(conn, as_of=later, window_days=30)


def test_a_refresh_another_process_holds_is_not_started_again(engine: Engine, as_of: datetime) -> None:
    with engine.begin() as conn:
        reports.refresh_kpi_report(conn, as_of=as_of, window_days=30)
    _slow(engine, age=reports.MAX_AGE + timedelta(minutes=1))
    key = [kpi_reports.c.organisation_id == "default", kpi_reports.c.window_days == 30]
    assert claim_refresh(engine, kpi_reports, key, lease=timedelta(minutes=5))  # another process's refresh
    assert not claim_refresh(engine, kpi_reports, key, lease=timedelta(minutes=5))
    with engine.connect() as conn:
        assert reports.tower_report(conn, as_of=as_of + timedelta(hours=3), window_days=30, by=None,
                                    facilities=None).stale
    assert wait_for_background()
    assert _stored(engine).slices.as_of == as_of  # this process left it to the other one
    # A lease that ran out (the other process died) may be taken.
    assert claim_refresh(engine, kpi_reports, key, lease=timedelta(minutes=5), now=utc_now() + timedelta(minutes=6))


def test_a_page_that_computed_slowly_leaves_a_stored_report_for_the_next_page(
        engine: Engine, as_of: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "LIVE_BUDGET_MS", 0)  # every computation counts as slow here
    with engine.connect() as conn:
        assert reports.tower_report(conn, as_of=as_of, window_days=7, by=None, facilities=None).source == "live"
    assert wait_for_background()
    with engine.connect() as conn:
        second = reports.tower_report(conn, as_of=as_of + timedelta(minutes=1), window_days=7, by="department",
                                      facilities=None)
        assert second.source == "stored"  # every dimension was stored, not only what the first page showed
        assert second.report == compute_kpis(conn, as_of=as_of, window_days=7, by="department")


def test_the_worker_refreshes_every_window_of_the_tower(engine: Engine, as_of: datetime) -> None:
    schedule = kpi_report_schedule()
    assert schedule.name in [s.name for s in default_schedules(relay=None)]  # type: ignore[arg-type]
    outcome = schedule.run(engine, as_of)
    assert set(outcome["milliseconds"]["default"]) == set(reports.WINDOWS)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(kpi_reports.c.window_days)).scalars()) == sorted(reports.WINDOWS)
        assert conn.execute(select(kpi_reports.c.refreshing_until)).scalars().all() == [None] * len(reports.WINDOWS)


def test_every_kpi_says_what_nothing_counted_is(engine: Engine) -> None:
    """``nothing_counted`` is the engine's own answer over a scope with no rows, KPI by KPI."""
    from rcmflow.services.kpis import nothing_counted

    with engine.connect() as conn:
        empty = compute_kpis(conn, as_of=AS_OF, window_days=30, facilities=("F9",))
    for key, kpi in KPIS.items():
        if "facility" in kpi.dimensions:
            assert nothing_counted(key) == empty.value(key), key

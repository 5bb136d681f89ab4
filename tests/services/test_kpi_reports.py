"""The control tower's stored KPI reports: what is stored answers exactly what computing live answers (in total, per
slice, for a person limited to one facility, and for one limited to several from their facility set's own report),
and the tower reads it only when live would be slow and it answers the view asked for; a stale report is served at
once and refreshed once, in the background."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from rcmflow.adapters.store.schema import event_log, kpi_reports, principals, utc_now
from rcmflow.domain.kpis import DIMENSIONS, KPIS
from rcmflow.services import kpi_reports as reports
from rcmflow.services.background import claim_refresh, wait_for_background
from rcmflow.services.events import append_events
from rcmflow.services.kpis import compute_kpis
from rcmflow.services.principals import create_client, create_user
from rcmflow.services.throughput import SERIES, daily_throughput
from rcmflow.services.worker import default_schedules, kpi_report_schedule
from tests.entrypoints.web.browser import PASSWORD
from tests.entrypoints.web.revenue_story import CLINIC_NPI, tell
from tests.services.test_kpis import (  # noqa: F401  (fixtures used below)
    AS_OF,
    add_claim,
    add_work_item,
    at,
    claim_story,
    event,
    payment_story,
    work_story,
)


@pytest.fixture
def as_of(engine: Engine, tmp_path: Path) -> datetime:
    """Two visits paid and denied through the real pipeline, a held claim; the time of the last claim event."""
    tell(engine, tmp_path)
    with engine.connect() as conn:
        return conn.execute(select(func.max(event_log.c.occurred_at)).where(
            event_log.c.object_type == "claim")).scalar_one() + timedelta(hours=1)


def _slow(engine: Engine, *, ms: int = 5_000, age: timedelta = timedelta(0)) -> None:
    """Pretend the stored reports took ``ms`` to compute, ``age`` ago."""
    with engine.begin() as conn:
        conn.execute(update(kpi_reports).values(duration_ms=ms, computed_at=utc_now() - age))


def _stored(engine: Engine, window_days: int = 30,
            facilities: tuple[str, ...] | None = None) -> reports.StoredReport:
    with engine.connect() as conn:
        found = reports.stored_report(conn, window_days=window_days, facilities=facilities)
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
        # Several facilities: medians of several facilities are no sum of theirs, so live until their own facility
        # set's report is stored.
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


TWO = ("F1", "F2")  # the facility set of the people below; F3 is another facility of the organisation


@pytest.fixture
def third_facility(engine: Engine) -> None:
    """F3: open and paid claims, open and resolved work items, and the throughput chart's events, in the window."""
    with engine.begin() as conn:
        add_claim(conn, facility="F3", payer="P1", department="D1", state="submitted", created=at(6, 15),
                  total="900.00")
        add_claim(conn, facility="F3", payer="P2", state="coded", created=at(6, 25), total="20.00", findings=[1])
        add_work_item(conn, facility="F3", payer="P1", queue="denials", item_type="denial", state="open",
                      created=at(6, 2), due=at(6, 3))
        add_work_item(conn, facility="F3", payer="P1", queue="denials", item_type="denial", state="resolved",
                      created=at(6, 3), due=at(6, 4), resolved=at(6, 28))
        append_events(conn, [event(kind, f"F3-{n}", None, "done", at(6, 22, n), activity=activity, facility="F3")
                             for n, (_, kind, activity) in enumerate(SERIES)])


def _people(engine: Engine) -> None:
    """Who is limited to which facilities: two people and a system of F1 and F2 (one set), a person of F3 (one
    facility: the organisation's facility slice answers them), a coder of F1 and F3 (no tower for a coder), and a
    person of F2 and F3 who has left."""
    with engine.begin() as conn:
        for name, roles, facilities in (("two.sites", ["admin"], ["F2", "F1"]), ("two.sites.b", ["biller"], TWO),
                                        ("third.site", ["admin"], ["F3"]), ("coder.sites", ["coder"], ["F1", "F3"]),
                                        ("left.sites", ["admin"], ["F2", "F3"])):
            create_user(conn, name, PASSWORD, roles=roles, facilities=facilities, actor="test", now=AS_OF)
        create_client(conn, "two sites feed", roles=["controller"], facilities=TWO, actor="test", now=AS_OF)
        conn.execute(update(principals).where(principals.c.name == "left.sites").values(active=False))


@pytest.mark.usefixtures("claim_story", "payment_story", "work_story", "facility_events", "third_facility")
def test_the_worker_stores_each_facility_sets_own_report_and_it_is_what_computing_over_those_facilities_gives(
        engine: Engine) -> None:
    _people(engine)
    outcome = kpi_report_schedule().run(engine, AS_OF)
    assert {k: outcome["facility sets"][k] for k in ("held", "refreshed", "left for later runs")} == {
        "held": 1, "refreshed": 1, "left for later runs": 0}
    with engine.connect() as conn:
        rows = {(row.facility_scope, row.window_days)
                for row in conn.execute(select(kpi_reports.c.facility_scope, kpi_reports.c.window_days))}
        assert rows == {(scope, w) for scope in ("", "F1,F2") for w in reports.WINDOWS}
        stored_json = conn.execute(select(kpi_reports.c.report).where(kpi_reports.c.facility_scope == "F1,F2",
                                                                      kpi_reports.c.window_days == 30)).scalar_one()
    _slow(engine)
    later = AS_OF + timedelta(hours=2)
    with engine.connect() as conn:
        for by in (None, *DIMENSIONS):
            figures = reports.tower_report(conn, as_of=later, window_days=30, by=by, facilities=("F2", "F1"))
            assert (figures.source, figures.facilities, figures.facility) == ("stored", TWO, None)
            live = compute_kpis(conn, as_of=AS_OF, window_days=30, by=by, facilities=TWO)
            for key in KPIS:
                assert figures.report.value(key) == live.value(key), (by, key)
            assert figures.report == live, by  # every group, the aging and the denial categories as well
        assert figures.throughput == daily_throughput(conn, since=AS_OF - timedelta(days=reports.THROUGHPUT_DAYS),
                                                      until=AS_OF, facilities=TWO)
        every = compute_kpis(conn, as_of=AS_OF, window_days=30)
        two = compute_kpis(conn, as_of=AS_OF, window_days=30, facilities=TWO)
        by_facility = reports.tower_report(conn, as_of=later, window_days=30, by="facility", facilities=TWO).report
    # Other facilities' data is not in it: not in the stored row, not in any group, not in the totals.
    assert "F3" not in json.dumps(stored_json)
    assert {v.group for v in by_facility.values if v.group is not None} == set(TWO)
    assert two.value("claims_backlog").value < every.value("claims_backlog").value  # type: ignore[operator]
    # Figures of every kind to compare, medians among them (no combination of per-facility figures gives those).
    assert two.value("exception_resolution_hours_median").value is not None
    assert two.value("denial_rate").value is not None and two.value("days_in_ar").value is not None
    assert two.denials_by_category and any(row.count for row in two.aging)
    assert any(count for _, count in figures.throughput["Claims submitted"])


@pytest.mark.usefixtures("claim_story", "work_story", "third_facility")
def test_a_facility_set_with_no_stored_report_is_computed_live_and_its_report_stored_for_the_next_page(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with engine.begin() as conn:
        reports.refresh_kpi_report(conn, as_of=AS_OF, window_days=30)  # the organisation's, slow below
    _slow(engine)
    monkeypatch.setattr(reports, "LIVE_BUDGET_MS", 0)  # every computation counts as slow here
    sites = ("F3", "F1")  # a person created since the worker's last run
    with engine.connect() as conn:
        first = reports.tower_report(conn, as_of=AS_OF, window_days=30, by=None, facilities=sites)
        assert (first.source, first.facilities) == ("live", None)
        assert first.report == compute_kpis(conn, as_of=AS_OF, window_days=30, facilities=sites)
    assert wait_for_background()
    stored = _stored(engine, facilities=("F1", "F3"))  # the set's own report, whatever order the ids came in
    assert stored.slices.as_of == AS_OF
    with engine.connect() as conn:
        second = reports.tower_report(conn, as_of=AS_OF + timedelta(minutes=1), window_days=30, by="payer",
                                      facilities=sites)
        assert (second.source, second.facilities) == ("stored", ("F1", "F3"))
        assert second.report == compute_kpis(conn, as_of=AS_OF, window_days=30, by="payer", facilities=sites)
    assert _stored(engine).slices.as_of == AS_OF  # the organisation's report was left alone


@pytest.mark.usefixtures("claim_story", "work_story", "third_facility")
def test_a_stale_facility_set_report_is_served_at_once_and_only_it_is_refreshed(engine: Engine) -> None:
    with engine.begin() as conn:
        reports.refresh_kpi_report(conn, as_of=AS_OF, window_days=30)
        reports.refresh_kpi_report(conn, as_of=AS_OF, window_days=30, facilities=TWO)
        add_claim(conn, facility="F1", payer="P1", state="submitted", created=at(6, 30, 13), total="5.00")
    _slow(engine, age=reports.MAX_AGE + timedelta(minutes=1))
    before = _stored(engine, facilities=TWO).computed_at
    later = AS_OF + timedelta(hours=3)
    with engine.connect() as conn:
        stale = reports.tower_report(conn, as_of=later, window_days=30, by=None, facilities=TWO)
    assert (stale.source, stale.stale, stale.computed_at, stale.facilities) == ("stored", True, before, TWO)
    assert stale.report.as_of == AS_OF
    assert wait_for_background()
    refreshed = _stored(engine, facilities=TWO)
    assert refreshed.slices.as_of == later and refreshed.computed_at > before
    with engine.connect() as conn:
        assert reports.report_of(refreshed.slices, None) == compute_kpis(conn, as_of=later, window_days=30,
                                                                         facilities=TWO)
    assert reports.report_of(refreshed.slices, None).value("claims_backlog") != stale.report.value("claims_backlog")
    assert _stored(engine).slices.as_of == AS_OF  # the organisation's stale report: refreshed by its own pages

"""The control tower's stored KPI reports: what is stored answers exactly what computing live answers, and the
tower reads it only when live would be slow, fresh, and for someone who sees every facility."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from rcmflow.adapters.store.schema import event_log, kpi_reports, utc_now
from rcmflow.domain.kpis import DIMENSIONS
from rcmflow.services import kpi_reports as reports
from rcmflow.services.kpis import compute_kpis
from rcmflow.services.throughput import daily_throughput
from rcmflow.services.worker import default_schedules, kpi_report_schedule
from tests.entrypoints.web.revenue_story import tell


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


def test_a_stored_report_answers_what_computing_live_answers_for_every_slice(engine: Engine, as_of: datetime) -> None:
    with engine.begin() as conn:
        assert reports.refresh_kpi_report(conn, as_of=as_of, window_days=30) >= 0
    with engine.connect() as conn:
        slices, throughput, _, _ = reports.stored_report(conn, window_days=30)
        for by in (None, *DIMENSIONS):
            live = compute_kpis(conn, as_of=as_of, window_days=30, by=by)
            assert reports.report_of(slices, by) == live, by
        assert throughput == daily_throughput(conn, since=as_of - timedelta(days=14), until=as_of)
    live_total = compute_kpis(engine.connect(), as_of=as_of, window_days=30)
    assert live_total.value("denial_rate").value is not None  # the story has figures to compare, not just Nones


def test_the_tower_computes_live_while_that_is_cheap_and_reads_a_fresh_stored_report_when_it_is_not(
        engine: Engine, as_of: datetime) -> None:
    with engine.begin() as conn:
        first = reports.tower_report(conn, as_of=as_of, window_days=30, by=None, facilities=None)
        assert first.source == "live"
        assert reports.stored_report(conn, window_days=30) is None  # cheap: nothing to store
        reports.refresh_kpi_report(conn, as_of=as_of, window_days=30)
    _slow(engine)  # as if this organisation were a health system with a million claims
    with engine.begin() as conn:
        stored = reports.tower_report(conn, as_of=as_of + timedelta(hours=2), window_days=30, by="payer",
                                      facilities=None)
        assert stored.source == "stored" and stored.report.as_of == as_of  # as of the refresh, and says so
        assert stored.report == compute_kpis(conn, as_of=as_of, window_days=30, by="payer")
        scoped = reports.tower_report(conn, as_of=as_of, window_days=30, by=None, facilities=("1234567893",))
        assert scoped.source == "live"  # a sum of groups would not give a facility-limited person's rates
    _slow(engine, age=reports.MAX_AGE + timedelta(minutes=1))  # no worker has refreshed it: the page does
    with engine.begin() as conn:
        later = as_of + timedelta(hours=3)
        stale = reports.tower_report(conn, as_of=later, window_days=30, by=None, facilities=None)
        assert stale.source == "live"
        assert reports.stored_report(conn, window_days=30)[0].as_of == later


def test_the_worker_refreshes_every_window_of_the_tower(engine: Engine, as_of: datetime) -> None:
    schedule = kpi_report_schedule()
    assert schedule.name in [s.name for s in default_schedules(relay=None)]  # type: ignore[arg-type]
    outcome = schedule.run(engine, as_of)
    assert set(outcome["milliseconds"]["default"]) == set(reports.WINDOWS)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(kpi_reports.c.window_days)).scalars()) == sorted(reports.WINDOWS)

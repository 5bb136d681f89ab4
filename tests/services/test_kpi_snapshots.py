"""Daily KPI snapshots: a day snapshotted twice holds one set of rows (totals and every group of every dimension),
trends read them back day by day, and the worker's schedule snapshots yesterday and today."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import kpi_snapshots
from rcmflow.domain.kpis import KPIS, NO_GROUP
from rcmflow.errors import InputError
from rcmflow.services.kpi_snapshots import kpi_trend, run_snapshots, snapshot_as_of, snapshot_kpis
from rcmflow.services.kpis import compute_kpis, day_end
from rcmflow.services.worker import default_schedules, kpi_snapshot_schedule
from tests.services.test_kpis import add_claim, add_work_item, at

D = Decimal
DAY = date(2026, 6, 30)


def _rows(engine: Engine, day: date = DAY) -> list[tuple[str, str, str, Decimal | None]]:
    s = kpi_snapshots.c
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(  # type: ignore[misc]
            select(s.kpi, s.dimension, s.group_value, s.value).where(s.day == day)
            .order_by(s.kpi, s.dimension, s.group_value))]


@pytest.fixture
def story(engine: Engine) -> None:
    """Two open claims (F1 P1 captured 06-29 with a finding, F2 P2 captured 06-30 clean) and one open work item in
    the denials queue (F1 P1, due 06-29: overdue)."""
    with engine.begin() as conn:
        add_claim(conn, facility="F1", payer="P1", state="scrubbed", created=at(6, 29), total="100.00", findings=[1])
        add_claim(conn, facility="F2", payer="P2", state="ready", created=at(6, 30, 9), total="50.00")
        add_work_item(conn, facility="F1", payer="P1", queue="denials", item_type="denial", state="open",
                      created=at(6, 28), due=at(6, 29))


def test_a_snapshot_holds_totals_and_every_group_and_a_second_run_replaces_it(engine: Engine, story: None) -> None:
    with engine.begin() as conn:
        written = snapshot_kpis(conn, day=DAY, now=at(7, 1))
    rows = _rows(engine)
    assert written == len(rows)
    totals = {kpi: value for kpi, dimension, group, value in rows if dimension == ""}
    assert set(totals) == set(KPIS)  # one total per KPI, group_value '' with it
    assert all(group == "" for _, dimension, group, _ in rows if dimension == "")
    # Clean-claim rate: 1 clean of 2 captured -> 50.00 %; by facility F1 0.00 %, F2 100.00 %.
    assert totals["clean_claim_rate"] == D("50.00") and totals["claims_backlog"] == D(2)
    by = {(kpi, dimension, group): value for kpi, dimension, group, value in rows}
    assert by[("clean_claim_rate", "facility", "F1")] == D("0.00")
    assert by[("clean_claim_rate", "facility", "F2")] == D("100.00")
    assert by[("work_items_backlog", "queue", "denials")] == D(1)
    assert by[("sla_breaches", "exception_type", "denial")] == D(1)
    assert by[("claims_backlog", "department", NO_GROUP)] == D(2)
    assert ("claims_backlog", "queue", "denials") not in by  # claims have no queue
    assert totals["days_in_ar"] is None  # nothing to measure is stored as NULL

    with engine.begin() as conn:  # the same day again, after a change: one set of rows, the new figures
        add_claim(conn, facility="F1", payer="P1", state="coded", created=at(6, 30, 10), total="10.00")
        again = snapshot_kpis(conn, day=DAY, now=at(7, 1, 1))
    rows_again = _rows(engine)
    assert again == len(rows_again) == written
    assert {kpi: value for kpi, dimension, _, value in rows_again if dimension == ""}["claims_backlog"] == D(3)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(kpi_snapshots)).scalar_one() == written


def test_a_snapshot_is_the_report_as_of_the_end_of_its_day(engine: Engine, story: None) -> None:
    assert snapshot_as_of(DAY, now=at(7, 1)) == day_end(DAY) == datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)
    assert snapshot_as_of(DAY, now=at(6, 30, 10)) == at(6, 30, 10)  # a day not over yet: as of now
    with engine.begin() as conn:
        snapshot_kpis(conn, day=DAY, now=at(7, 1))
        report = compute_kpis(conn, as_of=day_end(DAY))
    stored = {kpi: value for kpi, dimension, _, value in _rows(engine) if dimension == ""}
    assert stored == {v.key: v.value for v in report.values}


def test_a_trend_is_one_value_per_day_with_none_where_there_is_no_snapshot(engine: Engine, story: None) -> None:
    with engine.begin() as conn:
        snapshot_kpis(conn, day=date(2026, 6, 28), now=at(7, 1))  # before the claims: nothing captured yet
        snapshot_kpis(conn, day=DAY, now=at(7, 1))
    with engine.connect() as conn:
        trend = kpi_trend(conn, "claims_backlog", days=4, until=DAY)
        assert trend == [(date(2026, 6, 27), None), (date(2026, 6, 28), D(0)), (date(2026, 6, 29), None),
                         (DAY, D(2))]
        assert kpi_trend(conn, "clean_claim_rate", days=1, until=DAY) == [(DAY, D("50.00"))]
        assert kpi_trend(conn, "clean_claim_rate", days=3, until=DAY, dimension="facility", group="F2") == [
            (date(2026, 6, 28), None), (date(2026, 6, 29), None), (DAY, D("100.00"))]
        # 06-28: no claim captured -> no clean-claim rate (stored NULL).
        assert kpi_trend(conn, "clean_claim_rate", days=3, until=DAY)[0] == (date(2026, 6, 28), None)
        for bad in ({"key": "colour"}, {"group": "F1"}, {"dimension": "facility"},
                    {"dimension": "colour", "group": "x"}, {"days": 0}):
            arguments = {"key": "claims_backlog", "days": 3, "until": DAY, **bad}
            with pytest.raises(InputError):
                kpi_trend(conn, **arguments)  # type: ignore[arg-type]


def test_another_organisation_has_its_own_snapshots(engine: Engine, story: None) -> None:
    with engine.begin() as conn:
        snapshot_kpis(conn, day=DAY, now=at(7, 1), organisation_id="north")
    with engine.connect() as conn:
        assert kpi_trend(conn, "claims_backlog", days=1, until=DAY, organisation_id="north") == [(DAY, D(0))]
        assert kpi_trend(conn, "claims_backlog", days=1, until=DAY) == [(DAY, None)]


def test_the_worker_snapshots_yesterday_and_today(engine: Engine, story: None) -> None:
    schedule = kpi_snapshot_schedule()
    assert (schedule.name, schedule.interval) == ("kpi snapshots", timedelta(hours=1))
    assert "kpi snapshots" in [s.name for s in default_schedules(relay=None)]  # type: ignore[arg-type]
    result = schedule.run(engine, at(7, 1, 3))
    assert isinstance(result, dict) and result["organisations"] == 1 and result["rows"] > 0
    with engine.connect() as conn:
        days = sorted(conn.execute(select(kpi_snapshots.c.day).distinct()).scalars())
        assert days == [DAY, date(2026, 7, 1)]
        # Today's snapshot is as of now (03:00), yesterday's as of its end: both see the two claims.
        assert kpi_trend(conn, "claims_backlog", days=2, until=date(2026, 7, 1)) == [(DAY, D(2)),
                                                                                      (date(2026, 7, 1), D(2))]
    assert run_snapshots(engine, at(7, 1, 4))["rows"] == result["rows"]  # the next hour replaces, never adds
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(kpi_snapshots)).scalar_one() == result["rows"]

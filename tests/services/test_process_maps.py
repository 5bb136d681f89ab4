"""The process map page's stored maps: a stored map is the mined one, read back whole; the page reads it when mining
is slow and the view is one the worker stores (every facility or a facility set some people are limited to, the
page's windows), serves a stale one at once and refreshes it in the background, and mines the others itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from rcmflow.adapters.store.schema import process_maps, utc_now
from rcmflow.services import process_maps as maps
from rcmflow.services.background import wait_for_background
from rcmflow.services.principals import create_user
from rcmflow.services.process_mining import ProcessMining
from rcmflow.services.worker import default_schedules, process_map_schedule
from tests.entrypoints.web.browser import PASSWORD
from tests.services.test_process_mining import T0, A, B, C, _load

UNTIL = T0 + timedelta(days=1)


def _slow(engine: Engine, *, ms: int = 5_000, age: timedelta = timedelta(0)) -> None:
    """Pretend the stored maps took ``ms`` to mine, ``age`` ago."""
    with engine.begin() as conn:
        conn.execute(update(process_maps).values(duration_ms=ms, computed_at=utc_now() - age))


def _mined(engine: Engine, **options: object) -> ProcessMining:
    with engine.connect() as conn:
        return maps.mine_window(conn, object_type="claim", window_days=30, until=UNTIL, **options)  # type: ignore[arg-type]


def _page(engine: Engine, *, window_days: int = 30, until: object = UNTIL,
          facilities: tuple[str, ...] | None = None) -> maps.MapFigures:
    with engine.connect() as conn:
        return maps.process_map(conn, object_type="claim", window_days=window_days, until=until,  # type: ignore[arg-type]
                                facilities=facilities)


def test_a_stored_map_is_the_mined_map_read_back_whole(engine: Engine) -> None:
    _load(engine, A, B, C)
    mined = _mined(engine)
    assert mined.cases == 3 and mined.conformance.illegal_moves and mined.rework and mined.model
    assert ProcessMining.from_dict(mined.to_dict()) == mined
    with engine.begin() as conn:
        assert maps.refresh_process_map(conn, object_type="claim", window_days=30, until=UNTIL) >= 0
    with engine.connect() as conn:
        stored = maps.stored_process_map(conn, object_type="claim", window_days=30)
    assert stored is not None and stored.mining == mined and stored.until == UNTIL
    assert list(stored.mining.end_activities) == list(mined.end_activities)  # most frequent first, as mined


def test_the_page_mines_while_that_is_cheap_and_reads_the_stored_map_when_it_is_not(engine: Engine) -> None:
    _load(engine, A, B)
    with engine.begin() as conn:
        maps.refresh_process_map(conn, object_type="claim", window_days=30, until=UNTIL)
    _load(engine, C)  # after the map was stored
    assert _page(engine).source == "live" and _page(engine).mining.cases == 3  # cheap: mined now
    _slow(engine)
    stored = _page(engine, until=UNTIL + timedelta(hours=1))
    assert (stored.source, stored.until, stored.stale) == ("stored", UNTIL, False)
    assert stored.mining.cases == 2  # the map as it was stored, saying when
    # A person limited to some facilities whose map is not stored (yet), or a window the page does not offer:
    # mined now, for them.
    scoped = _page(engine, facilities=("F1",))
    assert scoped.source == "live" and scoped.mining == _mined(engine, facilities=("F1",))
    assert _page(engine, window_days=45).source == "live"


def test_a_stale_stored_map_is_served_at_once_and_refreshed_in_the_background(engine: Engine) -> None:
    _load(engine, A, B)
    with engine.begin() as conn:
        maps.refresh_process_map(conn, object_type="claim", window_days=30, until=UNTIL)
    _load(engine, C)
    _slow(engine, age=maps.MAX_AGE + timedelta(minutes=1))
    later = UNTIL + timedelta(hours=1)
    stale = _page(engine, until=later)
    assert (stale.source, stale.stale, stale.mining.cases) == ("stored", True, 2)
    assert wait_for_background()
    with engine.connect() as conn:
        refreshed = maps.stored_process_map(conn, object_type="claim", window_days=30)
        assert refreshed is not None and refreshed.until == later and refreshed.mining.cases == 3
        assert refreshed.mining == maps.mine_window(conn, object_type="claim", window_days=30, until=later)


def test_a_page_that_mined_slowly_leaves_a_stored_map_for_the_next_page(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _load(engine, A, B, C)
    monkeypatch.setattr(maps, "LIVE_BUDGET_MS", 0)  # every mining counts as slow here
    assert _page(engine).source == "live"
    assert wait_for_background()
    assert _page(engine).source == "stored"


def test_the_worker_stores_every_object_type_and_window_of_the_page(engine: Engine) -> None:
    _load(engine, A, B, C)
    schedule = process_map_schedule()
    assert schedule.name in [s.name for s in default_schedules(relay=None)]  # type: ignore[arg-type]
    outcome = schedule.run(engine, UNTIL)
    assert len(outcome["milliseconds"]["default"]) == len(maps.OBJECT_TYPES) * len(maps.WINDOWS)
    with engine.connect() as conn:
        stored = {(row.object_type, row.window_days)
                  for row in conn.execute(select(process_maps.c.object_type, process_maps.c.window_days))}
        assert stored == {(t, d) for t in maps.OBJECT_TYPES for d in maps.WINDOWS}
        claims = maps.stored_process_map(conn, object_type="claim", window_days=7)
    assert claims is not None and claims.mining == _mined_days(engine, 7)


def _mined_days(engine: Engine, days: int) -> ProcessMining:
    with engine.connect() as conn:
        return maps.mine_window(conn, object_type="claim", window_days=days, until=UNTIL)


def _people(engine: Engine, *facility_sets: list[str]) -> None:
    with engine.begin() as conn:
        for n, facilities in enumerate(facility_sets):
            create_user(conn, f"sites.{n}", PASSWORD, roles=["admin"], facilities=facilities, actor="test", now=UNTIL)


def test_the_worker_stores_the_maps_of_each_facility_set_and_each_is_the_one_mined_over_those_facilities(
        engine: Engine) -> None:
    _load(engine, A, B)  # in F1
    _load(engine, C, facility="F2")
    _load(engine, (("D", [("registered", 0), ("coded", 7)])), facility="F3")
    _people(engine, ["F1"], ["F2", "F1"], ["F1", "F2"])  # two sets: one facility, and two
    outcome = process_map_schedule().run(engine, UNTIL)
    assert {k: outcome["facility sets"][k] for k in ("held", "refreshed")} == {"held": 2, "refreshed": 2}
    with engine.connect() as conn:
        scopes = set(conn.execute(select(process_maps.c.facility_scope).distinct()).scalars())
    assert scopes == {"", "F1", "F1,F2"}
    _slow(engine)
    for facilities, cases in ((("F1",), 2), (("F2", "F1"), 3)):
        served = _page(engine, facilities=facilities, until=UNTIL + timedelta(hours=1))
        assert (served.source, served.facilities) == ("stored", tuple(sorted(facilities)))
        assert served.mining == _mined(engine, facilities=facilities)  # exactly the map mined over them
        assert served.mining.cases == cases  # F3's claim D is in no map of theirs
    assert _page(engine).mining.cases == 4  # the organisation's map has it


def test_a_facility_set_with_no_stored_map_is_mined_in_the_page_and_stored_for_the_next_page(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _load(engine, A, B)
    _load(engine, C, facility="F2")
    monkeypatch.setattr(maps, "LIVE_BUDGET_MS", 0)  # every mining counts as slow here
    first = _page(engine, facilities=("F2",))
    assert first.source == "live" and first.mining.cases == 1
    assert wait_for_background()
    second = _page(engine, facilities=("F2",))
    assert (second.source, second.facilities) == ("stored", ("F2",)) and second.mining == first.mining
    with engine.connect() as conn:
        assert maps.stored_process_map(conn, object_type="claim", window_days=30) is None  # only theirs was mined


def test_a_stale_facility_set_map_is_served_at_once_and_refreshed_in_the_background(engine: Engine) -> None:
    _load(engine, A)
    with engine.begin() as conn:
        maps.refresh_process_map(conn, object_type="claim", window_days=30, until=UNTIL, facilities=("F1",))
    _load(engine, B)
    _slow(engine, age=maps.MAX_AGE + timedelta(minutes=1))
    later = UNTIL + timedelta(hours=1)
    stale = _page(engine, facilities=("F1",), until=later)
    assert (stale.source, stale.stale, stale.mining.cases) == ("stored", True, 1)
    assert wait_for_background()
    with engine.connect() as conn:
        refreshed = maps.stored_process_map(conn, object_type="claim", window_days=30, facilities=("F1",))
        assert refreshed is not None and refreshed.until == later and refreshed.mining.cases == 2
        assert refreshed.mining == maps.mine_window(conn, object_type="claim", window_days=30, until=later,
                                                    facilities=("F1",))

"""Facility sets: one key per set whatever the order of its ids; the sets held by active principals who may read
reports; and a schedule run that refreshes at most the configured number of sets, those waiting longest first, and
forgets the sets no one holds any more."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from rcmflow.adapters.store.schema import principals, process_maps
from rcmflow.services.facility_scopes import EVERY_FACILITY, FacilitySet, held_facility_sets, scope_key
from rcmflow.services.principals import create_client, create_user
from rcmflow.services.process_maps import run_process_maps
from rcmflow.settings import reset_settings
from tests.entrypoints.web.browser import PASSWORD
from tests.services.test_process_mining import T0, A, _load

UNTIL = T0 + timedelta(days=1)


def test_a_facility_set_has_one_key_whatever_the_order_and_long_or_odd_sets_a_digest() -> None:
    assert scope_key(None) == EVERY_FACILITY == ""
    assert scope_key(("F2", "F1", "F2")) == scope_key(["F1", "F2"]) == "F1,F2"
    long = [f"{n:010d}" for n in range(20)]  # twenty NPIs: longer than the column
    assert scope_key(long) == scope_key(reversed(long)) and scope_key(long).startswith("sha256:")
    assert len(scope_key(long)) <= 128
    # An id holding a comma would make "A,B" ambiguous; no facility is not every facility.
    assert scope_key(["A,B"]) != scope_key(["A", "B"]) and scope_key(["A,B"]).startswith("sha256:")
    assert scope_key(()) not in (EVERY_FACILITY, scope_key(["F1"]))


def test_the_sets_held_are_those_of_active_principals_who_may_read_reports(engine: Engine) -> None:
    with engine.begin() as conn:
        create_user(conn, "a", PASSWORD, roles=["admin"], facilities=["F2", "F1"], actor="t", now=T0)
        create_client(conn, "feed", roles=["controller"], facilities=["F1", "F2"], actor="t", now=T0)
        create_user(conn, "b", PASSWORD, roles=["biller"], facilities=["F3"], actor="t", now=T0)
        create_user(conn, "c", PASSWORD, roles=["coder"], facilities=["F4", "F5"], actor="t", now=T0)  # no reports
        create_user(conn, "d", PASSWORD, roles=["admin"], facilities=["F6", "F7"], actor="t", now=T0)
        create_user(conn, "e", PASSWORD, roles=["admin"], actor="t", now=T0)  # every facility
        create_user(conn, "f", PASSWORD, roles=["admin"], facilities=["F8", "F9"], actor="t", now=T0,
                    organisation_id="other")
        conn.execute(update(principals).where(principals.c.name == "d").values(active=False))
        assert held_facility_sets(conn, "default") == [FacilitySet("default", ("F1", "F2")),
                                                       FacilitySet("default", ("F3",))]
        assert held_facility_sets(conn, "default", least=2) == [FacilitySet("default", ("F1", "F2"))]


def _scopes(engine: Engine) -> dict[str, object]:
    m = process_maps.c
    with engine.connect() as conn:
        return dict(conn.execute(select(m.facility_scope, m.computed_at).where(m.object_type == "claim",
                                                                                m.window_days == 30)).all())


def test_a_run_refreshes_at_most_the_configured_sets_longest_waiting_first_and_forgets_unheld_ones(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _load(engine, A)
    with engine.begin() as conn:
        for name, facilities in (("a", ["F1"]), ("b", ["F1", "F2"]), ("c", ["F3"])):
            create_user(conn, name, PASSWORD, roles=["admin"], facilities=facilities, actor="t", now=T0)
    monkeypatch.setenv("RCMFLOW_STORED_FACILITY_SETS_PER_RUN", "2")
    reset_settings()
    first = run_process_maps(engine, UNTIL)["facility sets"]
    assert {k: first[k] for k in ("held", "refreshed", "left for later runs", "cap")} == {
        "held": 3, "refreshed": 2, "left for later runs": 1, "cap": 2}
    assert first["milliseconds"] >= 0
    after_first = _scopes(engine)
    assert set(after_first) == {"", "F1", "F1,F2"}  # in key order among sets never stored
    second = run_process_maps(engine, UNTIL)["facility sets"]
    assert second["refreshed"] == 2
    after_second = _scopes(engine)
    assert after_second["F3"] is not None  # never stored: first
    assert sum(after_second[key] != after_first[key] for key in ("F1", "F1,F2")) == 1  # then the oldest one
    # The person of F3 leaves: their set's maps are deleted, not kept forever.
    with engine.begin() as conn:
        conn.execute(update(principals).where(principals.c.name == "c").values(active=False))
    assert run_process_maps(engine, UNTIL)["facility sets"]["forgotten rows"] > 0
    assert set(_scopes(engine)) == {"", "F1", "F1,F2"}

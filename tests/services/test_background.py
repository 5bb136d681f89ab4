"""Background work a page starts: never two at once for the same key in a process, and a failure is logged, not
raised into the page."""

from __future__ import annotations

import logging
import threading

import pytest

from rcmflow.services.background import running, start_once, wait_for_background


def test_work_of_a_key_runs_once_at_a_time_and_may_run_again_when_done() -> None:
    gate, ran = threading.Event(), []

    def work() -> None:
        gate.wait(10)
        ran.append("a")

    assert start_once(("refresh", 1), work)
    assert not start_once(("refresh", 1), work)  # still running: not started twice
    assert start_once(("refresh", 2), lambda: ran.append("b"))  # another key runs alongside
    assert ("refresh", 1) in running()
    gate.set()
    assert wait_for_background(10)
    assert sorted(ran) == ["a", "b"] and running() == []
    assert start_once(("refresh", 1), lambda: ran.append("again"))
    assert wait_for_background(10) and ran[-1] == "again"


def test_a_failing_piece_of_work_is_logged_and_frees_its_key(caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> None:
        raise RuntimeError("the database went away")

    with caplog.at_level(logging.ERROR, logger="rcmflow.services.background"):
        assert start_once("failing", fail)
        assert wait_for_background(10)
    assert "the database went away" in caplog.text
    assert start_once("failing", lambda: None) and wait_for_background(10)

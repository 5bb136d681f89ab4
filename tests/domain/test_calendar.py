"""Business time: nights, weekends, US federal holidays (observed dates too) and DST are handled exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcmflow.domain.calendar import BusinessCalendar

ET = ZoneInfo("America/New_York")
CAL = BusinessCalendar()
H = timedelta(hours=1)


def et(*args: int) -> datetime:
    return datetime(*args, tzinfo=ET)


@pytest.mark.parametrize(("start", "hours", "due"), [
    # Thanksgiving Thursday is skipped: 1 h on Wednesday, 7 h on Friday.
    (et(2026, 11, 25, 16), 8, et(2026, 11, 27, 15)),
    # Friday afternoon into Monday morning.
    (et(2026, 11, 20, 16), 2, et(2026, 11, 23, 9)),
    # Before opening, after closing, and on a Saturday: the clock starts at the next opening.
    (et(2026, 11, 23, 6), 1, et(2026, 11, 23, 9)),
    (et(2026, 11, 23, 18), 1, et(2026, 11, 24, 9)),
    (et(2026, 11, 21, 12), 1, et(2026, 11, 23, 9)),
    # A full day's work that ends at closing is due at closing, not at the next opening.
    (et(2026, 11, 23, 8), 9, et(2026, 11, 23, 17)),
    # Independence Day 2026 is a Saturday: observed Friday July 3.
    (et(2026, 7, 2, 16), 2, et(2026, 7, 6, 9)),
    # Christmas 2026 (Friday).
    (et(2026, 12, 24, 16), 2, et(2026, 12, 28, 9)),
    # Christmas 2027 and New Year 2028 are Saturdays: observed Friday Dec 24 and Friday Dec 31, 2027.
    (et(2027, 12, 23, 16), 2, et(2027, 12, 27, 9)),
    (et(2027, 12, 30, 16), 2, et(2028, 1, 3, 9)),
    # Labor Day Monday 2026-09-07 and the three-day weekend.
    (et(2026, 9, 4, 12), 9, et(2026, 9, 8, 12)),
])
def test_add_business_time_skips_nights_weekends_and_holidays(start: datetime, hours: int, due: datetime) -> None:
    result = CAL.add_business_time(start, hours * H)
    assert result == due and result.tzinfo == UTC
    assert CAL.business_time_between(start, result) == hours * H


def test_daylight_saving_changes_neither_stretch_nor_shrink_a_working_day() -> None:
    # Spring forward (Sunday 2026-03-08): 16:00 EST Friday + 2 h is 09:00 EDT Monday, i.e. 13:00 UTC.
    spring = CAL.add_business_time(et(2026, 3, 6, 16), 2 * H)
    assert spring == datetime(2026, 3, 9, 13, tzinfo=UTC) == et(2026, 3, 9, 9)
    # Fall back (Sunday 2026-11-01): 16:00 EDT Friday + 2 h is 09:00 EST Monday, i.e. 14:00 UTC.
    fall = CAL.add_business_time(et(2026, 10, 30, 16), 2 * H)
    assert fall == datetime(2026, 11, 2, 14, tzinfo=UTC) == et(2026, 11, 2, 9)
    # A working day on either side is 9 business hours, although the weekend had 71 or 73 clock hours.
    assert CAL.business_time_between(et(2026, 3, 6, 8), et(2026, 3, 9, 17)) == 18 * H
    assert CAL.business_time_between(et(2026, 10, 30, 8), et(2026, 11, 2, 17)) == 18 * H


def test_business_time_between_counts_only_open_hours_and_is_signed() -> None:
    assert CAL.business_time_between(et(2026, 11, 16, 8), et(2026, 11, 23, 8)) == 45 * H  # a normal week
    assert CAL.business_time_between(et(2026, 11, 23, 8), et(2026, 11, 30, 8)) == 36 * H  # Thanksgiving week
    assert CAL.business_time_between(et(2026, 11, 21, 0), et(2026, 11, 22, 23)) == timedelta(0)  # a weekend
    assert CAL.business_time_between(et(2026, 11, 24, 9), et(2026, 11, 23, 9)) == -9 * H


def test_is_business_time() -> None:
    assert CAL.is_business_time(et(2026, 11, 23, 8))  # opening is inside
    assert CAL.is_business_time(et(2026, 11, 23, 16, 59, 59))
    assert not CAL.is_business_time(et(2026, 11, 23, 17))  # closing is outside
    assert not CAL.is_business_time(et(2026, 11, 26, 12))  # Thanksgiving
    assert not CAL.is_business_time(et(2026, 11, 28, 12))  # Saturday
    assert not CAL.is_business_time(et(2026, 11, 11, 12))  # Veterans Day
    assert CAL.holiday_name(date(2026, 11, 26)) == "Thanksgiving Day"


def test_subtract_is_the_inverse_of_add() -> None:
    due = et(2026, 11, 27, 15)
    assert CAL.subtract_business_time(due, 8 * H) == et(2026, 11, 25, 16)
    # From before opening, the clock runs backwards from the previous closing.
    assert CAL.subtract_business_time(et(2026, 11, 30, 7), 1 * H) == et(2026, 11, 27, 16)
    assert CAL.add_business_time(due, -8 * H) == et(2026, 11, 25, 16)
    assert CAL.subtract_business_time(due, timedelta(0)) == due


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    minutes=st.integers(min_value=1, max_value=60 * 200),
)
def test_round_trips(start: datetime, minutes: int) -> None:
    duration = timedelta(minutes=minutes)
    due = CAL.add_business_time(start, duration)
    assert due > start
    assert CAL.business_time_between(start, due) == duration
    assert CAL.is_business_time(due) or CAL.is_business_time(due - timedelta(microseconds=1))
    # Going back lands on the start itself when it was in business hours, else on the next opening.
    assert CAL.subtract_business_time(due, duration) == CAL.next_business_time(start)


def test_business_days_are_the_calendars_day_length() -> None:
    assert CAL.day_length == 9 * H
    assert CAL.business_days(2) == 18 * H
    assert BusinessCalendar(opens=time(7, 30), closes=time(16)).business_days(1) == timedelta(hours=8, minutes=30)


def test_configurable_zone_workdays_subdivision_and_closed_dates() -> None:
    pacific = BusinessCalendar(timezone="America/Los_Angeles")
    assert pacific.add_business_time(datetime(2026, 11, 23, 16, tzinfo=ET), H) == datetime(
        2026, 11, 23, 14, tzinfo=ZoneInfo("America/Los_Angeles"))
    # Patriots' Day (third Monday of April) closes Massachusetts, not the federal calendar.
    assert not BusinessCalendar(subdivision="MA").is_business_day(date(2026, 4, 20))
    assert CAL.is_business_day(date(2026, 4, 20))
    storm = BusinessCalendar(closed_dates=[date(2026, 11, 24)])
    assert storm.add_business_time(et(2026, 11, 23, 16), 2 * H) == et(2026, 11, 25, 9)
    no_holidays = BusinessCalendar(country=None)
    assert no_holidays.is_business_day(date(2026, 11, 26))
    six_days = BusinessCalendar(workdays=range(6))
    assert six_days.add_business_time(et(2026, 11, 20, 16), 2 * H) == et(2026, 11, 21, 9)


def test_bad_configuration_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="open before"):
        BusinessCalendar(opens=time(17), closes=time(8))
    with pytest.raises(ValueError, match="workdays"):
        BusinessCalendar(workdays=[])
    with pytest.raises(ZoneInfoNotFoundError):
        BusinessCalendar(timezone="Mars/Olympus_Mons")
    with pytest.raises(NotImplementedError):
        BusinessCalendar(country="XX")
    with pytest.raises(ValueError, match="naive"):
        CAL.add_business_time(datetime(2026, 11, 23, 9), H)

"""The business calendar: when the back office works, so that SLAs count working time, not clock time.

A business day is a workday (Mon-Fri by default) that is neither a public holiday of the configured
country/subdivision (the ``holidays`` package, observed dates included: 2026-07-03 for a Saturday
July 4th) nor an extra closed date. Business hours are wall-clock hours in the calendar's IANA time
zone, so 08:00-17:00 in New York is 13:00-22:00 UTC in winter and 12:00-21:00 UTC in summer.

Every instant in and out is timezone-aware; results are in UTC. Durations are elapsed time inside
business hours, so a change of daylight saving time at 02:00 never stretches or shrinks a working day
that runs 08:00-17:00.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

DEFAULT_TIMEZONE = "America/New_York"
DEFAULT_OPENS = time(8)
DEFAULT_CLOSES = time(17)
DEFAULT_WORKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday .. Friday, as date.weekday()
_ZERO = timedelta(0)
# No real calendar goes ten years without a business day; a configuration that does would loop forever.
_MAX_DAYS = 3660


class BusinessCalendar:
    """Business hours, workdays and holidays in one time zone, with exact business-time arithmetic."""

    def __init__(
        self,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        opens: time = DEFAULT_OPENS,
        closes: time = DEFAULT_CLOSES,
        workdays: Iterable[int] = DEFAULT_WORKDAYS,
        country: str | None = "US",
        subdivision: str | None = None,
        closed_dates: Iterable[date] = (),
    ) -> None:
        if opens >= closes:
            raise ValueError(f"business hours must open before they close: {opens} >= {closes}")
        days = frozenset(workdays)
        if not days or not days <= set(range(7)):
            raise ValueError(f"workdays must be a non-empty set of weekday numbers 0-6, got {sorted(days)}")
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)  # raises ZoneInfoNotFoundError for an unknown zone
        self.opens = opens
        self.closes = closes
        self.workdays = days
        self.country = country
        self.subdivision = subdivision
        self.closed_dates = frozenset(closed_dates)
        # Raises NotImplementedError for an unknown country or subdivision, at construction not mid-job.
        self._holidays = (
            holidays.country_holidays(country, subdiv=subdivision) if country is not None else None
        )
        self._closed_by_year: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return (f"BusinessCalendar(timezone={self.timezone!r}, opens={self.opens}, closes={self.closes}, "
                f"workdays={sorted(self.workdays)}, country={self.country!r}, subdivision={self.subdivision!r})")

    @property
    def day_length(self) -> timedelta:
        """Business time in one business day (the nominal length of "one business day")."""
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    def business_days(self, days: float) -> timedelta:
        """The business time of ``days`` business days (so "2 business days" is 18 hours at 08:00-17:00)."""
        return self.day_length * days

    def holiday_name(self, day: date) -> str | None:
        """The name of the public holiday on ``day``, if any."""
        return self._holidays.get(day) if self._holidays is not None else None

    def is_business_day(self, day: date) -> bool:
        """True when ``day`` is a workday, not a holiday and not a closed date."""
        return day.weekday() in self.workdays and day not in self._closed(day.year)

    def is_business_time(self, moment: datetime) -> bool:
        """True when ``moment`` falls within business hours of a business day (opening inclusive)."""
        moment = _utc(moment)
        day = moment.astimezone(self.zone).date()
        if not self.is_business_day(day):
            return False
        opens, closes = self._hours(day)
        return opens <= moment < closes

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of business time after ``start``, skipping nights, weekends and holidays.

        Work that ends exactly at closing time is due at closing time, not at the next opening.
        """
        start = _utc(start)
        if duration < _ZERO:
            return self.subtract_business_time(start, -duration)
        if duration == _ZERO:
            return start
        remaining = duration
        for opens, closes in self._intervals_from(start.astimezone(self.zone).date(), step=1):
            begin = max(start, opens)
            if begin >= closes:
                continue
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: _intervals_from raises first")  # pragma: no cover

    def subtract_business_time(self, end: datetime, duration: timedelta) -> datetime:
        """The latest instant from which ``duration`` of business time has elapsed by ``end``."""
        end = _utc(end)
        if duration < _ZERO:
            return self.add_business_time(end, -duration)
        if duration == _ZERO:
            return end
        remaining = duration
        for opens, closes in self._intervals_from(end.astimezone(self.zone).date(), step=-1):
            finish = min(end, closes)
            if finish <= opens:
                continue
            available = finish - opens
            if remaining <= available:
                return finish - remaining
            remaining -= available
        raise AssertionError("unreachable: _intervals_from raises first")  # pragma: no cover

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        a, b = _utc(a), _utc(b)
        if b < a:
            return -self.business_time_between(b, a)
        total = _ZERO
        last_day = b.astimezone(self.zone).date()
        day = a.astimezone(self.zone).date()
        while day <= last_day:
            if self.is_business_day(day):
                opens, closes = self._hours(day)
                begin, finish = max(a, opens), min(b, closes)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total

    def next_business_time(self, moment: datetime) -> datetime:
        """``moment`` itself during business hours, else the next opening."""
        moment = _utc(moment)
        for opens, closes in self._intervals_from(moment.astimezone(self.zone).date(), step=1):
            if moment < closes:
                return max(moment, opens)
        raise AssertionError("unreachable: _intervals_from raises first")  # pragma: no cover

    # ---- internals -------------------------------------------------------------------------------

    def _closed(self, year: int) -> frozenset[date]:
        closed = self._closed_by_year.get(year)
        if closed is None:
            official: set[date] = set()
            if self.country is not None:
                # Neighbouring years too: an observed date can fall in the year before (Dec 31 for a
                # Saturday New Year's Day), whichever year the package files it under.
                years = (year - 1, year, year + 1)
                found = holidays.country_holidays(self.country, subdiv=self.subdivision, years=years)
                official = {day for day in found if day.year == year}
            closed = frozenset(official | {day for day in self.closed_dates if day.year == year})
            # Whole frozensets are swapped in, so threads sharing a calendar never see a half-built year.
            self._closed_by_year[year] = closed
        return closed

    def _hours(self, day: date) -> tuple[datetime, datetime]:
        # Local wall-clock opening and closing, as UTC instants: this is where DST is accounted for.
        return (datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC),
                datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC))

    def _intervals_from(self, day: date, *, step: int) -> Iterator[tuple[datetime, datetime]]:
        for _ in range(_MAX_DAYS):
            if self.is_business_day(day):
                yield self._hours(day)
            day += timedelta(days=step)
        raise ValueError(f"no business day within {_MAX_DAYS} days of {day}: check the calendar's configuration")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} refused: pass a timezone-aware datetime")
    return moment.astimezone(UTC)

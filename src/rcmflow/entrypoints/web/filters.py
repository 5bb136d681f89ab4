"""What the list pages read from their query strings besides their own filters: the as-of time and the window of
the control tower's drill-downs, yes/no filters, and the refusal of a parameter a list does not know. A filter
silently dropped would show a list other than the one asked for (a figure's drill-down showing more than the
figure counts), so an unknown parameter is a 422 page naming the ones the list accepts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request

from rcmflow.errors import InputError

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def refuse_unknown_filters(request: Request) -> None:
    """Raise ``InputError`` naming what the route's list accepts when the query has a parameter it does not know."""
    route = request.scope.get("route")
    known = _query_names(route.dependant) if route is not None else set()
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InputError(detail=f"this list does not understand {', '.join(unknown)}; it filters by "
                                f"{', '.join(sorted(known))}")


def flag(value: str | None, name: str) -> bool | None:
    """A yes/no filter: True, False, or None when not given."""
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InputError(detail=f"{name} is true or false, not {value!r}")


def choice(value: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    """A filter with a fixed set of values; None when not given."""
    if value is None or value == "":
        return None
    if value not in allowed:
        raise InputError(detail=f"{name} is one of {', '.join(allowed)}, not {value!r}")
    return value


@dataclass(frozen=True)
class Period:
    """The as-of time of a list (the UI's now unless given) and its window of ``days`` ending then (None: no
    window asked for); a timestamp ``t`` is in the window when ``as_of - days < t <= as_of``, as for the KPIs."""

    as_of: datetime
    days: int | None
    given_as_of: bool

    @property
    def start(self) -> datetime | None:
        return None if self.days is None else self.as_of - timedelta(days=self.days)

    def query(self) -> dict[str, str]:
        """The parameters that keep this period in a list's links."""
        found = {"window": str(self.days)} if self.days is not None else {}
        return {**found, "as_of": self.as_of.isoformat()} if self.given_as_of else found


def period(as_of: str | None, window: str | None, now: datetime) -> Period:
    """The list's period from its ``as_of`` (ISO 8601 with a time zone) and ``window`` (days) parameters."""
    from rcmflow.services.kpis import MAX_WINDOW_DAYS

    at = now
    if as_of:
        try:
            at = datetime.fromisoformat(as_of)
        except ValueError as exc:
            raise InputError(detail=f"as_of is a time in ISO 8601 with its time zone, not {as_of!r}") from exc
        if at.utcoffset() is None:
            raise InputError(detail="as_of needs a time zone (e.g. 2026-04-16T20:00:00+00:00)")
    days = None
    if window:
        try:
            days = int(window)
        except ValueError as exc:
            raise InputError(detail=f"window is a number of days, not {window!r}") from exc
        if not 1 <= days <= MAX_WINDOW_DAYS:
            raise InputError(detail=f"window is 1 to {MAX_WINDOW_DAYS} days, not {days}")
    return Period(at, days, bool(as_of))

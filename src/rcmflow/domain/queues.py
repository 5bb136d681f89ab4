"""Work queue policies as validated data: who works a queue, its SLA, and its escalation chain.

The policies live in a versioned YAML file (the default ships as ``rcmflow/config/queues.yaml``)::

    version: "2026.1"
    calendar: {timezone: America/New_York, opens: "08:00", closes: "17:00", holidays: {country: US}}
    queues:
      denials:
        name: Denials
        default_role: denial_specialist
        default_priority: 3
        sla: {business_days: 2}
        escalation:                                 # in order; each step fires once the item is overdue
          - {after: {business_hours: 0}, role: denials_lead, priority: 2}   # by ``after`` business time
          - {after: {business_days: 1}, role: revenue_cycle_manager, priority: 1}

On escalation an item gets the step's role and priority and a new due time (``now`` plus the step's
``sla``, else the queue's). An item past the last step repeats the last step each time its new due time
passes. A bad file raises ``QueuePolicyError`` naming the queue and the field.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rcmflow.domain.calendar import BusinessCalendar
from rcmflow.errors import ConfigurationError, InputError

DEFAULT_POLICY_RESOURCE = ("rcmflow.config", "queues.yaml")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUEUE_ID = re.compile(r"^[a-z][a-z0-9_]*$")

Priority = Annotated[int, Field(ge=1, le=5)]  # 1 most urgent .. 5, as work_items.priority
Name = Annotated[str, Field(min_length=1, max_length=64)]


class QueuePolicyError(ConfigurationError):
    """The queue policy file is missing, not YAML, or does not validate."""

    code = "queue_policy"


class UnknownQueueError(InputError):
    """A work item was asked for in a queue the policies do not declare."""

    code = "unknown_queue"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BusinessDuration(_Frozen):
    """An amount of business time: exactly one of business hours or business days."""

    business_hours: Annotated[float, Field(ge=0)] | None = None
    business_days: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BusinessDuration:
        if (self.business_hours is None) == (self.business_days is None):
            raise ValueError("give exactly one of business_hours or business_days")
        return self

    def on(self, calendar: BusinessCalendar) -> timedelta:
        """This duration as business time on ``calendar`` (a business day is the calendar's day length)."""
        if self.business_hours is not None:
            return timedelta(hours=self.business_hours)
        return calendar.business_days(self.business_days or 0)

    def __str__(self) -> str:
        if self.business_hours is not None:
            return f"{self.business_hours:g} business hour(s)"
        return f"{self.business_days:g} business day(s)"


class HolidaySource(_Frozen):
    """Whose public holidays close the office (``country: null`` for none)."""

    country: str | None = "US"
    subdivision: str | None = None


class CalendarPolicy(_Frozen):
    """The business calendar every queue's SLA is counted on."""

    timezone: str = "America/New_York"
    opens: time = time(8)
    closes: time = time(17)
    workdays: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = WEEKDAYS[:5]
    holidays: HolidaySource = HolidaySource()
    closed_dates: tuple[date, ...] = ()  # extra days the office is closed (a storm, an all-hands)

    @model_validator(mode="after")
    def _buildable(self) -> CalendarPolicy:
        # Build once here so an unknown zone, country or subdivision fails at load time, not mid-job.
        self.build()
        return self

    def build(self) -> BusinessCalendar:
        """The ``BusinessCalendar`` this policy describes."""
        try:
            return BusinessCalendar(
                timezone=self.timezone, opens=self.opens, closes=self.closes,
                workdays=[WEEKDAYS.index(day) for day in self.workdays],
                country=self.holidays.country, subdivision=self.holidays.subdivision,
                closed_dates=self.closed_dates,
            )
        except (ValueError, NotImplementedError, LookupError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(str(exc) or type(exc).__name__) from exc


class EscalationStep(_Frozen):
    """One step up the chain: after this much overdue business time, to this role at this priority."""

    after: BusinessDuration = BusinessDuration(business_hours=0)
    role: Name
    priority: Priority
    sla: BusinessDuration | None = None  # time the new role gets before the next step; default: queue SLA

    @field_validator("sla")
    @classmethod
    def _positive_sla(cls, value: BusinessDuration | None) -> BusinessDuration | None:
        if value is not None and not (value.business_hours or value.business_days):
            raise ValueError("an escalation step's sla must be longer than zero")
        return value


class QueuePolicy(_Frozen):
    """One work queue: who works it, how fast, and who hears about it when it is late."""

    id: str = ""  # filled from the key under ``queues``
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: str = ""
    default_role: Name
    default_priority: Priority = 3
    sla: BusinessDuration
    escalation: tuple[EscalationStep, ...] = ()

    @field_validator("sla")
    @classmethod
    def _positive_sla(cls, value: BusinessDuration) -> BusinessDuration:
        # A zero SLA would make every item overdue the moment it opens, and escalate it in a loop.
        if not (value.business_hours or value.business_days):
            raise ValueError("an SLA must be longer than zero")
        return value

    @field_validator("escalation")
    @classmethod
    def _raises_priority(cls, steps: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
        for before, after in zip(steps, steps[1:], strict=False):
            if after.priority > before.priority:
                raise ValueError(f"escalation must not lower the priority: step to {after.role!r} has priority "
                                 f"{after.priority} after {before.priority}")
        return steps

    def step(self, level: int) -> EscalationStep | None:
        """The step that takes an item from escalation ``level`` to ``level + 1`` (the last repeats)."""
        if not self.escalation:
            return None
        return self.escalation[min(level, len(self.escalation) - 1)]


class QueuePolicies(_Frozen):
    """Every queue's policy, under one version and one business calendar."""

    version: Annotated[str, Field(min_length=1, max_length=64)]
    calendar: CalendarPolicy = CalendarPolicy()
    queues: dict[str, QueuePolicy]

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # ``version: 3`` in YAML is an int; a version is a label, not a number to compute with.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("queues", mode="before")
    @classmethod
    def _ids_from_keys(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if not value:
            raise ValueError("declare at least one queue")
        for key, body in value.items():
            if not isinstance(key, str) or not QUEUE_ID.match(key) or len(key) > 64:
                raise ValueError(f"queue id {key!r} must be snake_case, at most 64 characters")
            if isinstance(body, dict) and body.get("id", key) != key:
                raise ValueError(f"queue {key!r} has a different id {body['id']!r}")
        return {key: {**body, "id": key} if isinstance(body, dict) else body for key, body in value.items()}

    @cached_property
    def business_calendar(self) -> BusinessCalendar:
        """The calendar SLAs are counted on."""
        return self.calendar.build()

    def queue(self, queue_id: str) -> QueuePolicy:
        """The policy of ``queue_id``, or ``UnknownQueueError``."""
        try:
            return self.queues[queue_id]
        except KeyError:
            raise UnknownQueueError(f"unknown work queue {queue_id!r}; the policies (version {self.version}) "
                                    f"declare {', '.join(sorted(self.queues))}") from None

    def rule_version(self, queue_id: str) -> str:
        """How the event log names the policy that decided: ``queue-policy:<queue>@<version>``."""
        return f"queue-policy:{queue_id}@{self.version}"


def parse_queue_policies(text: str, *, source: str = "<text>") -> QueuePolicies:
    """Validate YAML text as queue policies, or raise ``QueuePolicyError`` naming the queue and field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise QueuePolicyError(f"queue policies {source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}",
                               source=source) from exc
    if not isinstance(data, dict):
        raise QueuePolicyError(f"queue policies {source}: expected a mapping with version and queues",
                               source=source)
    try:
        return QueuePolicies.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = [str(part) for part in error["loc"]]
        queue = loc[1] if loc[:1] == ["queues"] and len(loc) > 1 else None
        field = ".".join(loc[2:] if queue else loc) or "(top level)"
        where = f"queue {queue!r}, field {field!r}" if queue else f"field {field!r}"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise QueuePolicyError(f"queue policies {source}: {where}: {error['msg']}{more}",
                               source=source, queue=queue, field=field) from exc


def load_queue_policies(path: Path | str | None = None) -> QueuePolicies:
    """Load and validate queue policies from ``path``, or the default file shipped in the package."""
    if path is None:
        package, name = DEFAULT_POLICY_RESOURCE
        # importlib.resources: works from a wheel or a zip, not only from a source checkout.
        text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
        return parse_queue_policies(text, source=f"{package}/{name}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise QueuePolicyError(f"queue policies {path}: cannot be read ({exc.strerror or exc})",
                               source=str(path)) from exc
    return parse_queue_policies(text, source=str(path))


@cache
def default_queue_policies() -> QueuePolicies:
    """The default policies shipped with rcmflow, loaded once per process."""
    return load_queue_policies(None)

"""The vocabulary of sla-worker (SPEC section 1): plain, frozen values shared by every layer.

Nothing here does I/O or reads the clock. Instants are timezone-aware UTC datetimes (`*_at`)
or, inside the numeric scoring core, float epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Signal(StrEnum):
    UP = "up"
    LATENCY_MS = "latency_ms"
    GOOD = "good"
    TOTAL = "total"


class ObjectiveType(StrEnum):
    AVAILABILITY = "availability"
    LATENCY = "latency"
    EVENTS = "events"
    INCIDENT_RESPONSE = "incident_response"
    INCIDENT_RESOLUTION = "incident_resolution"

    @property
    def unit(self) -> str:
        return {
            ObjectiveType.AVAILABILITY: "seconds",
            ObjectiveType.LATENCY: "samples",
            ObjectiveType.EVENTS: "events",
            ObjectiveType.INCIDENT_RESPONSE: "incidents",
            ObjectiveType.INCIDENT_RESOLUTION: "incidents",
        }[self]

    @property
    def is_incident(self) -> bool:
        return self in (ObjectiveType.INCIDENT_RESPONSE, ObjectiveType.INCIDENT_RESOLUTION)

    @property
    def signals(self) -> tuple[Signal, ...]:
        """The sample signals this type reads (incident types read incidents instead)."""
        return {
            ObjectiveType.AVAILABILITY: (Signal.UP,),
            ObjectiveType.LATENCY: (Signal.LATENCY_MS,),
            ObjectiveType.EVENTS: (Signal.GOOD, Signal.TOTAL),
        }.get(self, ())


class MissingData(StrEnum):
    IGNORE = "ignore"
    DOWN = "down"
    UP = "up"


class Status(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NO_DATA = "no-data"


CUSTOMER_KINDS = ("directorate", "nhs-organisation", "primary-care", "local-authority", "public", "other")
VALUE_DOMAINS = ("decisions/internal", "decisions/external", "smarter/internal", "smarter/external")
HOLIDAY_SETS = ("england-and-wales", "scotland", "northern-ireland", "none")
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
DEFAULT_STALENESS_S = 300.0
DEFAULT_TIMEZONE = "Europe/London"


@dataclass(frozen=True)
class Calendar:
    """Service hours. `hours[d]` lists (start_min, end_min) wall-clock ranges for weekday d
    (0 = Monday), minutes after local midnight, end up to 1440 (`24:00`)."""

    id: str
    timezone: str = DEFAULT_TIMEZONE
    always: bool = False
    hours: tuple[tuple[tuple[int, int], ...], ...] = ((),) * 7
    holidays: str = "none"
    closed: frozenset[date] = frozenset()


@dataclass(frozen=True)
class SignalSource:
    source: str
    query: str | None = None
    staleness_s: float = DEFAULT_STALENESS_S


@dataclass(frozen=True)
class Probe:
    url: str
    expect_status: int = 200
    contains: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    summary: str = ""
    purpose: str = ""
    value: tuple[str, ...] = ()
    owner: str = ""
    signals: dict[str, SignalSource] = field(default_factory=dict)
    probe: Probe | None = None

    @property
    def staleness_s(self) -> float:
        up = self.signals.get(Signal.UP.value)
        return up.staleness_s if up else DEFAULT_STALENESS_S


@dataclass(frozen=True)
class Contacts:
    reports: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    kind: str = "other"
    pays: bool = False
    contacts: Contacts = Contacts()


@dataclass(frozen=True)
class Objective:
    id: str
    service: str
    type: ObjectiveType
    target: float
    calendar: str
    warning: float | None = None
    missing_data: MissingData = MissingData.IGNORE
    maintenance_notice_s: float = 0.0
    threshold_ms: float | None = None  # latency only
    priority: str | None = None  # incident types only
    within_s: float | None = None  # incident types only


@dataclass(frozen=True)
class Agreement:
    id: str
    name: str
    customers: tuple[str, ...]
    objectives: tuple[Objective, ...]
    timezone: str = DEFAULT_TIMEZONE
    effective_from: date | None = None  # inclusive local date
    effective_to: date | None = None  # inclusive local date
    review_due: date | None = None


@dataclass(frozen=True)
class MaintenanceWindow:
    service: str
    start_at: datetime
    end_at: datetime
    announced_at: datetime | None = None
    reason: str = ""
    emergency: bool = False


@dataclass(frozen=True)
class Incident:
    id: str
    service: str
    priority: str
    opened_at: datetime
    customer: str | None = None  # None: every customer whose agreements cover the service
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    on_hold: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True)
class Source:
    """A place samples or incidents come from; `options` holds the kind-specific fields."""

    id: str
    kind: str
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Channel:
    id: str
    kind: str
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Catalogue:
    """The whole validated configuration directory (SPEC section 3)."""

    calendars: dict[str, Calendar] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    maintenance: tuple[MaintenanceWindow, ...] = ()
    sources: dict[str, Source] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """The score of one objective for one customer and one period (SPEC section 6)."""

    period: str
    agreement: str
    customer: str
    service: str
    objective: str
    type: ObjectiveType
    target: float
    warning: float | None
    value: float | None
    status: Status
    good: float
    bad: float
    total: float
    unit: str
    coverage: float | None
    error_budget_remaining: float | None
    final: bool

    def as_json(self) -> dict[str, object]:
        """The object printed by `sla-worker results --format json`, keys in SPEC order."""
        return {
            "period": self.period,
            "agreement": self.agreement,
            "customer": self.customer,
            "service": self.service,
            "objective": self.objective,
            "type": self.type.value,
            "target": self.target,
            "warning": self.warning,
            "value": self.value,
            "status": self.status.value,
            "good": self.good,
            "bad": self.bad,
            "total": self.total,
            "unit": self.unit,
            "coverage": self.coverage,
            "error_budget_remaining": self.error_budget_remaining,
            "final": self.final,
        }

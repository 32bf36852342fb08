"""The vocabulary of sla-worker (SPEC section 1): plain, frozen values shared by every layer.

Nothing here does I/O or reads the clock. Instants are timezone-aware UTC datetimes (`*_at`)
or, inside the numeric scoring core, float epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Generic, TypeVar

OptionsT = TypeVar("OptionsT", covariant=True)


class Signal(StrEnum):
    """The sample signals a service can have (SPEC 5)."""

    UP = "up"
    LATENCY_MS = "latency_ms"
    GOOD = "good"
    TOTAL = "total"


class SourceKind(StrEnum):
    """Where samples or incidents come from; each kind is one module of `worker.sources`."""

    PROMETHEUS = "prometheus"
    HTTP_PROBE = "http_probe"
    SERVICENOW = "servicenow"
    FILE_DROP = "file_drop"


class ChannelKind(StrEnum):
    """Where alerts go; each kind is one module of `worker.alerts.channels`."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    TEAMS = "teams"
    ALERTMANAGER = "alertmanager"


class InputKind(StrEnum):
    """The kinds of CSV input (SPEC 5), told apart by their header."""

    SAMPLES = "samples"
    INCIDENTS = "incidents"
    MAINTENANCE = "maintenance"


class Severity(StrEnum):
    """How urgent an alert is (SPEC 7): a page wakes someone, a ticket waits for office hours."""

    PAGE = "page"
    TICKET = "ticket"


class ObjectiveType(StrEnum):
    AVAILABILITY = "availability"
    LATENCY = "latency"
    EVENTS = "events"
    INCIDENT_RESPONSE = "incident_response"
    INCIDENT_RESOLUTION = "incident_resolution"

    @property
    def unit(self) -> str:
        return _UNITS[self]

    @property
    def is_incident(self) -> bool:
        return self in _INCIDENT_TYPES

    @property
    def signals(self) -> tuple[Signal, ...]:
        """The sample signals this type reads (incident types read incidents instead)."""
        return _SIGNALS.get(self, ())


# Looked up per result and per objective in every scoring run: made once, not per call.
_UNITS = {
    ObjectiveType.AVAILABILITY: "seconds",
    ObjectiveType.LATENCY: "samples",
    ObjectiveType.EVENTS: "events",
    ObjectiveType.INCIDENT_RESPONSE: "incidents",
    ObjectiveType.INCIDENT_RESOLUTION: "incidents",
}
_INCIDENT_TYPES = frozenset((ObjectiveType.INCIDENT_RESPONSE, ObjectiveType.INCIDENT_RESOLUTION))
_SIGNALS = {
    ObjectiveType.AVAILABILITY: (Signal.UP,),
    ObjectiveType.LATENCY: (Signal.LATENCY_MS,),
    ObjectiveType.EVENTS: (Signal.GOOD, Signal.TOTAL),
}


class MissingData(StrEnum):
    IGNORE = "ignore"
    DOWN = "down"
    UP = "up"


class AgreementKind(StrEnum):
    """What a set of objectives is (SPEC 9.2): the trust's promise to its customers, or a
    supplier's underpinning contract with the trust, scored the same way."""

    AGREEMENT = "agreement"
    CONTRACT = "contract"


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
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0  # a firing alert is sent again this often (SPEC 7)


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

    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def _hash(self) -> int:
        """Counted time is cached by calendar, asked for every objective of every run: the
        hash of the nested hours is worked out once."""
        return hash((self.id, self.timezone, self.always, self.hours, self.holidays, self.closed))


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
    supplier: str | None = None  # the supplier who delivers it (SPEC 9.2), if any
    # A template (`per_customer: true`) is never measured itself: the loader makes one instance
    # per customer of its agreements, id `<template>.<customer>`, which is (issue 16).
    per_customer: bool = False
    template: str | None = None  # an instance: the template it was made from
    customer: str | None = None  # an instance: the one customer it serves

    @property
    def staleness_s(self) -> float:
        up = self.signals.get(Signal.UP.value)
        return up.staleness_s if up else DEFAULT_STALENESS_S


def instance_id(template: str, customer: str) -> str:
    """The id of a per-customer template's instance for one customer (`site-link.a81001`)."""
    return f"{template}.{customer}"


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
    ods_code: str | None = None  # NHS Organisation Data Service code (A81001, RX1, QHM), if known


@dataclass(frozen=True)
class Supplier:
    """A partner outside the trust who delivers (part of) a service under a contract (SPEC 9.2)."""

    id: str
    name: str
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
    """An agreement with its customers, or an underpinning contract (`kind` contract): a
    contract lists its supplier as its one customer, so it is scored, stored and listed
    exactly as an agreement is (SPEC 9.2)."""

    id: str
    name: str
    customers: tuple[str, ...]
    objectives: tuple[Objective, ...]
    timezone: str = DEFAULT_TIMEZONE
    effective_from: date | None = None  # inclusive local date
    effective_to: date | None = None  # inclusive local date
    review_due: date | None = None
    kind: AgreementKind = AgreementKind.AGREEMENT

    @property
    def is_contract(self) -> bool:
        return self.kind == AgreementKind.CONTRACT

    @property
    def supplier(self) -> str | None:
        """The supplier id of a contract; None for an agreement."""
        return self.customers[0] if self.is_contract else None


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
class Source(Generic[OptionsT]):
    """A place samples or incidents come from. `options` is the kind's own frozen `Options`,
    declared (and read from the configuration) by the kind's module in `worker.sources`."""

    id: str
    kind: SourceKind
    options: OptionsT


@dataclass(frozen=True)
class ChannelFilters:
    """Which alerts a channel gets, whatever its kind; `customers`/`services` None means all."""

    severities: tuple[Severity, ...] = (Severity.PAGE, Severity.TICKET)
    repeat_interval_s: float = DEFAULT_REPEAT_INTERVAL_S
    customers: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Channel(Generic[OptionsT]):
    """Where alerts go. `options` is the kind's own frozen `Options`, declared by the kind's
    module in `worker.alerts.channels`."""

    id: str
    kind: ChannelKind
    options: OptionsT
    filters: ChannelFilters = ChannelFilters()


@dataclass(frozen=True)
class Catalogue:
    """The whole validated configuration directory (SPEC section 3).

    `agreements` holds the underpinning contracts too (kind contract, SPEC 9.2), so that
    everything that scores agreements scores contracts; `customers` never holds a supplier."""

    calendars: dict[str, Calendar] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    maintenance: tuple[MaintenanceWindow, ...] = ()
    sources: dict[str, Source[Any]] = field(default_factory=dict)
    channels: dict[str, Channel[Any]] = field(default_factory=dict)
    suppliers: dict[str, Supplier] = field(default_factory=dict)

    @property
    def contracts(self) -> dict[str, Agreement]:
        """The underpinning contracts, by id."""
        return {a.id: a for a in self.agreements.values() if a.is_contract}

    @property
    def customer_agreements(self) -> dict[str, Agreement]:
        """The agreements with customers, without the contracts."""
        return {a.id: a for a in self.agreements.values() if not a.is_contract}

    def seen_by(self, agreement: Agreement, customer: str) -> Agreement:
        """The agreement as one customer has it: an objective on a per-customer template is on
        the customer's own instance (`site-link.gp1`), whose samples scoring measures for it
        (issue 16). Incidents are written on the template with their customer: for this
        customer they are its instance's (the caller maps them, as `reports.gather` does)."""
        objectives = tuple(self._own(o, customer) for o in agreement.objectives)
        return agreement if objectives == agreement.objectives else replace(agreement, objectives=objectives)

    def _own(self, objective: Objective, customer: str) -> Objective:
        service = self.services.get(objective.service)
        if service is None or not service.per_customer:
            return objective
        made = instance_id(objective.service, customer)
        return replace(objective, service=made) if made in self.services else objective


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
    kind: AgreementKind = AgreementKind.AGREEMENT  # contract: `agreement` is a contract, `customer` its supplier

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
            "kind": AgreementKind(self.kind).value,
        }

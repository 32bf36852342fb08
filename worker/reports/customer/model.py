"""The customer report as values (SPEC 8), and what its building starts from.

A customer report is built from that customer's results and from the services its own
agreements give it, and nothing else: whatever the caller passes, results of other customers
and incidents scoped to other customers are dropped, so one customer's report can never show
another's figures (tests grep every output for every other customer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np

from worker.domain.model import Agreement, Catalogue, Customer, Incident, MaintenanceWindow, Objective, Result, Status
from worker.reports.model import AgreementInfo, BostonBox, status_counts
from worker.reports.words import short_measure
from worker.scoring.periods import scored_window
from worker.scoring.results import floor2

LARGEST = 10  # outages and data gaps listed one by one; the rest are summed up


@dataclass(frozen=True)
class MonthValue:
    period: str
    value: float | None  # None: no data that month (or no result: status None)
    status: Status | None  # None: no result that month
    target: float | None
    error_budget_remaining: float | None = None
    # Whether the customer had this objective under an agreement in effect that month: a month
    # without a result reads "not measured" when it did, "not in your agreement" when it did not.
    in_effect: bool = True


@dataclass(frozen=True)
class SupplierPart:
    """An objective missed in a month when the service's supplier also missed its contract
    on that service (SPEC 9.2): the supplier's name and the targets of the contract
    objectives it missed. Nothing else of the supplier's figures."""

    supplier: str  # name
    targets: tuple[float, ...]


@dataclass(frozen=True)
class ObjectiveRow:
    agreement: str
    objective: Objective
    service: str
    service_name: str
    measure: str
    result: Result
    history: tuple[MonthValue, ...]  # TREND_MONTHS months, oldest first, this period last
    supplier_part: SupplierPart | None = None  # missed while the supplier missed its contract

    @property
    def short(self) -> str:
        return short_measure(self.objective)

    @property
    def previous(self) -> tuple[MonthValue, MonthValue]:
        return self.history[-3], self.history[-2]

    @property
    def direction(self) -> str:
        """`better`, `worse`, `same` (shown values compared, so the words match the
        figures beside them) or `new` (no value the month before)."""
        now, before = self.result.value, self.history[-2].value
        if now is None or before is None:
            return "new"
        shown_now, shown_before = floor2(now), floor2(before)
        if shown_now > shown_before:
            return "better"
        if shown_now < shown_before:
            return "worse"
        return "same"


@dataclass(frozen=True)
class TrendPanel:
    objective: str
    measure: str
    values: tuple[float | None, ...]
    statuses: tuple[Status | None, ...]
    targets: tuple[float | None, ...]
    warnings: tuple[float | None, ...]


@dataclass(frozen=True)
class ServiceTrend:
    service: str
    name: str
    months: tuple[str, ...]
    panels: tuple[TrendPanel, ...]


@dataclass(frozen=True)
class IncidentRow:
    agreement: str
    objective: Objective
    measure: str
    met: int
    breached: int
    result: Result | None


@dataclass(frozen=True)
class BreachedIncident:
    id: str
    service: str
    service_name: str
    priority: str
    measure: str  # short words: `P2 responded ≤ 30 m`
    opened_at: datetime
    breached_s: float
    stopped_at: datetime | None  # None: still open when the report was made


@dataclass(frozen=True)
class Outage:
    service: str
    service_name: str
    start_s: float
    end_s: float
    counted_s: float


@dataclass(frozen=True)
class OutageSummary:
    service: str
    service_name: str
    count: int
    counted_s: float


@dataclass(frozen=True)
class DataGap:
    service: str
    service_name: str
    start_s: float
    end_s: float
    counted_s: float
    policy: str  # missing_data words key: down | up | ignore | mixed


@dataclass(frozen=True)
class MaintenanceEntry:
    service: str
    service_name: str
    window: MaintenanceWindow
    excluded: bool | None  # None: excluded for some objectives, counted for others
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CustomerReport:
    period: str
    issued: date
    timezone: str
    customer: Customer
    final: bool
    months: tuple[str, ...]
    rows: tuple[ObjectiveRow, ...]
    trends: tuple[ServiceTrend, ...]
    incidents: tuple[IncidentRow, ...]
    breached: tuple[BreachedIncident, ...]
    outages: tuple[Outage, ...]
    outage_summary: tuple[OutageSummary, ...]
    gaps: tuple[DataGap, ...]
    gaps_not_listed: tuple[int, float]  # count and counted seconds of the gaps not listed
    maintenance: tuple[MaintenanceEntry, ...]
    no_data: tuple[ObjectiveRow, ...]  # objectives with no value this period
    box: BostonBox
    agreements: tuple[AgreementInfo, ...]
    results: tuple[Result, ...]  # this customer's results of the period (the CSV)
    kind: str = field(default="customer", init=False)

    @property
    def counts(self) -> dict[Status, int]:
        return status_counts(row.result.status for row in self.rows)


# ------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class CustomerInputs:
    """What the caller loads for one customer's report (see gather.py)."""

    customer: str
    period: str
    results: Sequence[Result]  # this customer's, over the TREND_MONTHS months ending with period
    incidents: Sequence[Incident]  # candidates of the incident objectives' services
    maintenance: Sequence[MaintenanceWindow]
    up_samples: Mapping[str, tuple[np.ndarray, np.ndarray]]  # service → (epoch s, value)
    now_s: float
    # The period's contract results of the suppliers of the customer's services (SPEC 9.2):
    # only whether each missed, its supplier and target reach the report.
    contracts: Sequence[Result] = ()


def customer_agreements(catalogue: Catalogue, customer: str, period: str) -> list[Agreement]:
    """The customer's agreements with a day inside `period`, in configuration order, as the
    customer has them: an objective on a per-customer service is on the customer's own
    instance (its samples, outages and chart are the customer's link's, issue 16)."""
    return [
        catalogue.seen_by(a, customer)
        for a in catalogue.agreements.values()
        if customer in a.customers and scored_window(a, period)
    ]

"""A supplier's scorecard as values (SPEC 9.2). Built from the supplier's own contract results
and, for "what it means for the trust's customers", counts of the customers' results on the
same services: whatever the caller passes, no customer's name, id or figure is kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from worker.domain.model import Result, Status, Supplier
from worker.reports.customer.model import ObjectiveRow, ServiceTrend
from worker.reports.model import AgreementInfo, status_counts


@dataclass(frozen=True)
class CustomerImpact:
    """How the trust's objectives to its customers on one service fared this period: counts
    only."""

    service: str
    service_name: str
    objectives: int  # distinct customer objectives on the service scored this period
    missed: int  # of those, RED for at least one customer
    customers: int  # customers with a result on the service
    customers_missed: int  # customers with at least one RED objective on it


@dataclass(frozen=True)
class SupplierReport:
    period: str
    issued: date
    timezone: str
    supplier: Supplier
    final: bool
    months: tuple[str, ...]
    contracts: tuple[AgreementInfo, ...]  # the supplier's contracts in effect this period
    rows: tuple[ObjectiveRow, ...]  # one per contract objective scored this period
    trends: tuple[ServiceTrend, ...]
    impact: tuple[CustomerImpact, ...]  # one per service of the contract objectives
    results: tuple[Result, ...]  # the supplier's contract results of the period (the CSV)
    kind: str = field(default="supplier", init=False)

    @property
    def counts(self) -> dict[Status, int]:
        return status_counts(row.result.status for row in self.rows)

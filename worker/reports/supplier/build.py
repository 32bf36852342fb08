"""A supplier's scorecard built for one period (SPEC 9.2) from the values the caller loaded
(`gather.supplier_results_range`, `gather.service_results`). Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Sequence

from worker.domain.model import Agreement, AgreementKind, Catalogue, Result, Status
from worker.reports.customer.history import objective_rows, trends
from worker.reports.model import TREND_MONTHS, agreement_info, issue_date, report_zone, service_name
from worker.reports.supplier.model import CustomerImpact, SupplierReport
from worker.scoring.periods import periods_back, scored_window


def supplier_contracts(catalogue: Catalogue, supplier: str, period: str) -> list[Agreement]:
    """The supplier's contracts with a day inside `period`, in configuration order."""
    return [c for c in catalogue.contracts.values() if c.supplier == supplier and scored_window(c, period)]


def build_supplier_report(
    catalogue: Catalogue,
    supplier: str,
    period: str,
    results: Sequence[Result],
    customer_results: Sequence[Result],
    now_s: float,
) -> SupplierReport:
    """The scorecard of `supplier` for `period`: `results` are its contract results over the
    twelve months (anything else is dropped), `customer_results` the customers' results of the
    period, reduced here to counts per service."""
    months = tuple(periods_back(period, TREND_MONTHS))
    contracts = supplier_contracts(catalogue, supplier, period)
    tz = report_zone(contracts)
    own = [r for r in results if r.kind == AgreementKind.CONTRACT and r.customer == supplier and r.period in months]
    rows = objective_rows(catalogue, supplier, contracts, own, period, months)
    issued = issue_date(period, tz, now_s)
    current = [r for r in own if r.period == period]
    services = list(dict.fromkeys(o.service for c in contracts for o in c.objectives))
    return SupplierReport(
        period=period,
        issued=issued,
        timezone=tz,
        supplier=catalogue.suppliers[supplier],
        final=bool(current) and all(r.final for r in current),
        months=months,
        contracts=tuple(agreement_info(c, issued) for c in contracts),
        rows=tuple(rows),
        trends=tuple(trends(rows, months)),
        impact=tuple(_impact(catalogue, service, customer_results, period) for service in services),
        results=tuple(sorted(current, key=lambda r: (r.agreement, r.objective))),
    )


def _impact(catalogue: Catalogue, service: str, results: Sequence[Result], period: str) -> CustomerImpact:
    """Counts of the customers' results on the service this period (agreement results only)."""
    found = [
        r
        for r in results
        if r.kind == AgreementKind.AGREEMENT and r.service == service and r.period == period and r.customer in catalogue.customers
    ]
    red = [r for r in found if r.status is Status.RED]
    return CustomerImpact(
        service=service,
        service_name=service_name(catalogue, service),
        objectives=len({(r.agreement, r.objective) for r in found}),
        missed=len({(r.agreement, r.objective) for r in red}),
        customers=len({r.customer for r in found}),
        customers_missed=len({r.customer for r in red}),
    )

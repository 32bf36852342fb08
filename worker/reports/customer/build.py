"""The customer report built for one period (SPEC 8), from the values the caller loaded
(`gather.customer_inputs`). Pure: no I/O, no clock."""

from __future__ import annotations

from worker.domain.model import Catalogue, Status
from worker.reports.customer.evidence import availability_evidence, incident_evidence, maintenance_entries
from worker.reports.customer.history import objective_rows, trends
from worker.reports.customer.model import LARGEST, CustomerInputs, CustomerReport, customer_agreements
from worker.reports.customer.supplier_part import mark_supplier_parts
from worker.reports.model import TREND_MONTHS, agreement_info, boston_box, issue_date, report_zone
from worker.reports.words import worst
from worker.scoring.periods import periods_back


def build_customer_report(catalogue: Catalogue, inputs: CustomerInputs) -> CustomerReport:
    """The customer report for one period (SPEC 8)."""
    customer = catalogue.customers[inputs.customer]
    period = inputs.period
    months = tuple(periods_back(period, TREND_MONTHS))
    agreements = customer_agreements(catalogue, customer.id, period)
    tz = report_zone(agreements)
    own = [r for r in inputs.results if r.customer == customer.id and r.period in months]
    rows = mark_supplier_parts(
        catalogue, objective_rows(catalogue, customer.id, agreements, own, period, months), inputs.contracts, period
    )
    outages, outage_summary, gaps = availability_evidence(catalogue, agreements, inputs)
    incident_rows, breached = incident_evidence(catalogue, agreements, inputs, rows)
    issued = issue_date(period, tz, inputs.now_s)
    statuses: dict[str, list[Status]] = {}
    for agreement in agreements:
        for objective in agreement.objectives:
            statuses.setdefault(objective.service, [])
    for row in rows:
        statuses[row.service].append(row.result.status)
    current = tuple(r for r in own if r.period == period)
    return CustomerReport(
        period=period,
        issued=issued,
        timezone=tz,
        customer=customer,
        final=bool(current) and all(r.final for r in current),
        months=months,
        rows=tuple(rows),
        trends=tuple(trends(rows, months)),
        incidents=tuple(incident_rows),
        breached=tuple(breached),
        outages=tuple(outages[:LARGEST]),
        outage_summary=tuple(outage_summary),
        gaps=tuple(gaps[:LARGEST]),
        gaps_not_listed=(len(gaps[LARGEST:]), sum(g.counted_s for g in gaps[LARGEST:])),
        maintenance=tuple(maintenance_entries(catalogue, agreements, inputs)),
        no_data=tuple(row for row in rows if row.result.value is None),
        box=boston_box(catalogue, {s: worst(v) for s, v in statuses.items()}),
        agreements=tuple(agreement_info(a, issued) for a in agreements),
        results=tuple(sorted(current, key=lambda r: (r.agreement, r.customer, r.objective))),
    )

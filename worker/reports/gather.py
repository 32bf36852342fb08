"""Load what a report is built from (the I/O half of report building; the `build` modules of
`reports.customer` and `reports.board` are the pure half). Everything loaded for a customer is
limited to that customer: its own results, the incidents for it or for everyone, and the
services its agreements give it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sqlalchemy import Connection

from worker.domain.model import DEFAULT_TIMEZONE, AgreementKind, Catalogue, ObjectiveType, Result, Signal
from worker.domain.time import from_epoch_s
from worker.reports.customer.model import CustomerInputs, customer_agreements
from worker.reports.model import TREND_MONTHS, staleness_s
from worker.scoring.periods import period_bounds, periods_back
from worker.storage import incidents as incident_store
from worker.storage import maintenance as maintenance_store
from worker.storage import results as result_store
from worker.storage import samples as sample_store


def customer_inputs(conn: Connection, catalogue: Catalogue, customer: str, period: str, now_s: float) -> CustomerInputs:
    months = periods_back(period, TREND_MONTHS)
    results = [r for r in result_store.load_results_range(conn, months, customer) if r.customer == customer]
    agreements = customer_agreements(catalogue, customer, period)
    bounds = [period_bounds(period, a.timezone) for a in agreements] or [period_bounds(period, DEFAULT_TIMEZONE)]
    start_s, end_s = min(b[0] for b in bounds), max(b[1] for b in bounds)
    objectives = [o for a in agreements for o in a.objectives]
    services = sorted({o.service for o in objectives})

    # An objective on a per-customer template is on this customer's instance (see
    # `customer_agreements`): maintenance and incidents written for the template are, for this
    # customer, its instance's (scoring counts them the same way).
    instances = {s.template: s.id for o in objectives if (s := catalogue.services.get(o.service)) and s.template}
    incident_services = sorted({o.service for o in objectives if o.type.is_incident})
    incidents = (
        [
            replace(i, service=instances[i.service]) if i.service in instances else i
            for i in incident_store.load_incidents(
                conn,
                services=[*(s for s in incident_services if s not in instances.values()), *instances],
                opened_before=from_epoch_s(end_s),
                open_or_stopped_after=from_epoch_s(start_s),
                for_customer=customer,
            )
        ]
        if incident_services
        else []
    )
    maintenance = [
        replace(w, service=instances[w.service]) if w.service in instances else w
        for w in list(catalogue.maintenance) + maintenance_store.load_maintenance(conn, [*services, *instances])
        if w.service in services or w.service in instances
    ]

    available = sorted({o.service for o in objectives if o.type is ObjectiveType.AVAILABILITY})
    up: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if available:
        keys = {service_id: key for key, service_id in sample_store.service_ids(conn).items()}
        code = sample_store.SIGNAL_CODES[Signal.UP.value]
        for service in available:
            if service not in keys:  # never received a sample
                up[service] = (np.empty(0), np.empty(0))
                continue
            lo_ms = int(np.floor((start_s - staleness_s(catalogue, service)) * 1000))
            hi_ms = int(np.ceil(min(end_s, now_s) * 1000)) + 1
            at_ms, value = sample_store.load_samples(conn, keys[service], code, lo_ms, max(hi_ms, lo_ms))
            up[service] = (at_ms / 1000.0, value)
    return CustomerInputs(
        customer=customer,
        period=period,
        results=tuple(results),
        incidents=tuple(incidents),
        maintenance=tuple(maintenance),
        up_samples=up,
        now_s=now_s,
        contracts=tuple(supplier_results(conn, catalogue, period, services)),
    )


def supplier_results(conn: Connection, catalogue: Catalogue, period: str, services: list[str]) -> list[Result]:
    """The period's contract results of each service's own supplier on that service (for the
    customer report's "the supplier's part" mark, SPEC 9.2)."""
    suppliers = {s: found.supplier for s in services if (found := catalogue.services.get(s)) and found.supplier}
    if not suppliers:
        return []
    return [
        r
        for r in result_store.load_results(conn, period)
        if r.kind == AgreementKind.CONTRACT and suppliers.get(r.service) == r.customer
    ]


def board_results(conn: Connection, period: str) -> list[Result]:
    return result_store.load_results_range(conn, periods_back(period, TREND_MONTHS))


def customers_with_results(conn: Connection, catalogue: Catalogue, period: str) -> list[str]:
    """Customers (in catalogue order) that have a result for `period`."""
    present = {r.customer for r in result_store.load_results(conn, period) if r.kind == AgreementKind.AGREEMENT}
    return [c for c in catalogue.customers if c in present]


def suppliers_with_results(conn: Connection, catalogue: Catalogue, period: str) -> list[str]:
    """Suppliers (in catalogue order) that have a contract result for `period`."""
    present = {r.customer for r in result_store.load_results(conn, period) if r.kind == AgreementKind.CONTRACT}
    return [s for s in catalogue.suppliers if s in present]


def supplier_results_range(conn: Connection, supplier: str, period: str) -> list[Result]:
    """The supplier's contract results over the TREND_MONTHS months ending with `period`."""
    return [
        r
        for r in result_store.load_results_range(conn, periods_back(period, TREND_MONTHS), supplier)
        if r.customer == supplier and r.kind == AgreementKind.CONTRACT
    ]


def service_results(conn: Connection, period: str, services: list[str]) -> list[Result]:
    """The customers' agreement results of `period` on these services (a supplier's scorecard
    counts how many missed, and shows none of them)."""
    return [
        r for r in result_store.load_results(conn, period) if r.kind == AgreementKind.AGREEMENT and r.service in services
    ]

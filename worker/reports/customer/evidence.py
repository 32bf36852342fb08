"""The evidence behind a customer's figures, as report values: the outages and data gaps of
its availability objectives' services, its incidents met and breached, and the maintenance
on its services with how each window was treated. Pure: the calculations are in
`worker.reports.evidence`, run here over the customer's own agreements only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from worker.domain.model import Agreement, Catalogue, Objective, ObjectiveType
from worker.reports import evidence
from worker.reports.customer.model import (
    BreachedIncident,
    CustomerInputs,
    DataGap,
    IncidentRow,
    MaintenanceEntry,
    ObjectiveRow,
    Outage,
    OutageSummary,
)
from worker.reports.model import service_name, staleness_s
from worker.reports.words import measure_words, short_measure
from worker.scoring.counted import counted_time, excluded_maintenance
from worker.scoring.intervals import Intervals, union
from worker.scoring.periods import scored_window


def scored_span(agreement: Agreement, period: str, now_s: float) -> tuple[float, float] | None:
    """Period ∩ effective dates, up to `now` (period-to-date)."""
    window = scored_window(agreement, period)
    if window is None:
        return None
    return window[0], max(window[0], min(window[1], now_s))



def availability_evidence(
    catalogue: Catalogue,
    agreements: Sequence[Agreement],
    inputs: CustomerInputs,
) -> tuple[list[Outage], list[OutageSummary], list[DataGap]]:
    """Outages and data gaps per service, over the union of the counted time of the
    customer's availability objectives on it."""
    per_service: dict[str, list[tuple[Objective, tuple[float, float], Intervals]]] = {}
    for agreement in agreements:
        span = scored_span(agreement, inputs.period, inputs.now_s)
        if span is None or span[1] <= span[0]:
            continue
        for objective in agreement.objectives:
            if objective.type is not ObjectiveType.AVAILABILITY or objective.calendar not in catalogue.calendars:
                continue
            excluded = excluded_maintenance(objective, inputs.maintenance)
            counted = counted_time(catalogue.calendars[objective.calendar], span, excluded)
            per_service.setdefault(objective.service, []).append((objective, span, counted))
    outages: list[Outage] = []
    summary: list[OutageSummary] = []
    gaps: list[DataGap] = []
    for service, items in per_service.items():
        at_s, value = inputs.up_samples.get(service, (np.empty(0), np.empty(0)))
        staleness = staleness_s(catalogue, service)
        counted = items[0][2]
        for _, _, more in items[1:]:
            counted = union(counted, more)
        window = (min(s[0] for _, s, _ in items), max(s[1] for _, s, _ in items))
        name = service_name(catalogue, service)
        down = evidence.down_runs(np.asarray(at_s, float), np.asarray(value, float), staleness, window, counted)
        outages += [Outage(service, name, r.start_s, r.end_s, r.counted_s) for r in down]
        if down:
            summary.append(OutageSummary(service, name, len(down), sum(r.counted_s for r in down)))
        policies = {o.missing_data.value for o, _, _ in items}
        policy = policies.pop() if len(policies) == 1 else "mixed"
        gaps += [
            DataGap(service, name, r.start_s, r.end_s, r.counted_s, policy)
            for r in evidence.gap_runs(np.asarray(at_s, float), staleness, window, counted)
        ]
    outages.sort(key=lambda o: (-o.counted_s, o.start_s))
    gaps.sort(key=lambda g: (-g.counted_s, g.start_s))
    return outages, summary, gaps


def incident_evidence(
    catalogue: Catalogue,
    agreements: Sequence[Agreement],
    inputs: CustomerInputs,
    rows: Sequence[ObjectiveRow],
) -> tuple[list[IncidentRow], list[BreachedIncident]]:
    results = {(row.agreement, row.objective.id): row.result for row in rows}
    table: list[IncidentRow] = []
    breached: dict[tuple[str, str], BreachedIncident] = {}
    for agreement in agreements:
        window = scored_window(agreement, inputs.period)
        if window is None:
            continue
        for objective in agreement.objectives:
            if not objective.type.is_incident or objective.calendar not in catalogue.calendars:
                continue
            calendar = catalogue.calendars[objective.calendar]
            found = evidence.customer_outcomes(
                inputs.incidents, objective, calendar, inputs.customer, window, inputs.now_s
            )
            measure = measure_words(objective, calendar)
            met = sum(o.met for o in found)
            table.append(
                IncidentRow(agreement.id, objective, measure, met, len(found) - met, results.get((agreement.id, objective.id)))
            )
            for o in found:
                if o.met:
                    continue
                i = o.incident
                stop = i.responded_at if objective.type is ObjectiveType.INCIDENT_RESPONSE else i.resolved_at
                stopped = stop if stop is not None and stop.timestamp() <= inputs.now_s else None
                breached[(i.id, objective.id)] = BreachedIncident(
                    id=i.id,
                    service=i.service,
                    service_name=service_name(catalogue, i.service),
                    priority=i.priority,
                    measure=short_measure(objective),
                    opened_at=i.opened_at,
                    breached_s=o.decisive_s,
                    stopped_at=stopped,
                )
    table.sort(key=lambda r: (r.objective.priority or "", r.objective.type.value, r.agreement))
    return table, sorted(breached.values(), key=lambda b: (b.opened_at, b.id, b.measure))


def maintenance_entries(
    catalogue: Catalogue, agreements: Sequence[Agreement], inputs: CustomerInputs
) -> list[MaintenanceEntry]:
    spans = [s for a in agreements if (s := scored_span(a, inputs.period, inputs.now_s)) and s[1] > s[0]]
    if not spans:
        return []
    objectives = [o for a in agreements for o in a.objectives if not o.type.is_incident]
    words = {o.id: short_measure(o) for o in objectives}
    entries = evidence.ledger(inputs.maintenance, objectives, (min(s[0] for s in spans), max(s[1] for s in spans)))
    return [
        MaintenanceEntry(
            service=e.window.service,
            service_name=service_name(catalogue, e.window.service),
            window=e.window,
            excluded=e.excluded,
            reasons=tuple(
                d.reason if len(e.decisions) == 1 else f"{', '.join(words.get(i, i) for i in d.objectives)}: {d.reason}"
                for d in e.decisions
            ),
        )
        for e in entries
    ]

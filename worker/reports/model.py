"""A report as values (SPEC 8): built from plain values only — stored results, incidents,
maintenance windows and `up` sample arrays handed in by the caller — with no I/O and no clock
(`now_s` is an argument).

A customer report is built from that customer's results and from the services its own
agreements give it, and nothing else: whatever the caller passes, results of other customers
and incidents scoped to other customers are dropped here, so one customer's report can never
show another's figures (tests grep every output for every other customer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np

from worker.domain.model import (
    Agreement,
    AgreementKind,
    Catalogue,
    Customer,
    Incident,
    MaintenanceWindow,
    Objective,
    ObjectiveType,
    Result,
    Status,
)
from worker.reports import evidence
from worker.reports.words import QUADRANTS, SEVERITY, measure_words, short_measure, worst
from worker.scoring.counted import counted_time, excluded_maintenance
from worker.scoring.intervals import Intervals, union
from worker.scoring.periods import period_bounds, periods_back, scored_window, zone
from worker.scoring.results import floor2

TREND_MONTHS = 12
LARGEST = 10  # outages and data gaps listed one by one; the rest are summed up
REVIEW_WARNING_DAYS = 90
# Annual review: "met by a wide margin" = green with at least this share of the error budget
# left in every month that has a value, over at least MIN_MONTHS of the last twelve.
WIDE_MARGIN_BUDGET = 0.75
WIDE_MARGIN_MIN_MONTHS = 6
MISSED_MONTHS_ATTENTION = 3
WORST_COUNT = 10


# ------------------------------------------------------------------ values


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
class ObjectiveRow:
    agreement: str
    objective: Objective
    service: str
    service_name: str
    measure: str
    result: Result
    history: tuple[MonthValue, ...]  # TREND_MONTHS months, oldest first, this period last

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
class BoxService:
    service: str
    name: str
    status: Status | None  # None: no result this period
    customers: int = 0  # board: how many customers receive it


@dataclass(frozen=True)
class BostonBox:
    quadrants: dict[str, tuple[BoxService, ...]]  # every quadrant, in QUADRANTS order


@dataclass(frozen=True)
class AgreementInfo:
    id: str
    name: str
    effective_from: date | None
    effective_to: date | None
    review_due: date | None
    review_days: int | None  # days from the issue date; negative: overdue
    issued: date  # the report's issue date, that review_days counts from
    customers: tuple[str, ...] = ()  # board only (names)

    @property
    def review_soon(self) -> bool:
        return self.review_days is not None and self.review_days <= REVIEW_WARNING_DAYS


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
        found = {s: 0 for s in (Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA)}
        for row in self.rows:
            found[row.result.status] += 1
        return found


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


def customer_agreements(catalogue: Catalogue, customer: str, period: str) -> list[Agreement]:
    """The customer's agreements with a day inside `period`, in configuration order."""
    return [a for a in catalogue.agreements.values() if customer in a.customers and scored_window(a, period)]


def scored_span(agreement: Agreement, period: str, now_s: float) -> tuple[float, float] | None:
    """Period ∩ effective dates, up to `now` (period-to-date)."""
    window = scored_window(agreement, period)
    if window is None:
        return None
    return window[0], max(window[0], min(window[1], now_s))


def issue_date(period: str, tz: str, now_s: float) -> date:
    """The day a report is dated: the day after its period (reports of a complete period
    say the same whenever they are made), or today for a period still running."""
    _, end = period_bounds(period, tz)
    return datetime.fromtimestamp(min(end, now_s), tz=timezone.utc).astimezone(zone(tz)).date()


def _history(results: Iterable[Result], months: Sequence[str]) -> dict[tuple[str, str], dict[str, Result]]:
    """(agreement, objective) and ('*', objective) → period → result."""
    found: dict[tuple[str, str], dict[str, Result]] = {}
    for r in results:
        found.setdefault((r.agreement, r.objective), {})[r.period] = r
        found.setdefault(("*", r.objective), {}).setdefault(r.period, r)
    return found


def _month_values(
    by_period: Mapping[str, Result], fallback: Mapping[str, Result], months: Sequence[str], in_effect: Sequence[bool]
) -> tuple[MonthValue, ...]:
    values = []
    for period, effective in zip(months, in_effect):
        r = by_period.get(period) or fallback.get(period)
        values.append(
            MonthValue(period, r.value, r.status, r.target, r.error_budget_remaining)
            if r
            else MonthValue(period, None, None, None, in_effect=effective)
        )
    return tuple(values)


def _in_effect(catalogue: Catalogue, customer: str, objective: str, months: Sequence[str]) -> tuple[bool, ...]:
    """Per month, whether an agreement of the customer's with an objective of this id was in
    effect (last year's agreement and this year's make one series, as in the history)."""
    holding = [
        a for a in catalogue.agreements.values() if customer in a.customers and any(o.id == objective for o in a.objectives)
    ]
    return tuple(any(scored_window(a, month) for a in holding) for month in months)


def _objective_rows(
    catalogue: Catalogue,
    customer: str,
    agreements: Sequence[Agreement],
    results: Sequence[Result],
    period: str,
    months: Sequence[str],
) -> list[ObjectiveRow]:
    current = {(r.agreement, r.objective): r for r in results if r.period == period}
    history = _history(results, months)
    rows = []
    for agreement in agreements:
        # Within an agreement, a service's objectives side by side (first-mentioned first).
        services = list(dict.fromkeys(o.service for o in agreement.objectives))
        ordered = sorted(agreement.objectives, key=lambda o: services.index(o.service))
        for objective in ordered:
            result = current.get((agreement.id, objective.id))
            if result is None:
                continue
            service = catalogue.services.get(objective.service)
            rows.append(
                ObjectiveRow(
                    agreement=agreement.id,
                    objective=objective,
                    service=objective.service,
                    service_name=service.name if service else objective.service,
                    measure=measure_words(objective, catalogue.calendars.get(objective.calendar)),
                    result=result,
                    history=_month_values(
                        history.get((agreement.id, objective.id), {}),
                        history.get(("*", objective.id), {}),
                        months,
                        _in_effect(catalogue, customer, objective.id, months),
                    ),
                )
            )
    return rows


def _trends(rows: Sequence[ObjectiveRow], months: Sequence[str]) -> list[ServiceTrend]:
    by_service: dict[str, list[ObjectiveRow]] = {}
    for row in rows:
        by_service.setdefault(row.service, []).append(row)
    trends = []
    for service, items in by_service.items():
        panels = tuple(
            TrendPanel(
                objective=row.objective.id,
                measure=short_measure(row.objective),
                values=tuple(m.value for m in row.history),
                statuses=tuple(m.status for m in row.history),
                targets=tuple(m.target for m in row.history),
                warnings=tuple(row.objective.warning if m.status is not None else None for m in row.history),
            )
            for row in items
        )
        trends.append(ServiceTrend(service, items[0].service_name, tuple(months), panels))
    return trends


def _service_name(catalogue: Catalogue, service: str) -> str:
    found = catalogue.services.get(service)
    return found.name if found else service


def _availability_evidence(
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
        staleness = catalogue.services[service].staleness_s if service in catalogue.services else 300.0
        counted = items[0][2]
        for _, _, more in items[1:]:
            counted = union(counted, more)
        window = (min(s[0] for _, s, _ in items), max(s[1] for _, s, _ in items))
        name = _service_name(catalogue, service)
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


def _incident_evidence(
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
                    service_name=_service_name(catalogue, i.service),
                    priority=i.priority,
                    measure=short_measure(objective),
                    opened_at=i.opened_at,
                    breached_s=o.decisive_s,
                    stopped_at=stopped,
                )
    table.sort(key=lambda r: (r.objective.priority or "", r.objective.type.value, r.agreement))
    return table, sorted(breached.values(), key=lambda b: (b.opened_at, b.id, b.measure))


def _maintenance(
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
            service_name=_service_name(catalogue, e.window.service),
            window=e.window,
            excluded=e.excluded,
            reasons=tuple(
                d.reason if len(e.decisions) == 1 else f"{', '.join(words.get(i, i) for i in d.objectives)}: {d.reason}"
                for d in e.decisions
            ),
        )
        for e in entries
    ]


def boston_box(catalogue: Catalogue, statuses: Mapping[str, Status | None], customers: Mapping[str, int] | None = None) -> BostonBox:
    """The services given (id → status), each in every quadrant its `value` names, in
    catalogue order."""
    quadrants: dict[str, list[BoxService]] = {q: [] for q in QUADRANTS}
    for service in catalogue.services.values():
        if service.id not in statuses:
            continue
        for quadrant in service.value:
            if quadrant in quadrants:
                quadrants[quadrant].append(
                    BoxService(service.id, service.name, statuses[service.id], (customers or {}).get(service.id, 0))
                )
    return BostonBox({q: tuple(items) for q, items in quadrants.items()})


def agreement_info(agreement: Agreement, issued: date, customer_names: Sequence[str] = ()) -> AgreementInfo:
    days = (agreement.review_due - issued).days if agreement.review_due else None
    return AgreementInfo(
        id=agreement.id,
        name=agreement.name,
        effective_from=agreement.effective_from,
        effective_to=agreement.effective_to,
        review_due=agreement.review_due,
        review_days=days,
        issued=issued,
        customers=tuple(customer_names),
    )


def build_customer_report(catalogue: Catalogue, inputs: CustomerInputs) -> CustomerReport:
    """The customer report for one period (SPEC 8)."""
    customer = catalogue.customers[inputs.customer]
    period = inputs.period
    months = tuple(periods_back(period, TREND_MONTHS))
    agreements = customer_agreements(catalogue, customer.id, period)
    tz = agreements[0].timezone if agreements else "Europe/London"
    own = [r for r in inputs.results if r.customer == customer.id and r.period in months]
    rows = _objective_rows(catalogue, customer.id, agreements, own, period, months)
    outages, outage_summary, gaps = _availability_evidence(catalogue, agreements, inputs)
    incident_rows, breached = _incident_evidence(catalogue, agreements, inputs, rows)
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
        trends=tuple(_trends(rows, months)),
        incidents=tuple(incident_rows),
        breached=tuple(breached),
        outages=tuple(outages[:LARGEST]),
        outage_summary=tuple(outage_summary),
        gaps=tuple(gaps[:LARGEST]),
        gaps_not_listed=(len(gaps[LARGEST:]), sum(g.counted_s for g in gaps[LARGEST:])),
        maintenance=tuple(_maintenance(catalogue, agreements, inputs)),
        no_data=tuple(row for row in rows if row.result.value is None),
        box=boston_box(catalogue, {s: worst(v) for s, v in statuses.items()}),
        agreements=tuple(agreement_info(a, issued) for a in agreements),
        results=tuple(sorted(current, key=lambda r: (r.agreement, r.customer, r.objective))),
    )


# ------------------------------------------------------------------ the board report


@dataclass(frozen=True)
class MatrixRow:
    service: str
    name: str
    cells: tuple[Status | None, ...]  # one per board customer; None: does not receive it


@dataclass(frozen=True)
class BoardObjective:
    """One objective's figure, shared by the customers listed (a shared agreement's sample
    objectives score the same for all of its customers)."""

    agreement: str
    objective: Objective
    service_name: str
    measure: str
    customers: tuple[str, ...]  # names
    result: Result


@dataclass(frozen=True)
class ReviewHint:
    agreement: str
    objective: Objective
    service_name: str
    measure: str
    customers: tuple[str, ...]
    target: float
    months_with_data: int
    months_missed: int
    lowest: float | None
    lowest_budget: float | None


@dataclass(frozen=True)
class BoardReport:
    period: str
    issued: date
    timezone: str
    final: bool
    months: tuple[str, ...]
    customers: tuple[Customer, ...]
    matrix: tuple[MatrixRow, ...]
    box: BostonBox
    worst: tuple[BoardObjective, ...]
    reviews: tuple[AgreementInfo, ...]  # in effect, review within REVIEW_WARNING_DAYS or overdue
    next_reviews: tuple[AgreementInfo, ...]  # the other agreements in effect
    raise_targets: tuple[ReviewHint, ...]
    attention: tuple[ReviewHint, ...]
    monthly_counts: tuple[tuple[str, dict[Status, int]], ...]  # per month: results by status
    results: tuple[Result, ...]
    worst_total: int = 0  # rows of `worst` before it was cut to WORST_COUNT
    kind: str = field(default="board", init=False)

    @property
    def counts(self) -> dict[Status, int]:
        """Results of the period by status: one result per objective per customer, so an
        objective of an agreement with three customers counts three times."""
        return dict(self.monthly_counts[-1][1]) if self.monthly_counts else {}

    @property
    def spread(self) -> dict[Status, Spread]:
        """Per status: how many objectives, for how many customers, in how many results."""
        return spread(self.results)


@dataclass(frozen=True)
class Spread:
    objectives: int  # distinct (agreement, objective)
    customers: int  # distinct customers
    results: int  # (objective, customer) pairs


def spread(results: Iterable[Result]) -> dict[Status, Spread]:
    """Results grouped by status into objectives, customers and results (an objective may
    be RED for one customer and GREEN for another: incident objectives are per customer)."""
    found: dict[Status, list[Result]] = {}
    for r in results:
        found.setdefault(r.status, []).append(r)
    return {
        status: Spread(len({(r.agreement, r.objective) for r in items}), len({r.customer for r in items}), len(items))
        for status, items in found.items()
    }


def _rank(result: Result) -> tuple[int, float]:
    """Worst first: red, no data, amber, green; within a status the most overspent budget."""
    order = {Status.RED: 0, Status.NO_DATA: 1, Status.AMBER: 2, Status.GREEN: 3}[result.status]
    budget = result.error_budget_remaining if result.error_budget_remaining is not None else 0.0
    return order, budget


def build_board_report(catalogue: Catalogue, period: str, results: Sequence[Result], now_s: float) -> BoardReport:
    """The trust board's view of one period (SPEC 8): every customer. Suppliers' contract
    results are not customers' results: they are left out of the counts and the matrix."""
    results = [r for r in results if r.kind == AgreementKind.AGREEMENT]
    months = tuple(periods_back(period, TREND_MONTHS))
    in_effect = [a for a in catalogue.customer_agreements.values() if scored_window(a, period)]
    tz = in_effect[0].timezone if in_effect else "Europe/London"
    issued = issue_date(period, tz, now_s)
    current = [r for r in results if r.period == period]
    customer_ids = [c for c in catalogue.customers if any(r.customer == c for r in current)]
    customers = tuple(catalogue.customers[c] for c in customer_ids)
    names = {c.id: c.name for c in catalogue.customers.values()}

    cell: dict[tuple[str, str], list[Status]] = {}
    for r in current:
        cell.setdefault((r.service, r.customer), []).append(r.status)
    services = [s for s in catalogue.services.values() if any(key[0] == s.id for key in cell)]
    matrix = tuple(
        MatrixRow(s.id, s.name, tuple(worst(cell[(s.id, c)]) if (s.id, c) in cell else None for c in customer_ids))
        for s in services
    )
    by_service: dict[str, list[Status]] = {}
    for (service, _), statuses in cell.items():
        by_service.setdefault(service, []).extend(statuses)
    receivers = {s: len({c for (sv, c) in cell if sv == s}) for s in by_service}
    box = boston_box(catalogue, {s: worst(v) for s, v in by_service.items()}, receivers)

    objectives = {(a.id, o.id): (a, o) for a in catalogue.customer_agreements.values() for o in a.objectives}

    def grouped(items: Iterable[Result]) -> list[BoardObjective]:
        groups: dict[tuple, BoardObjective] = {}
        for r in items:
            if (r.agreement, r.objective) not in objectives:
                continue
            _, objective = objectives[(r.agreement, r.objective)]
            key = (r.agreement, r.objective, r.value, r.status)
            if key in groups:
                g = groups[key]
                groups[key] = BoardObjective(g.agreement, g.objective, g.service_name, g.measure, (*g.customers, names.get(r.customer, r.customer)), g.result)
            else:
                groups[key] = BoardObjective(
                    r.agreement,
                    objective,
                    _service_name(catalogue, r.service),
                    measure_words(objective, catalogue.calendars.get(objective.calendar)),
                    (names.get(r.customer, r.customer),),
                    r,
                )
        return list(groups.values())

    failing = sorted(
        (g for g in grouped(current) if g.result.status is not Status.GREEN), key=lambda g: (_rank(g.result), g.agreement, g.objective.id)
    )

    reviews, later = [], []
    for agreement in in_effect:
        info = agreement_info(agreement, issued, [names.get(c, c) for c in agreement.customers])
        (reviews if info.review_soon else later).append(info)
    reviews.sort(key=lambda a: (a.review_due or date.max, a.id))
    later.sort(key=lambda a: (a.review_due or date.max, a.id))

    raise_targets, attention = _review_hints(catalogue, results, months, names, objectives)
    monthly = []
    for month in months:
        counts = {s: 0 for s in (Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA)}
        for r in results:
            if r.period == month:
                counts[r.status] += 1
        monthly.append((month, counts))
    return BoardReport(
        period=period,
        issued=issued,
        timezone=tz,
        final=bool(current) and all(r.final for r in current),
        months=months,
        customers=customers,
        matrix=matrix,
        box=box,
        worst=tuple(failing[:WORST_COUNT]),
        worst_total=len(failing),
        reviews=tuple(reviews),
        next_reviews=tuple(later),
        raise_targets=tuple(raise_targets),
        attention=tuple(attention),
        monthly_counts=tuple(monthly),
        results=tuple(current),
    )


def _review_hints(
    catalogue: Catalogue,
    results: Sequence[Result],
    months: Sequence[str],
    names: Mapping[str, str],
    objectives: Mapping[tuple[str, str], tuple[Agreement, Objective]],
) -> tuple[list[ReviewHint], list[ReviewHint]]:
    """The annual-review assistant, per customer and objective id over the twelve months
    (an objective carried from last year's agreement into this year's is one series):
    met by a wide margin every month (the target could rise), or missed in three or more
    months (the target, or the service, needs attention). Customers with the same series
    are listed together."""
    series: dict[tuple[str, str], dict[str, Result]] = {}
    for r in results:
        if r.period in months:
            series.setdefault((r.customer, r.objective), {})[r.period] = r
    latest_period = months[-1]
    hints: dict[tuple, ReviewHint] = {}
    kinds: dict[tuple, str] = {}
    for (customer, _objective_id), by_month in series.items():
        last = by_month.get(latest_period)
        if last is None or (last.agreement, last.objective) not in objectives:
            continue  # only objectives still in effect are reviewed
        valued = [r for r in by_month.values() if r.value is not None]
        missed = sum(r.status is Status.RED for r in by_month.values())
        budgets = [r.error_budget_remaining for r in valued if r.error_budget_remaining is not None]
        wide = (
            len(valued) >= WIDE_MARGIN_MIN_MONTHS
            and all(r.status is Status.GREEN for r in by_month.values())
            and len(budgets) == len(valued)
            and min(budgets) >= WIDE_MARGIN_BUDGET
        )
        if not wide and missed < MISSED_MONTHS_ATTENTION:
            continue
        _, objective = objectives[(last.agreement, last.objective)]
        lowest = min((r.value for r in valued), default=None)
        key = (
            "raise" if wide else "attention",
            last.agreement,
            last.objective,
            tuple((p, by_month[p].value, by_month[p].status) for p in sorted(by_month)),
        )
        kinds[key] = key[0]
        if key in hints:
            h = hints[key]
            hints[key] = ReviewHint(**{**h.__dict__, "customers": (*h.customers, names.get(customer, customer))})
            continue
        hints[key] = ReviewHint(
            agreement=last.agreement,
            objective=objective,
            service_name=_service_name(catalogue, objective.service),
            measure=measure_words(objective, catalogue.calendars.get(objective.calendar)),
            customers=(names.get(customer, customer),),
            target=last.target,
            months_with_data=len(valued),
            months_missed=missed,
            lowest=lowest,
            lowest_budget=min(budgets) if budgets else None,
        )
    order = sorted(hints, key=lambda k: (k[1], k[2]))
    raise_targets = [hints[k] for k in order if kinds[k] == "raise"]
    attention = sorted((hints[k] for k in order if kinds[k] == "attention"), key=lambda h: (-h.months_missed, h.agreement, h.objective.id))
    return raise_targets, attention


def severity(status: Status | None) -> int:
    return -1 if status is None else SEVERITY[status]

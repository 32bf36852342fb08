"""The customer report's objectives over twelve months: one row per objective scored this
period with its history (the at-a-glance strip, the table's two previous months and direction)
and one trend chart per service. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from worker.domain.model import Agreement, Catalogue, Result
from worker.reports.customer.model import MonthValue, ObjectiveRow, ServiceTrend, TrendPanel
from worker.reports.words import measure_words, short_measure
from worker.scoring.periods import scored_window


def _history(results: Iterable[Result]) -> dict[tuple[str, str], dict[str, Result]]:
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


def objective_rows(
    catalogue: Catalogue,
    customer: str,
    agreements: Sequence[Agreement],
    results: Sequence[Result],
    period: str,
    months: Sequence[str],
) -> list[ObjectiveRow]:
    current = {(r.agreement, r.objective): r for r in results if r.period == period}
    history = _history(results)
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


def trends(rows: Sequence[ObjectiveRow], months: Sequence[str]) -> list[ServiceTrend]:
    by_service: dict[str, list[ObjectiveRow]] = {}
    for row in rows:
        by_service.setdefault(row.service, []).append(row)
    found = []
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
        found.append(ServiceTrend(service, items[0].service_name, tuple(months), panels))
    return found

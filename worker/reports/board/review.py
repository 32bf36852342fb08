"""The board report's annual review assistant: from the last twelve months, the targets that
could rise (met by a wide margin every month) and the objectives that need attention (missed
in three or more months). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from worker.domain.model import Agreement, Catalogue, Objective, Result, Status
from worker.reports.board.model import ReviewHint
from worker.reports.model import service_name
from worker.reports.words import measure_words

# "Met by a wide margin" = green with at least this share of the error budget left in every
# month that has a value, over at least WIDE_MARGIN_MIN_MONTHS of the last twelve.
WIDE_MARGIN_BUDGET = 0.75
WIDE_MARGIN_MIN_MONTHS = 6
MISSED_MONTHS_ATTENTION = 3
RAISE, ATTENTION = "raise", "attention"

# (RAISE | ATTENTION, agreement, objective, the series month by month): customers with the same
# key share one hint.
_Key = tuple[str, str, str, tuple[tuple[str, float | None, Status], ...]]


def review_hints(
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
    hints: dict[_Key, ReviewHint] = {}
    for (customer, _objective_id), by_month in series.items():
        last = by_month.get(latest_period)
        if last is None or (last.agreement, last.objective) not in objectives:
            continue  # only objectives still in effect are reviewed
        values = [r.value for r in by_month.values() if r.value is not None]
        budgets = [
            r.error_budget_remaining
            for r in by_month.values()
            if r.value is not None and r.error_budget_remaining is not None
        ]
        missed = sum(r.status is Status.RED for r in by_month.values())
        wide = (
            len(values) >= WIDE_MARGIN_MIN_MONTHS
            and all(r.status is Status.GREEN for r in by_month.values())
            and len(budgets) == len(values)
            and min(budgets) >= WIDE_MARGIN_BUDGET
        )
        if not wide and missed < MISSED_MONTHS_ATTENTION:
            continue
        _, objective = objectives[(last.agreement, last.objective)]
        key: _Key = (
            RAISE if wide else ATTENTION,
            last.agreement,
            last.objective,
            tuple((p, by_month[p].value, by_month[p].status) for p in sorted(by_month)),
        )
        if key in hints:
            hints[key] = replace(hints[key], customers=(*hints[key].customers, names.get(customer, customer)))
            continue
        hints[key] = ReviewHint(
            agreement=last.agreement,
            objective=objective,
            service_name=service_name(catalogue, objective.service),
            measure=measure_words(objective, catalogue.calendars.get(objective.calendar)),
            customers=(names.get(customer, customer),),
            target=last.target,
            months_with_data=len(values),
            months_missed=missed,
            lowest=min(values, default=None),
            lowest_budget=min(budgets) if budgets else None,
        )
    order = sorted(hints, key=lambda k: (k[1], k[2]))
    raise_targets = [hints[k] for k in order if k[0] == RAISE]
    attention = sorted(
        (hints[k] for k in order if k[0] == ATTENTION), key=lambda h: (-h.months_missed, h.agreement, h.objective.id)
    )
    return raise_targets, attention

"""Scoring one period: day tallies for sample objectives, outcomes for incident objectives,
and the results for every customer of every agreement (SPEC 6). Pure: inputs are plain
values and a lookup for sample series, `now_s` is an argument.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from worker.domain.model import (
    Agreement,
    Calendar,
    Catalogue,
    MaintenanceWindow,
    Objective,
    ObjectiveType,
    Result,
    Service,
    Signal,
    instance_id,
)
from worker.scoring import incidents as incident_rules
from worker.scoring.calendars import OpenTime
from worker.scoring.counted import excluded_maintenance
from worker.scoring.intervals import Intervals, clip
from worker.scoring.periods import period_bounds
from worker.scoring.results import Progress, Tally, availability_score, count_score, make_results
from worker.scoring.tallies import (
    DayTallies,
    UpPieces,
    good_before,
    tally_availability,
    tally_events,
    tally_latency,
    up_pieces,
)

Series = tuple[np.ndarray, np.ndarray]
SeriesLookup = Callable[[str, Signal], Series]
"""(service, signal) → (epoch seconds ascending, values) covering the days asked for,
from the first day boundary − staleness on for `up`."""


@dataclass(frozen=True)
class ObjectiveContext:
    """Everything about one objective of one agreement that scoring needs besides data."""

    agreement: Agreement
    objective: Objective
    calendar: Calendar
    service: Service
    excluded: tuple[MaintenanceWindow, ...]
    customer: str | None = None  # a per-customer instance: the one customer it is scored for

    @cached_property
    def key(self) -> tuple[str, str]:
        """Its tally sheet's (agreement, objective): a per-customer instance has its own sheet,
        while its results keep the objective's id (they are keyed by customer too)."""
        objective = self.objective.id if self.customer is None else f"{self.objective.id}@{self.customer}"
        return self.agreement.id, objective

    @cached_property
    def basis(self) -> str:
        """Fingerprint of what shapes the day tallies (not target or warning), so stored
        tallies made under another configuration are recomputed rather than reused."""
        o, a = self.objective, self.agreement
        parts = [
            o.type.value, o.service, o.calendar, repr(self.calendar), repr(o.threshold_ms),
            repr(o.maintenance_notice_s), repr(self.service.staleness_s), a.timezone,
            repr(a.effective_from), repr(a.effective_to),
            repr(sorted((w.start_at.timestamp(), w.end_at.timestamp()) for w in self.excluded)),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def contexts(catalogue: Catalogue, maintenance: Iterable[MaintenanceWindow]) -> list[ObjectiveContext]:
    """One context per objective of every agreement, in agreement then objective order; a
    sample objective on a per-customer template gives one context per customer instead."""
    windows = list(maintenance)
    found = []
    for agreement in catalogue.agreements.values():
        for objective in agreement.objectives:
            service = catalogue.services[objective.service]
            context = ObjectiveContext(
                agreement=agreement,
                objective=objective,
                calendar=catalogue.calendars[objective.calendar],
                service=service,
                excluded=tuple(excluded_maintenance(objective, windows)),
            )
            if service.per_customer and not objective.type.is_incident:
                found.extend(_per_customer(catalogue, context, windows))
            else:
                found.append(context)
    return found


def _per_customer(
    catalogue: Catalogue, template: ObjectiveContext, windows: list[MaintenanceWindow]
) -> list[ObjectiveContext]:
    """Customer C's share of an objective on a template service: scored against C's instance
    (`<template>.C`) for C alone. The objective keeps its id, so results stay keyed (agreement,
    customer, objective, period) and name the instance as their service. Maintenance on the
    template covers every instance; an incident objective is not split (incidents carry their
    customer already)."""
    found = []
    for customer in template.agreement.customers:
        instance = catalogue.services[instance_id(template.service.id, customer)]
        objective = replace(template.objective, service=instance.id)
        found.append(
            replace(
                template,
                agreement=replace(template.agreement, customers=(customer,)),
                objective=objective,
                service=instance,
                excluded=template.excluded + tuple(excluded_maintenance(objective, windows)),
                customer=customer,
            )
        )
    return found


def is_final(agreement: Agreement, period: str, now_s: float, grace_s: float) -> bool:
    """Final once the period's end plus the late-data grace has passed."""
    return now_s >= final_from(agreement, period, grace_s)


def final_from(agreement: Agreement, period: str, grace_s: float) -> float:
    """When the agreement's results of `period` turn final: its end plus the late-data grace."""
    return period_bounds(period, agreement.timezone)[1] + grace_s


class ServiceShares:
    """What a service's objectives on the same series and days have in common whatever their
    counted time: the `up` series cut into pieces, the running good counts of `latency_ms`
    under a threshold. One per service and run; the series lookup must give the same series
    for the same days each time."""

    def __init__(self) -> None:
        self._pieces: dict[tuple[float, float, int, float], UpPieces] = {}
        self._good: dict[tuple[int, float], np.ndarray] = {}

    def up_pieces(self, bounds: np.ndarray, at_s: np.ndarray, value: np.ndarray, staleness_s: float) -> UpPieces:
        key = (float(bounds[0]), float(bounds[-1]), len(bounds), staleness_s)
        if key not in self._pieces:
            self._pieces[key] = up_pieces(bounds, at_s, value, staleness_s)
        return self._pieces[key]

    def good_before(self, value: np.ndarray, threshold_ms: float) -> np.ndarray:
        key = (len(value), threshold_ms)
        if key not in self._good:
            self._good[key] = good_before(value, threshold_ms)
        return self._good[key]


def tally_days(
    context: ObjectiveContext,
    counted: Intervals,
    bounds: np.ndarray,
    series: SeriesLookup,
    shares: ServiceShares | None = None,
) -> DayTallies:
    """Per-day tallies of a sample objective over the days given by `bounds`, with `counted`
    its counted time over the scored window (see `counted_time`); `shares` lets objectives on
    the same service reuse what their series have in common."""
    counted = clip(counted, bounds[0], bounds[-1])
    objective, service = context.objective, context.service.id
    shares = shares if shares is not None else ServiceShares()
    if objective.type is ObjectiveType.AVAILABILITY:
        at_s, value = series(service, Signal.UP)
        staleness_s = context.service.staleness_s
        return tally_availability(counted, bounds, at_s, value, staleness_s, shares.up_pieces(bounds, at_s, value, staleness_s))
    if objective.type is ObjectiveType.LATENCY:
        at_s, value = series(service, Signal.LATENCY_MS)
        threshold_ms = float(objective.threshold_ms or 0.0)
        return tally_latency(counted, bounds, at_s, value, threshold_ms, shares.good_before(value, threshold_ms))
    if objective.type is ObjectiveType.EVENTS:
        good_at, good = series(service, Signal.GOOD)
        total_at, total = series(service, Signal.TOTAL)
        return tally_events(counted, bounds, good_at, good, total_at, total)
    raise ValueError(f"{objective.type} is not scored from samples")


def sum_days(days: DayTallies) -> Tally:
    return Tally(
        up_s=float(days.up_s.sum()),
        down_s=float(days.down_s.sum()),
        counted_s=float(days.counted_s.sum()),
        good=float(days.good.sum()),
        total=float(days.total.sum()),
    )


def sample_results(
    context: ObjectiveContext, period: str, tally: Tally, final: bool, progress: Progress | None = None
) -> list[Result]:
    """The same score for every customer of the agreement: sample data is not per customer.
    `progress` (the counted time gone by and the period's whole, both from the calendar)
    sets a period-to-date result's budget against the whole period (SPEC 6)."""
    objective = context.objective
    if objective.type is ObjectiveType.AVAILABILITY:
        score = availability_score(tally, objective.missing_data)
    else:
        score = count_score(tally.good, tally.total)
    return make_results(period, context.agreement, context.agreement.customers, objective, score, final, progress)


def incident_results(
    context: ObjectiveContext,
    period: str,
    window: tuple[float, float],
    outcomes: list[incident_rules.Outcome],
    final: bool,
) -> list[Result]:
    """Per customer: incidents for that customer or for everyone, decided inside the window."""
    results = []
    for customer in context.agreement.customers:
        met, breached = incident_rules.count(outcomes, customer, window)
        score = count_score(float(met), float(met + breached))
        results += make_results(period, context.agreement, [customer], context.objective, score, final)
    return results


class OpenTimes:
    """One remembered OpenTime per calendar."""

    def __init__(self) -> None:
        self._by_calendar: dict[Calendar, OpenTime] = {}

    def __call__(self, calendar: Calendar) -> OpenTime:
        if calendar not in self._by_calendar:
            self._by_calendar[calendar] = OpenTime(calendar)
        return self._by_calendar[calendar]


def result_order(result: Result) -> tuple[str, str, str]:
    return (result.agreement, result.customer, result.objective)

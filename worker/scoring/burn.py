"""Burn rates over short windows of counted time (SPEC 7). Pure: `now_s` is an argument.

Burn rate over a window = (bad / total in that window) / (1 − target/100), counted time only.
A burn rate of 1 spends the error budget exactly as fast as the target allows; 14.4 over an
hour would spend a 30-day budget in about two days.

The window is the wall-clock span [now − length, now) intersected with the agreement's
effective dates; inside it only counted time counts (the objective's calendar open hours,
minus excluded maintenance), exactly as in period scoring (SPEC 6):

- availability: seconds up and down of the `up` samples' holds inside the window's counted
  time, with the objective's missing-data policy for the seconds without data;
- latency: `latency_ms` samples whose timestamp lies in the window's counted time;
- events: Σgood and Σtotal over the timestamps in the window's counted time that have both
  a `good` and a `total` sample;
- incident types: incidents whose decisive moment (SPEC 6) lies in the window, per customer.

Windows are not cut at the start of the period: a rate is about the recent past, and the
first hour of a month should not look empty. A window with no counted data (total = 0: an
office-hours objective at night, a service with no samples) has no burn rate (None).
Target 100 % leaves no budget: the burn rate is 0 with nothing bad and infinite otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from worker.domain.model import Agreement, ObjectiveType, Signal
from worker.scoring import incidents as incident_rules
from worker.scoring.intervals import Intervals
from worker.scoring.periods import effective_bounds
from worker.scoring.results import Tally, availability_score, count_score
from worker.scoring.score import ObjectiveContext, SeriesLookup, sum_days, tally_days
from worker.scoring.windows import WINDOWS


@dataclass(frozen=True)
class WindowScore:
    """good, bad and total inside one window, the burn rate they give (None: no data), and
    for availability the share of the window's counted time that has data (SPEC 6 coverage,
    read by the data-missing alert whatever the missing-data policy)."""

    window: str
    good: float
    bad: float
    total: float
    burn_rate: float | None
    coverage: float | None = None


def burn_rate(bad: float, total: float, target: float) -> float | None:
    """(bad / total) / (1 − target/100); None when total is 0."""
    if total <= 0:
        return None
    budget = (100.0 - target) / 100.0  # not 1 − target/100: 1 − 0.99 is 0.010000000000000009
    if budget <= 0:
        return 0.0 if bad <= 0 else math.inf
    return (bad / total) / budget


def reach(agreement: Agreement, now_s: float, length_s: float) -> tuple[float, float] | None:
    """[now − length, now) ∩ the agreement's effective dates, or None when they do not meet."""
    eff_start, eff_end = effective_bounds(agreement)
    lo, hi = max(now_s - length_s, eff_start), min(now_s, eff_end)
    return (lo, hi) if hi > lo else None


def window_tallies(
    context: ObjectiveContext, counted: Intervals, series: SeriesLookup, now_s: float
) -> dict[str, Tally | None]:
    """Per window, the sums of a sample objective (None: the window misses the effective
    dates). `counted` is the objective's counted time over at least `reach(…, LONGEST_WINDOW_S)`
    and `series` must cover that reach from its start − staleness on (for `up`).

    Depends only on what the objective's `basis` fingerprints, so objectives sharing a basis
    may share the answer."""
    found: dict[str, Tally | None] = {}
    for name, length in WINDOWS.items():
        span = reach(context.agreement, now_s, length)
        if span is None:
            found[name] = None
            continue
        within = _sliced(series, span[0] - context.service.staleness_s, span[1])
        found[name] = sum_days(tally_days(context, counted, np.array(span, dtype=np.float64), within))
    return found


def _sliced(series: SeriesLookup, lo: float, hi: float) -> SeriesLookup:
    """The samples in [lo, hi) only (the series are sorted): a 5-minute window then tallies a
    handful of samples instead of three days' worth. Nothing before lo − staleness can hold
    into the window, nothing at or after its end counts."""

    def lookup(service: str, signal: Signal) -> tuple[np.ndarray, np.ndarray]:
        at_s, value = series(service, signal)
        first, last = np.searchsorted(at_s, [lo, hi], side="left")
        return at_s[first:last], value[first:last]

    return lookup


def sample_window_scores(context: ObjectiveContext, tallies: dict[str, Tally | None]) -> list[WindowScore]:
    """Window sums → good, bad, total and burn rate, with the objective's missing-data policy
    and target (for every customer of the agreement alike: samples are not per customer)."""
    objective = context.objective
    scores = []
    for name in WINDOWS:
        tally = tallies.get(name)
        if tally is None:
            scores.append(WindowScore(name, 0.0, 0.0, 0.0, None))
            continue
        if objective.type is ObjectiveType.AVAILABILITY:
            score = availability_score(tally, objective.missing_data)
        else:
            score = count_score(tally.good, tally.total)
        rate = burn_rate(score.bad, score.total, objective.target)
        scores.append(WindowScore(name, score.good, score.bad, score.total, rate, score.coverage))
    return scores


def incident_window_scores(
    agreement: Agreement, target: float, customer: str, outcomes: Iterable[incident_rules.Outcome], now_s: float
) -> list[WindowScore]:
    """Met and breached incidents of one customer whose decisive moment lies in each window
    (see `worker.scoring.incidents.outcomes`, computed at `now_s`)."""
    decided = list(outcomes)
    scores = []
    for name, length in WINDOWS.items():
        span = reach(agreement, now_s, length)
        met, breached = incident_rules.count(decided, customer, span) if span else (0, 0)
        good, bad = float(met), float(breached)
        scores.append(WindowScore(name, good, bad, good + bad, burn_rate(bad, good + bad, target)))
    return scores

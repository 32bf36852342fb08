"""Planning a scoring run of one service's sample objectives in one period: which days to
(re)tally, which objectives share a computation, which samples to load. Pure: plain data in,
plain data out, no database and no clock, so the choices can be checked with tables.

Days are indexes into the period's day boundaries (`bounds[i]` to `bounds[i + 1]`, as
`periods.period_days` gives them in the agreement's zone). An incremental run redoes the days
never tallied and the days new samples can have moved; a full run redoes every day.
Objectives with the same basis (same service, calendar, exclusions … in different agreements)
have the same day tallies, so one computation serves them all.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from worker.domain.changes import Changes
from worker.domain.model import InputKind

Run = tuple[int, int]
"""Consecutive day indexes [first, last], both included."""


@dataclass(frozen=True)
class Stored:
    """A stored tally sheet as planning sees it: the basis it was made under and which of its
    days are tallied for good."""

    basis: str
    tallied: Sequence[bool]


@dataclass(frozen=True)
class Target:
    """One sample objective of one agreement."""

    basis: str
    bounds: Sequence[float]  # the period's day boundaries in the agreement's zone (days + 1)
    stored: Stored | None = None


@dataclass(frozen=True)
class DayPlan:
    """What one target needs: a blank sheet or the stored one, and the day runs to tally."""

    fresh: bool  # start from a blank sheet (none stored, or stored under another basis or day count)
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class Computation:
    """One tally of days [first, last] under `basis`, made with target number `by`'s context
    and copied into every target that plans the same run under the same basis."""

    basis: str
    first: int
    last: int
    by: int


@dataclass(frozen=True)
class ServicePlan:
    days: tuple[DayPlan, ...]  # per target, in the order given
    computations: tuple[Computation, ...]  # distinct (basis, first, last), in the order first needed
    load_span: tuple[float, float] | None  # samples to load: [lo, hi) in epoch seconds; None: none


def needs_scoring(service: str, is_incident: bool, changes: Changes | None) -> bool:
    """Incident objectives depend on incidents; sample objectives on samples and, through
    the maintenance they exclude, on maintenance. Everything needs a full run (no changes)."""
    if changes is None:
        return True
    if is_incident:
        return changes.span(InputKind.INCIDENTS, service) is not None
    return changes.span(InputKind.SAMPLES, service) is not None or changes.span(InputKind.MAINTENANCE, service) is not None


def plan_service(
    targets: Sequence[Target], staleness_s: float, changed: tuple[float, float] | None, *, full: bool
) -> ServicePlan:
    """Plan one service's targets. `changed` is the span of the service's new samples (None:
    no new samples); `full` redoes every day whatever is stored."""
    days = tuple(_day_plan(t, staleness_s, changed, full) for t in targets)
    computations: dict[tuple[str, int, int], Computation] = {}
    for number, (target, plan) in enumerate(zip(targets, days)):
        for first, last in plan.runs:
            computations.setdefault((target.basis, first, last), Computation(target.basis, first, last, number))
    return ServicePlan(days, tuple(computations.values()), _load_span(targets, days, staleness_s))


def days_to_tally(bounds: Sequence[float], tallied: Sequence[bool], staleness_s: float, changed: tuple[float, float] | None) -> list[int]:
    """Indexes of the days an incremental run must (re)compute: the days never tallied and
    the days new samples can have moved (a sample changes the hold of the one before it, so
    reach back and forward by the staleness)."""
    count = len(bounds) - 1
    wanted = {i for i, done in enumerate(tallied) if not done}
    if changed is not None:
        lo = bisect_right(bounds, changed[0] - staleness_s) - 1
        hi = bisect_right(bounds, changed[1] + staleness_s) - 1
        wanted |= set(range(max(lo, 0), min(hi, count - 1) + 1))
    return sorted(wanted)


def runs(indexes: Sequence[int]) -> tuple[Run, ...]:
    """Consecutive runs [first, last] of sorted day indexes."""
    found: list[Run] = []
    for i in indexes:
        if found and found[-1][1] == i - 1:
            found[-1] = (found[-1][0], i)
        else:
            found.append((i, i))
    return tuple(found)


def _day_plan(target: Target, staleness_s: float, changed: tuple[float, float] | None, full: bool) -> DayPlan:
    count = len(target.bounds) - 1
    stored = target.stored
    fresh = full or stored is None or stored.basis != target.basis or len(stored.tallied) != count
    if full:
        return DayPlan(fresh, runs(range(count)))
    tallied = [False] * count if fresh or stored is None else stored.tallied
    return DayPlan(fresh, runs(days_to_tally(target.bounds, tallied, staleness_s, changed)))


def _load_span(targets: Sequence[Target], days: Sequence[DayPlan], staleness_s: float) -> tuple[float, float] | None:
    """From the first planned day's start − staleness (the sample before it still holds) to
    the last planned day's end, over every target."""
    spans = [(t.bounds[p.runs[0][0]], t.bounds[p.runs[-1][1] + 1]) for t, p in zip(targets, days) if p.runs]
    if not spans:
        return None
    return min(lo for lo, _ in spans) - staleness_s, max(hi for _, hi in spans)

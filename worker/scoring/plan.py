"""Planning a scoring run of one service's sample objectives in one period: which days to
(re)tally, which objectives share a computation, which samples to load. Pure: plain data in,
plain data out, no database and no clock, so the choices can be checked with tables.

Days are indexes into the period's day boundaries (`bounds[i]` to `bounds[i + 1]`, as
`periods.period_days` gives them in the agreement's zone). A full run redoes every day. An
incremental run redoes only what can have changed an objective's figures: days not tallied for
good whose counted time grew since the sheet was written (time gone by), and days where new
samples reach its counted time; an objective with neither keeps its results as they are (its
figures, and how far through the period it is, are what they were), unless the period turned
final since.
Objectives with the same basis (same service, calendar, exclusions … in different agreements)
have the same day tallies, so one computation serves them all.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from worker.domain.changes import Changes
from worker.domain.model import InputKind
from worker.scoring.intervals import Intervals, meets

Run = tuple[int, int]
"""Consecutive day indexes [first, last], both included."""


@dataclass(frozen=True)
class Stored:
    """A stored tally sheet as planning sees it: the basis it was made under, which of its
    days are tallied for good, and when it was written (its other days hold their tallies up
    to then)."""

    basis: str
    tallied: Sequence[bool] | bytes  # bytes: one per day, 1 tallied
    written_s: float = -math.inf


@dataclass(frozen=True)
class Target:
    """One sample objective of one agreement."""

    basis: str
    bounds: Sequence[float]  # the period's day boundaries in the agreement's zone (days + 1)
    stored: Stored | None = None
    counted: Intervals | None = None  # its counted time C over the scored window; None: all time counts
    final_from_s: float = math.inf  # when its period turns final (end + late-data grace)
    holds: bool = True  # its samples hold until the next (`up`); False: counted at their instant (latency, events)


@dataclass(frozen=True)
class DayPlan:
    """What one target needs: a blank sheet or the stored one, the day runs to tally, and
    whether its results must be made again though no day is (the period turned final)."""

    fresh: bool  # start from a blank sheet (none stored, or stored under another basis or day count)
    runs: tuple[Run, ...]
    refinal: bool = False

    @property
    def scored(self) -> bool:
        """Its results are made again; else they stay as stored."""
        return self.fresh or bool(self.runs) or self.refinal


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
    targets: Sequence[Target],
    staleness_s: float,
    changed: tuple[float, float] | None,
    *,
    full: bool,
    now_s: float,
) -> ServicePlan:
    """Plan one service's targets at `now_s`. `changed` is the span of the service's new
    samples (None: no new samples); `full` redoes every day whatever is stored."""
    days = tuple(_day_plan(t, staleness_s, changed, full, now_s) for t in targets)
    computations: dict[tuple[str, int, int], Computation] = {}
    for number, (target, plan) in enumerate(zip(targets, days)):
        for first, last in plan.runs:
            computations.setdefault((target.basis, first, last), Computation(target.basis, first, last, number))
    return ServicePlan(days, tuple(computations.values()), _load_span(targets, days, staleness_s))


def days_to_tally(
    bounds: Sequence[float],
    tallied: Sequence[bool] | bytes,
    reach: tuple[float, float] | None,
    counted: Intervals | None = None,
    since: tuple[float, float] = (-math.inf, math.inf),
) -> list[int]:
    """Indexes of the days an incremental run must (re)compute: the days not tallied for good
    whose counted time meets `since` (from the sheet's writing to now: time gone by since
    their stored tallies), and the days whose counted time meets the `reach` of new samples
    (see `_reach`). A day whose counted time neither grew nor met new samples has the tally it
    had. `counted` None: all time counts."""
    count = len(bounds) - 1
    wanted: set[int] = set()
    if _meets(counted, *since):
        first, last = max(bisect_right(bounds, since[0]) - 1, 0), min(bisect_left(bounds, since[1]), count)
        wanted = {
            i for i in range(first, last) if not tallied[i] and _meets(counted, max(bounds[i], since[0]), min(bounds[i + 1], since[1]))
        }
    if reach is not None and _meets(counted, *reach):
        lo = bisect_right(bounds, reach[0]) - 1
        hi = bisect_right(bounds, reach[1]) - 1
        wanted |= {i for i in range(max(lo, 0), min(hi, count - 1) + 1) if _meets(counted, max(bounds[i], reach[0]), min(bounds[i + 1], reach[1]))}
    return sorted(wanted)


def _reach(changed: tuple[float, float] | None, staleness_s: float, holds: bool) -> tuple[float, float] | None:
    """The instants new samples from `changed[0]` to `changed[1]` can have moved: a held `up`
    sample changes the hold of the one before it and holds itself, so reach back and forward
    by the staleness; a counted sample (latency, events) only its own instant."""
    if changed is None:
        return None
    if holds:
        return changed[0] - staleness_s, changed[1] + staleness_s
    return changed[0], math.nextafter(changed[1], math.inf)


def _meets(counted: Intervals | None, lo: float, hi: float) -> bool:
    return hi > lo if counted is None else meets(counted, lo, hi)


def runs(indexes: Sequence[int]) -> tuple[Run, ...]:
    """Consecutive runs [first, last] of sorted day indexes."""
    found: list[Run] = []
    for i in indexes:
        if found and found[-1][1] == i - 1:
            found[-1] = (found[-1][0], i)
        else:
            found.append((i, i))
    return tuple(found)


def _day_plan(target: Target, staleness_s: float, changed: tuple[float, float] | None, full: bool, now_s: float) -> DayPlan:
    count = len(target.bounds) - 1
    stored = target.stored
    if full or stored is None or stored.basis != target.basis or len(stored.tallied) != count:
        return DayPlan(True, runs(range(count)))
    refinal = stored.written_s < target.final_from_s <= now_s
    days = days_to_tally(target.bounds, stored.tallied, _reach(changed, staleness_s, target.holds), target.counted, (stored.written_s, now_s))
    return DayPlan(False, runs(days), refinal) if days or refinal else _LEFT_AS_STORED  # the last: most objectives of a run


_LEFT_AS_STORED = DayPlan(False, ())


def _load_span(targets: Sequence[Target], days: Sequence[DayPlan], staleness_s: float) -> tuple[float, float] | None:
    """From the first planned day's start − staleness (the sample before it still holds) to
    the last planned day's end, over every target."""
    spans = [(t.bounds[p.runs[0][0]], t.bounds[p.runs[-1][1] + 1]) for t, p in zip(targets, days) if p.runs]
    if not spans:
        return None
    return min(lo for lo, _ in spans) - staleness_s, max(hi for _, hi in spans)

"""The evidence behind a customer's figures, from plain values (pure, no clock):

- outages: runs of `up` = 0 samples' hold time, merged when consecutive, with the part of
  each run inside counted time (what it cost against the target);
- data gaps: time no `up` sample holds (SPEC 6 `nodata_s`), merged the same way;
- the maintenance ledger: each window of the period, excluded or counted, and why;
- incident outcomes for one customer, decided exactly as scoring decides them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from worker.domain.model import Calendar, Incident, MaintenanceWindow, Objective
from worker.reports.words import duration, notice_text
from worker.scoring import incidents as incident_rules
from worker.scoring.calendars import OpenTime
from worker.scoring.counted import is_excluded
from worker.scoring.intervals import Intervals, clip, complement, cumulative_measure, normalise
from worker.scoring.tallies import hold_intervals


@dataclass(frozen=True)
class Run:
    """[start_s, end_s) of down or no-data time (clipped to the scored window) and the
    seconds of it inside counted time."""

    start_s: float
    end_s: float
    counted_s: float


def _runs(found: Intervals, counted: Intervals) -> list[Run]:
    if len(found) == 0:
        return []
    inside = cumulative_measure(counted, found.ends) - cumulative_measure(counted, found.starts)
    return [
        Run(float(s), float(e), float(c))
        for s, e, c in zip(found.starts.tolist(), found.ends.tolist(), inside.tolist())
        if c > 0
    ]


def down_runs(
    at_s: np.ndarray, value: np.ndarray, staleness_s: float, window: tuple[float, float], counted: Intervals
) -> list[Run]:
    """Outages: the hold time of samples that are not up (value ≠ 1), consecutive holds
    merged, clipped to `window`, keeping runs that overlap counted time."""
    if len(at_s) == 0:
        return []
    ends = hold_intervals(at_s, staleness_s)
    down = value != 1
    found = clip(normalise(at_s[down], ends[down]), *window)
    return _runs(found, counted)


def gap_runs(at_s: np.ndarray, staleness_s: float, window: tuple[float, float], counted: Intervals) -> list[Run]:
    """No data: time in `window` that no `up` sample holds, keeping runs that overlap
    counted time (so a gap outside service hours is not a caveat)."""
    held = normalise(at_s, hold_intervals(at_s, staleness_s)) if len(at_s) else Intervals.empty()
    return _runs(complement(held, *window), counted)


# ------------------------------------------------------------------ maintenance ledger


@dataclass(frozen=True)
class Decision:
    """How one window was treated for some objectives (those with the same notice)."""

    excluded: bool
    reason: str
    objectives: tuple[str, ...]


@dataclass(frozen=True)
class LedgerEntry:
    window: MaintenanceWindow
    decisions: tuple[Decision, ...]

    @property
    def excluded(self) -> bool | None:
        """True/False when every objective agrees, None when they differ."""
        kinds = {d.excluded for d in self.decisions}
        return kinds.pop() if len(kinds) == 1 else None


def _ahead(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{int(seconds // 86400)} days"
    return duration(seconds)


def decide(window: MaintenanceWindow, notice_s: float) -> tuple[bool, str]:
    """Excluded or counted, and why, in words a customer can challenge."""
    excluded = is_excluded(window, notice_s)
    if window.emergency:
        return excluded, "emergency work: counted in the figures"
    if window.announced_at is None:
        return excluded, "never announced: counted in the figures"
    ahead_s = window.start_at.timestamp() - window.announced_at.timestamp()
    if ahead_s < 0:
        return excluded, "announced after it started: counted in the figures"
    if excluded:
        return excluded, f"announced {_ahead(ahead_s)} ahead ({notice_text(notice_s)} required): excluded"
    return excluded, f"short notice, announced {_ahead(ahead_s)} ahead ({notice_text(notice_s)} required): counted in the figures"


def ledger(
    windows: Iterable[MaintenanceWindow], objectives: Sequence[Objective], span: tuple[float, float]
) -> list[LedgerEntry]:
    """Every window of the objectives' services that overlaps `span`, with the decision for
    each group of objectives (of that service) that share a notice. Sorted by start."""
    entries = []
    seen: set[tuple[str, float, float]] = set()
    for window in sorted(windows, key=lambda w: (w.start_at, w.service, w.end_at)):
        key = (window.service, window.start_at.timestamp(), window.end_at.timestamp())
        if key in seen or window.end_at.timestamp() <= span[0] or window.start_at.timestamp() >= span[1]:
            continue
        mine = [o for o in objectives if o.service == window.service]
        if not mine:
            continue
        seen.add(key)
        by_notice: dict[float, list[str]] = {}
        for objective in mine:
            by_notice.setdefault(objective.maintenance_notice_s, []).append(objective.id)
        decided = {notice_s: decide(window, notice_s) for notice_s in by_notice}
        if len({excluded for excluded, _ in decided.values()}) == 1:
            # Every objective treats it alike: one decision, worded for the strictest notice.
            strictest = max(by_notice)
            excluded, reason = decided[strictest]
            ids = tuple(dict.fromkeys(i for group in by_notice.values() for i in group))
            entries.append(LedgerEntry(window, (Decision(excluded, reason, ids),)))
            continue
        decisions = [
            Decision(decided[notice_s][0], decided[notice_s][1], tuple(dict.fromkeys(ids)))
            for notice_s, ids in sorted(by_notice.items())
        ]
        entries.append(LedgerEntry(window, tuple(decisions)))
    return entries


# ------------------------------------------------------------------ incidents


@dataclass(frozen=True)
class IncidentOutcome:
    incident: Incident
    met: bool
    decisive_s: float  # the stop (met) or the breach moment (breached)


def customer_outcomes(
    incidents: Iterable[Incident],
    objective: Objective,
    calendar: Calendar,
    customer: str,
    window: tuple[float, float],
    now_s: float,
) -> list[IncidentOutcome]:
    """The incidents that count for `customer` in `window` (period ∩ effective dates), met
    or breached, decided as scoring decides them (worker.scoring.incidents): the same
    numbers as the customer's result."""
    mine = [i for i in incidents if i.customer is None or i.customer == customer]
    by_id = {i.id: i for i in mine}
    found = incident_rules.outcomes(mine, objective, OpenTime(calendar), now_s)
    return [
        IncidentOutcome(by_id[o.incident], o.met, o.decisive_s)
        for o in found
        if (o.customer is None or o.customer == customer) and window[0] <= o.decisive_s < window[1]
    ]

"""Counted time C = period ∩ effective dates ∩ calendar open time − excluded maintenance (SPEC 6)."""

from __future__ import annotations

from collections.abc import Iterable

from worker.domain.model import Calendar, MaintenanceWindow, Objective
from worker.scoring.calendars import open_intervals
from worker.scoring.intervals import Intervals, subtract

# What counted time depends on (calendar, window, excluded maintenance): callers that measure
# it for many objectives keep one answer per key.
CountedKey = tuple[Calendar, tuple[float, float], tuple[MaintenanceWindow, ...]]


def is_excluded(window: MaintenanceWindow, notice_s: float) -> bool:
    """Planned work is excluded only when announced at least `notice_s` before it started and
    not an emergency; short-notice and emergency work counts against the service."""
    if window.emergency or window.announced_at is None:
        return False
    return window.announced_at.timestamp() <= window.start_at.timestamp() - notice_s


def excluded_maintenance(
    objective: Objective, maintenance: Iterable[MaintenanceWindow]
) -> list[MaintenanceWindow]:
    return [w for w in maintenance if w.service == objective.service and is_excluded(w, objective.maintenance_notice_s)]


def counted_time(
    calendar: Calendar,
    window: tuple[float, float],
    excluded: Iterable[MaintenanceWindow],
) -> Intervals:
    """C within `window` (already period ∩ effective dates) for one objective."""
    open_time = open_intervals(calendar, window[0], window[1])
    removed = Intervals.of([(w.start_at.timestamp(), w.end_at.timestamp()) for w in excluded])
    return subtract(open_time, removed)

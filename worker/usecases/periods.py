"""Which periods to score: the open ones, the ones with data, the ones new input touched."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from worker.domain.changes import Changes
from worker.domain.model import DEFAULT_TIMEZONE, Catalogue
from worker.scoring.periods import next_period, period_bounds, period_of, previous_period
from worker.storage import incidents as incident_store
from worker.storage import samples as sample_store
from worker.storage.engine import read_only


def zones(catalogue: Catalogue) -> set[str]:
    """Every time zone an agreement uses (the default one when there is no agreement)."""
    return {a.timezone for a in catalogue.agreements.values()} or {DEFAULT_TIMEZONE}


def period_span(catalogue: Catalogue, period: str) -> tuple[float, float]:
    """The instants that belong to `period` in every agreement's zone."""
    bounds = [period_bounds(period, z) for z in zones(catalogue)]
    return max(b[0] for b in bounds), min(b[1] for b in bounds)


def periods_touched(catalogue: Catalogue, changes: Changes) -> list[str]:
    """Periods (in any agreement's zone) that a change's span, widened by the staleness of
    the service's samples, overlaps."""
    found: set[str] = set()
    for (_, service), (lo, hi) in changes.spans.items():
        margin = catalogue.services[service].staleness_s if service in catalogue.services else 0.0
        for zone_name in zones(catalogue):
            found.update(_periods_between(period_of(lo - margin, zone_name), period_of(hi + margin, zone_name)))
    return sorted(found)


def open_periods(catalogue: Catalogue, now: datetime, grace_s: float) -> list[str]:
    """The running period, and the previous one while it is not final yet (in every zone
    that an agreement uses)."""
    now_s = now.timestamp()
    found: set[str] = set()
    for zone_name in zones(catalogue):
        current = period_of(now_s, zone_name)
        found.add(current)
        previous = previous_period(current)
        if now_s < period_bounds(previous, zone_name)[1] + grace_s:
            found.add(previous)
    return sorted(found)


def periods_with_data(engine: Engine, catalogue: Catalogue, now: datetime) -> list[str]:
    """Every period from the oldest stored sample or incident up to the running one."""
    with read_only(engine) as conn:
        first_s = min(
            (s for s in (sample_store.first_sample_s(conn), incident_store.first_opened_s(conn)) if s is not None),
            default=None,
        )
    if first_s is None:
        return []
    zone_name = next(iter(catalogue.agreements.values())).timezone if catalogue.agreements else DEFAULT_TIMEZONE
    return _periods_between(period_of(first_s, zone_name), period_of(now.timestamp(), zone_name))


def _periods_between(first: str, last: str) -> list[str]:
    """`first`, `last` and every period between them (just `first` when it is the later)."""
    periods = [first]
    while periods[-1] < last:
        periods.append(next_period(periods[-1]))
    return periods

"""Incident response and resolution: elapsed service-hours time, breach moments and the
decisive-moment rule (SPEC 6).

Elapsed(t) = |[opened_at, t] ∩ calendar open time − on_hold|. The breach moment is the
instant Elapsed reaches `within`; an incident is met when its clock stopped at or before it.
It counts once, in the period holding its decisive moment (the stop when met, the breach
moment when breached). Open incidents not yet breached at `now` do not count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from worker.domain.model import Incident, Objective, ObjectiveType
from worker.scoring.intervals import Intervals, instant_after_measure, subtract

# How far ahead to look for a breach moment before giving up (a calendar with no open hours
# never breaches). Doubled from the first horizon until found or past the last.
_FIRST_HORIZON_S = 14 * 86400.0
_LAST_HORIZON_S = 800 * 86400.0

OpenTime = Callable[[float, float], Intervals]


@dataclass(frozen=True)
class Outcome:
    """How one incident ended for one objective: met or breached, and when it was decided."""

    incident: str
    customer: str | None
    met: bool
    decisive_s: float


def stop_s(incident: Incident, objective_type: ObjectiveType) -> float | None:
    """The clock stops at responded_at (response) or resolved_at (resolution)."""
    stop = incident.responded_at if objective_type is ObjectiveType.INCIDENT_RESPONSE else incident.resolved_at
    return stop.timestamp() if stop else None


def breach_moment(incident: Incident, within_s: float, open_time: OpenTime) -> float | None:
    """The instant Elapsed reaches `within_s`, or None when it never does."""
    opened = incident.opened_at.timestamp()
    on_hold = Intervals.of([(start.timestamp(), end.timestamp()) for start, end in incident.on_hold])
    horizon = _FIRST_HORIZON_S
    while True:
        clock_runs = subtract(open_time(opened, opened + horizon), on_hold)
        moment = instant_after_measure(clock_runs, opened, within_s)
        if moment is not None or horizon >= _LAST_HORIZON_S:
            return moment
        horizon *= 2


def outcome(incident: Incident, objective: Objective, open_time: OpenTime, now_s: float) -> Outcome | None:
    """Met or breached with its decisive moment; None while open and not yet breached."""
    assert objective.within_s is not None
    stopped = stop_s(incident, objective.type)
    breach = breach_moment(incident, objective.within_s, open_time)
    if stopped is not None and (breach is None or stopped <= breach):
        return Outcome(incident.id, incident.customer, True, stopped)
    if breach is not None and (stopped is not None or breach <= now_s):
        return Outcome(incident.id, incident.customer, False, breach)
    return None


def applies(incident: Incident, objective: Objective) -> bool:
    return incident.service == objective.service and incident.priority == objective.priority


def outcomes(
    incidents: Iterable[Incident], objective: Objective, open_time: OpenTime, now_s: float
) -> list[Outcome]:
    """Outcomes of every incident of the objective's service and priority (all customers)."""
    found = (outcome(i, objective, open_time, now_s) for i in incidents if applies(i, objective))
    return [o for o in found if o is not None]


def count(outcomes_: Iterable[Outcome], customer: str, window: tuple[float, float]) -> tuple[int, int]:
    """(met, breached) for one customer whose decisive moment lies in window
    (period ∩ effective dates)."""
    met = breached = 0
    for o in outcomes_:
        if (o.customer is None or o.customer == customer) and window[0] <= o.decisive_s < window[1]:
            if o.met:
                met += 1
            else:
                breached += 1
    return met, breached

"""Use case: compute every objective's burn rates over the SPEC 7 windows (5m … 3d) from the
stored samples and incidents, and store them (`burn_rates` table).

Stored by every scoring run, whoever starts it (`worker.usecases.score.score_period` for the
CLI's `sla-worker score` and `sla.reconcile`, `score_pending` for the worker), inside the
scoring transaction (`store_burn_rates`). So the metrics endpoint only reads them (a scrape
stays fast at 5,000 objectives) and the alert rules (SPEC 7) read the same figures. The clock
is an argument; the numbers come from the pure core (`worker.scoring.burn`), sharing work as
period scoring does: one sample load per service, one tally per basis and window, one
incident outcome list per rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine

from worker.domain.model import Calendar, Catalogue, ObjectiveType, Signal
from worker.domain.time import from_epoch_s
from worker.scoring import incidents as incident_rules
from worker.scoring.burn import WindowScore, incident_window_scores, reach, sample_window_scores, window_tallies
from worker.scoring.counted import CountedKey, counted_time
from worker.scoring.intervals import Intervals
from worker.scoring.results import Tally
from worker.scoring.score import ObjectiveContext, OpenTimes
from worker.scoring.windows import LONGEST_WINDOW_S, WINDOWS
from worker.storage import incidents as incident_store
from worker.storage import samples as sample_store
from worker.storage.burn_rates import StoredBurnRate, upsert_burn_rates
from worker.storage.engine import read_only
from worker.usecases.maintenance import objective_contexts
from worker.usecases.periods import period_span


def compute_burn_rates(engine: Engine, catalogue: Catalogue, now: datetime) -> list[StoredBurnRate]:
    """Every (agreement, customer, objective, window) burn rate at `now`, from stored data."""
    with read_only(engine) as conn:
        return burn_rates_at(conn, catalogue, now)


def burn_rates_at(
    conn: Connection, catalogue: Catalogue, now: datetime, services: Callable[[str], bool] | None = None
) -> list[StoredBurnRate]:
    """`compute_burn_rates` on the caller's connection (inside its transaction, it sees what
    that transaction wrote); only of the objectives on the services `services` says yes to
    (a scoring shard's, issue 16), when given."""
    now_s = now.timestamp()
    found: list[StoredBurnRate] = []
    work = [c for c in objective_contexts(conn, catalogue) if services is None or services(c.objective.service)]
    keys = {service: key for key, service in sample_store.service_ids(conn).items()}
    by_service: dict[str, list[ObjectiveContext]] = defaultdict(list)
    incident_work: list[ObjectiveContext] = []
    for context in work:
        if context.objective.type.is_incident:
            incident_work.append(context)
        elif reach(context.agreement, now_s, LONGEST_WINDOW_S) is not None:
            by_service[context.objective.service].append(context)
        else:  # outside its agreement's effective dates: no data in any window
            found += _rows(context, _no_data(), now)
    services_in_order = list(by_service)
    for first in range(0, len(services_in_order), _SERVICES_PER_LOAD):
        chunk = {s: by_service[s] for s in services_in_order[first : first + _SERVICES_PER_LOAD]}
        loaded = _load_series(conn, keys, chunk, now_s)
        for service, items in chunk.items():
            found += _sample_rows(loaded.get(service, {}), items, now)
    found += _incident_rows(conn, incident_work, now)
    return found


_SERVICES_PER_LOAD = 64  # three days of minute series of 64 services per query


def _load_series(
    conn: Connection, keys: dict[str, int], chunk: dict[str, list[ObjectiveContext]], now_s: float
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """service → signal → (at_s, value) over the longest reach of its objectives (from its
    start − staleness), for a chunk of services in one query."""
    spans = [
        (span[0] - items[0].service.staleness_s, span[1])
        for items in chunk.values()
        for c in items
        if (span := reach(c.agreement, now_s, LONGEST_WINDOW_S)) is not None
    ]
    known = [s for s in chunk if s in keys]
    if not spans or not known:
        return {}
    lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    signals = {signal for s in known for c in chunk[s] for signal in c.objective.type.signals}
    codes = [sample_store.SIGNAL_CODES[s.value] for s in signals]
    loaded = sample_store.load_service_samples(
        conn, [keys[s] for s in known], codes, int(np.floor(lo * 1000)), int(np.ceil(hi * 1000)) + 1
    )
    ids = {keys[s]: s for s in known}
    series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = defaultdict(dict)
    for (key, code), (at_ms, value) in loaded.items():
        series[ids[key]][sample_store.SIGNAL_NAMES[code]] = (at_ms / 1000.0, value)
    return series


def store_burn_rates(
    conn: Connection, catalogue: Catalogue, now: datetime, services: Callable[[str], bool] | None = None
) -> int:
    """Compute and store every burn rate at `now` (of the objectives on `services` only, when
    given: a scoring shard stores its own) inside the caller's transaction (scoring calls this,
    so results and burn rates are committed together); returns the rows written."""
    return upsert_burn_rates(conn, burn_rates_at(conn, catalogue, now, services))


def refresh_burn_rates(
    engine: Engine, catalogue: Catalogue, now: datetime, services: Callable[[str], bool] | None = None
) -> int:
    """Compute and store every burn rate at `now` (of the objectives on `services` only, when
    given) in a transaction of its own; returns the number of rows written."""
    with engine.begin() as conn:
        return store_burn_rates(conn, catalogue, now, services)


def meets_burn_windows(catalogue: Catalogue, period: str, now: datetime) -> bool:
    """Does the period meet [now − 3d, now], the span the burn-rate windows look at? Scoring
    a month long past (the demo's history, a report's final figures) leaves them alone."""
    lo, hi = period_span(catalogue, period)
    return lo <= now.timestamp() and hi > now.timestamp() - LONGEST_WINDOW_S


def _no_data() -> list[WindowScore]:
    return [WindowScore(name, 0.0, 0.0, 0.0, None) for name in WINDOWS]


def _rows(
    context: ObjectiveContext, scores: list[WindowScore], now: datetime, customers: tuple[str, ...] | None = None
) -> list[StoredBurnRate]:
    agreement, objective = context.agreement.id, context.objective.id
    return [
        StoredBurnRate(agreement, customer, objective, s.window, s.good, s.bad, s.total, s.burn_rate, now, s.coverage)
        for customer in (customers if customers is not None else context.agreement.customers)
        for s in scores
    ]


def _sample_rows(series: dict[str, tuple[np.ndarray, np.ndarray]], items: list[ObjectiveContext], now: datetime) -> list[StoredBurnRate]:
    """One service's sample objectives, from its series loaded over the longest reach."""
    now_s = now.timestamp()
    empty = (np.empty(0), np.empty(0))

    def lookup(_service: str, signal: Signal) -> tuple[np.ndarray, np.ndarray]:
        return series.get(signal.value, empty)

    shared: dict[str, dict[str, Tally | None]] = {}
    counted: dict[CountedKey, Intervals] = {}
    rows: list[StoredBurnRate] = []
    for context in items:
        if context.basis not in shared:
            span = reach(context.agreement, now_s, LONGEST_WINDOW_S)
            assert span is not None
            shape: CountedKey = (context.calendar, span, context.excluded)
            if shape not in counted:
                counted[shape] = counted_time(*shape)
            shared[context.basis] = window_tallies(context, counted[shape], lookup, now_s)
        rows += _rows(context, sample_window_scores(context, shared[context.basis]), now)
    return rows


def _incident_rows(conn: Connection, work: list[ObjectiveContext], now: datetime) -> list[StoredBurnRate]:
    """Incidents decided in the last 3 days (or still open), outcomes shared per rule."""
    if not work:
        return []
    now_s = now.timestamp()
    candidates = incident_store.load_incidents(
        conn,
        services={c.objective.service for c in work},
        opened_before=now,
        open_or_stopped_after=from_epoch_s(now_s - LONGEST_WINDOW_S),
    )
    open_times = OpenTimes()
    shared: dict[tuple[str, str | None, ObjectiveType, float | None, Calendar], list[incident_rules.Outcome]] = {}
    rows: list[StoredBurnRate] = []
    for context in work:
        o = context.objective
        rule = (o.service, o.priority, o.type, o.within_s, context.calendar)
        if rule not in shared:
            shared[rule] = incident_rules.outcomes(candidates, o, open_times(context.calendar), now_s)
        for customer in context.agreement.customers:
            scores = incident_window_scores(context.agreement, o.target, customer, shared[rule], now_s)
            rows += _rows(context, scores, now, (customer,))
    return rows

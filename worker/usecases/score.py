"""Scoring (SPEC 6): a period from scratch (`score_period`) or only what new input changed
(`score_pending`, the worker's path). Each run loads what it needs, plans the work
(`worker.scoring.plan`), computes with the pure core and writes results and tally sheets in
one transaction per shard. Burn rates are not part of scoring: they slide with the clock, so
they are computed where they are read — by alert evaluation, for its shard, right before the
rules run (`worker.alerts.evaluate`), and by `sla-worker score` at its end.

A shard (`worker.scoring.shards`) is a set of services with every objective on them; two
shards share no tally sheet or result, so different processes score them at once.
A shard's transaction holds its slot locks (PostgreSQL advisory locks, worker/storage/locks.py):
the only lock scoring takes, and it covers only that shard's services.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import numpy as np
from sqlalchemy import Connection, Engine

from worker.domain.changes import Changes
from worker.domain.model import (
    Calendar,
    Catalogue,
    Incident,
    InputKind,
    MaintenanceWindow,
    ObjectiveType,
    Result,
)
from worker.domain.time import from_epoch_s
from worker.scoring import incidents as incident_rules
from worker.scoring.counted import counted_time
from worker.scoring.intervals import Intervals
from worker.scoring.periods import period_bounds, period_days, scored_window
from worker.scoring.plan import ServicePlan, Target, needs_scoring, plan_service
from worker.scoring.results import Progress, Tally
from worker.scoring.score import (
    ObjectiveContext,
    OpenTimes,
    Series,
    SeriesLookup,
    ServiceShares,
    final_from,
    incident_results,
    is_final,
    result_order,
    sample_results,
    tally_days,
)
from worker.scoring.shards import DEFAULT_SHARDS, Shard, all_shards, pending_batches
from worker.scoring.tallies import DayTallies
from worker.storage import incidents as incident_store
from worker.storage import results as result_store
from worker.storage import samples as sample_store
from worker.storage import tallies as tally_store
from worker.storage.coordination import claim_changes, forget_changes, pending_services
from worker.storage.engine import read_only
from worker.storage.locks import SCORING_SLOT_LOCK, hold_slot_locks, try_slot_locks
from worker.usecases.maintenance import objective_contexts
from worker.usecases.periods import period_span, periods_touched
from worker.usecases.retention import kept_periods, refuse_deleted_period

Work = list[tuple[ObjectiveContext, tuple[float, float]]]
"""Objectives to score in a period, each with its scored window (period ∩ effective dates)."""
Shape = tuple[Calendar, tuple[float, float], tuple[MaintenanceWindow, ...]]
"""What counted time depends on: calendar, window, excluded maintenance."""
Rule = tuple[str, str | None, ObjectiveType, float | None, Calendar]
"""What an incident objective's outcomes depend on: service, priority, type, within, calendar."""


def score_period(
    engine: Engine,
    catalogue: Catalogue,
    period: str,
    now: datetime,
    grace_s: float,
    shard: Shard | None = None,
    *,
    shards: int = DEFAULT_SHARDS,
) -> list[Result]:
    """Recompute one period from scratch and store its results (and tallies): of one shard's
    services (`sla.score_shard`), or of every shard of `shards` one after another, each in its
    own transaction (`shard` None: `sla-worker score`, the report run's finalising re-score).
    Pending changes of the shard that lie wholly inside the period are covered by this and
    forgotten. Waits for a shard another process is scoring (PostgreSQL). A period whose
    samples retention has deleted is refused (SamplesDeleted). Returns the results in
    agreement, customer, objective order."""
    found: list[Result] = []
    for part in (shard,) if shard is not None else all_shards(shards):
        found += _score_period_shard(engine, catalogue, period, now, grace_s, part)
    return sorted(found, key=result_order)


def _score_period_shard(
    engine: Engine, catalogue: Catalogue, period: str, now: datetime, grace_s: float, shard: Shard
) -> list[Result]:
    with engine.begin() as conn, _collector_spares_what_exists():
        hold_slot_locks(conn, SCORING_SLOT_LOCK, shard.slots)
        refuse_deleted_period(conn, catalogue, period)
        found = _score(conn, catalogue, period, now.timestamp(), grace_s, None, shard.holds, {}).all
        result_store.upsert_results(conn, found, computed_at=now)
        lo, hi = period_span(catalogue, period)
        margin = max((s.staleness_s for s in catalogue.services.values()), default=0.0)
        covered = [c.id for c in claim_changes(conn, shard.holds) if c.first_s - margin >= lo and c.last_s < hi]
        forget_changes(conn, covered)
    return found


@dataclass(frozen=True)
class PendingRun:
    """What one `score_pending_shards` run did: the results it stored, the shards it scored,
    the shards it left to another process scoring them at the time (PostgreSQL), and the ids
    of the pending changes it consumed."""

    results: list[Result]
    scored: tuple[Shard, ...]
    busy: tuple[Shard, ...]
    forgotten: tuple[int, ...]


PENDING_SERVICES_PER_BATCH = 400
"""Pending services scored in one transaction (see `pending_batches`): the changes of a few
minutes for a trust's few hundred services are one batch; a day's backlog of a regional
service's 1,500 splits into four that several workers share."""


def score_pending(
    engine: Engine,
    catalogue: Catalogue,
    now: datetime,
    grace_s: float,
    shard: Shard | None = None,
    *,
    shards: int = DEFAULT_SHARDS,
) -> list[Result]:
    """Score what new input changed since the last run (the worker's path); the results
    stored. See `score_pending_shards`."""
    return score_pending_shards(engine, catalogue, now, grace_s, shard, shards=shards).results


def score_pending_shards(
    engine: Engine,
    catalogue: Catalogue,
    now: datetime,
    grace_s: float,
    shard: Shard | None = None,
    *,
    shards: int = DEFAULT_SHARDS,
    batch_services: int = PENDING_SERVICES_PER_BATCH,
) -> PendingRun:
    """Score what new input changed (of one shard, or of every shard of `shards`), a batch of
    shards at a time (`pending_batches`), each batch in its own transaction: claim the pending
    changes of the batch's shards that this run could lock, re-tally only the days and
    objectives they touch in every period they touch (but those whose samples retention has
    deleted), store the results and forget the changes — so a run that dies leaves its
    changes for the next one. On PostgreSQL a shard that another process is scoring is skipped,
    not waited for: two workers running this share the shards between them, and the changes
    that arrive meanwhile wait for the next run (beat sends one every 5 minutes, every collect
    one)."""
    run = PendingRun([], (), (), ())
    with read_only(engine) as conn:
        waiting = pending_services(conn)
    parts = (shard,) if shard is not None else all_shards(shards)
    for batch in pending_batches(parts, waiting, batch_services):
        with engine.begin() as conn, _collector_spares_what_exists():
            held = _lock_shards(conn, batch)
            found, forgotten = _score_pending_shards(conn, catalogue, now, grace_s, held) if held else ([], ())
        busy = tuple(part for part in batch if part not in held)
        run = PendingRun(run.results + found, run.scored + held, run.busy + busy, run.forgotten + forgotten)
    return run


def _lock_shards(conn: Connection, batch: Sequence[Shard]) -> tuple[Shard, ...]:
    """The shards of `batch` whose slot locks this transaction took: every shard's in one
    statement when none is busy (the usual case), else shard by shard, leaving the busy ones."""
    if try_slot_locks(conn, SCORING_SLOT_LOCK, [slot for part in batch for slot in part.slots]):
        return tuple(batch)
    return tuple(part for part in batch if try_slot_locks(conn, SCORING_SLOT_LOCK, part.slots))


@contextmanager
def _collector_spares_what_exists() -> Iterator[None]:
    """A scoring run makes tens of thousands of short-lived objects, so Python's cycle
    collector runs a hundred times, and at least once through everything the process holds
    (catalogue, contexts, caches): a tenth of a five-minute re-score. What exists before the
    run is set aside from collection (`gc.freeze`) and handed back after it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _score_pending_shards(
    conn: Connection, catalogue: Catalogue, now: datetime, grace_s: float, held: tuple[Shard, ...]
) -> tuple[list[Result], tuple[int, ...]]:
    """The pending changes of the `held` shards scored on `conn`, which holds their slot locks."""

    @cache
    def holds(service: str) -> bool:
        return any(part.holds(service) for part in held)

    pending = claim_changes(conn, holds)
    found: list[Result] = []
    if pending:
        changes = Changes()
        for change in pending:
            changes.add(change.kind, change.service, change.first_s, change.last_s)
        moved: list[Result] = []
        others: list[Result] = []
        keys: dict[str, int] = {}
        for period in kept_periods(conn, catalogue, periods_touched(catalogue, changes)):
            scored = _score(conn, catalogue, period, now.timestamp(), grace_s, changes, holds, keys)
            found += scored.all
            moved += scored.moved
            others += scored.others
        result_store.upsert_results(conn, moved, computed_at=now)
        result_store.upsert_results(conn, others, computed_at=now, changed_only=True)
        forget_changes(conn, [c.id for c in pending])
    return found, tuple(c.id for c in pending)


@dataclass(frozen=True)
class _Scored:
    """One period's results: `moved`, of the objectives whose tally sheet changed (or whose
    period turned final), certainly differ from the stored ones; the `others` (incident
    objectives, re-tallies that came out the same) may not, and are written only where they
    differ (`upsert_results(…, changed_only=True)`)."""

    moved: list[Result]
    others: list[Result]

    @property
    def all(self) -> list[Result]:
        return sorted(self.moved + self.others, key=result_order)


def _score(
    conn: Connection,
    catalogue: Catalogue,
    period: str,
    now_s: float,
    grace_s: float,
    changes: Changes | None,
    holds: Callable[[str], bool],
    keys: dict[str, int],
) -> _Scored:
    """One period's results of the objectives on the services `holds` says yes to (a shard's,
    or a batch of shards'): of every one on a full run (`changes` None), else of those the
    changes touch. `keys` holds the service keys already looked up in this transaction (one
    lookup for every period of a batch), and gains those looked up here."""
    work = [
        (context, window)
        for context in objective_contexts(conn, catalogue)
        if holds(context.objective.service)
        and needs_scoring(context.objective.service, context.objective.type.is_incident, changes)
        and (window := scored_window(context.agreement, period)) is not None
    ]
    sample_work = [(c, w) for c, w in work if not c.objective.type.is_incident]
    incident_work = [(c, w) for c, w in work if c.objective.type.is_incident]
    scored = _score_samples(conn, period, sample_work, now_s, grace_s, changes, keys)
    return _Scored(scored.moved, scored.others + _score_incidents(conn, period, incident_work, now_s, grace_s))


# ---------------------------------------------------------------- sample objectives


@dataclass(frozen=True)
class _Objective:
    """A sample objective of one agreement in the period being scored."""

    context: ObjectiveContext
    whole_window: tuple[float, float]  # the scored window
    window: tuple[float, float]  # its part up to `now`: later time is neither up nor down yet
    final_from_s: float  # when its results turn final: the period's end + the late-data grace
    bounds: np.ndarray  # the period's day boundaries in the agreement's zone
    bound_list: list[float]  # the same as floats, for planning

    @property
    def key(self) -> tuple[str, str]:
        return self.context.key


class _CountedTime:
    """Counted time by (calendar, window, exclusions). Pure and asked again by every shard of a
    run (and by the next run): computed once per process while the shapes stay the same."""

    _known: dict[Shape, tuple[Intervals, float]] = {}
    _MAX = 4096

    def __call__(self, context: ObjectiveContext, window: tuple[float, float]) -> Intervals:
        return self._of(context, window)[0]

    def measure(self, context: ObjectiveContext, window: tuple[float, float]) -> float:
        """|C| over the window: the progress of a period-to-date result."""
        return self._of(context, window)[1]

    def _of(self, context: ObjectiveContext, window: tuple[float, float]) -> tuple[Intervals, float]:
        shape = (context.calendar, window, context.excluded)
        if shape not in self._known:
            if len(self._known) >= self._MAX:
                self._known.clear()
            counted = counted_time(*shape)
            self._known[shape] = (counted, counted.measure)
        return self._known[shape]


def _score_samples(
    conn: Connection, period: str, work: Work, now_s: float, grace_s: float, changes: Changes | None, keys: dict[str, int]
) -> _Scored:
    """Service by service (to bound memory): plan from the stored sheets' heads which days to
    tally and which objectives share a tally (an incremental run leaves the objectives nothing
    reached as stored), load the sums of the sheets re-tallied and the samples, compute, then
    add up each objective's sheet; the sheets that changed are written at the end."""
    heads = tally_store.load_stored(conn, period, [c.key for c, _ in work]) if changes is not None else {}
    by_service: dict[str, list[_Objective]] = defaultdict(list)
    day_lists: dict[str, tuple[np.ndarray, list[float]]] = {}
    for context, whole_window in work:
        window = (whole_window[0], max(whole_window[0], min(whole_window[1], now_s)))
        zone = context.agreement.timezone
        if zone not in day_lists:
            bounds = period_days(period, zone)[1]
            day_lists[zone] = (bounds, bounds.tolist())
        final_from_s = final_from(context.agreement, period, grace_s)
        by_service[context.objective.service].append(_Objective(context, whole_window, window, final_from_s, *day_lists[zone]))
    keys.update(sample_store.service_keys(conn, [s for s in by_service if s not in keys]))
    counted = _CountedTime()
    moved: list[Result] = []
    others: list[Result] = []
    written: list[tally_store.TallySheet] = []
    plans: dict[str, ServicePlan] = {}
    for service_id, objectives in by_service.items():
        changed = changes.span(InputKind.SAMPLES, service_id) if changes is not None else None
        targets = [
            Target(
                o.context.basis, o.bound_list, heads.get(o.key), counted(o.context, o.whole_window), o.final_from_s,
                holds=o.context.objective.type is ObjectiveType.AVAILABILITY,
            )
            for o in objectives
        ]
        plans[service_id] = plan_service(targets, objectives[0].context.service.staleness_s, changed, full=changes is None, now_s=now_s)
    kept = [o.key for s, objectives in by_service.items() for o, d in zip(objectives, plans[s].days) if d.scored and not d.fresh]
    stored = tally_store.load_sheets(conn, period, kept) if kept else {}
    for service_id, series in _series_by_service(conn, keys, by_service, plans):
        objectives, plan = by_service[service_id], plans[service_id]
        tallied = _compute(plan, objectives, counted, series)
        for objective, day_plan in zip(objectives, plan.days):
            if not day_plan.scored:
                continue  # nothing it depends on has changed: its results stay as stored
            c = objective.context
            sheet = stored[objective.key] if not day_plan.fresh else tally_store.TallySheet.blank(
                *objective.key, period, c.basis, len(objective.bounds) - 1
            )
            before = None if day_plan.fresh else (sheet.sums.copy(), sheet.tallied.copy())
            for first, last in day_plan.runs:
                sheet.sums[:, first : last + 1] = [getattr(tallied[(c.basis, first, last)], f) for f in tally_store.FIELDS]
                # A day not over yet is tallied up to `now` only: redo it on the next run.
                sheet.tallied[first : last + 1] = objective.bounds[first + 1 : last + 2] <= now_s
            rewritten = bool(day_plan.runs) and (before is None or not _same_sheet(sheet, *before))
            if rewritten:
                written.append(sheet)  # a re-tally that found the same figures writes nothing
            tally = Tally(*sheet.sums.sum(axis=1).tolist())
            progress = Progress(counted.measure(c, objective.window), counted.measure(c, objective.whole_window))
            made = sample_results(c, period, tally, now_s >= objective.final_from_s, progress)
            (moved if rewritten or day_plan.refinal else others).extend(made)
    tally_store.upsert_sheets(conn, written, computed_at=from_epoch_s(now_s))
    return _Scored(moved, others)


def _same_sheet(sheet: tally_store.TallySheet, sums: np.ndarray, tallied: np.ndarray) -> bool:
    return bool(np.array_equal(sheet.sums, sums) and np.array_equal(sheet.tallied, tallied))


def _compute(
    plan: ServicePlan, objectives: Sequence[_Objective], counted: _CountedTime, series: SeriesLookup
) -> dict[tuple[str, int, int], DayTallies]:
    """The day tallies of every planned computation, by (basis, first day, last day)."""
    tallied: dict[tuple[str, int, int], DayTallies] = {}
    shares = ServiceShares()
    for step in plan.computations:
        by = objectives[step.by]
        days = by.bounds[step.first : step.last + 2]
        tallied[(step.basis, step.first, step.last)] = tally_days(by.context, counted(by.context, by.window), days, series, shares)
    return tallied


_SERVICE_DAYS_PER_LOAD = 32 * 31
"""Samples loaded per query, in service-days: a month of minute `up` and `latency_ms` for 32
services (~45 MB), or the last two days of 500."""


def _series_by_service(
    conn: Connection, keys: dict[str, int], by_service: dict[str, list[_Objective]], plans: dict[str, ServicePlan]
) -> Iterator[tuple[str, SeriesLookup]]:
    """Each service with its series over its planned span, loaded a few dozen services' month
    per query, or a few hundred services' last days (services with the same span together):
    memory stays bounded and a month of 300 services is ten round trips, not six hundred."""
    empty: Series = (np.empty(0), np.empty(0))
    by_span: dict[tuple[float, float] | None, list[str]] = defaultdict(list)
    for service_id, plan in plans.items():
        by_span[plan.load_span].append(service_id)
    for span, services in by_span.items():
        if span is None:
            yield from ((s, lambda _service, _signal: empty) for s in services)
            continue
        start_ms, end_ms = int(np.floor(span[0] * 1000)), int(np.ceil(span[1] * 1000))
        per_load = max(1, _SERVICE_DAYS_PER_LOAD * 86_400 // max(1, int(span[1] - span[0])))
        for first in range(0, len(services), per_load):
            chunk = services[first : first + per_load]
            signals = {
                signal
                for s in chunk
                for o, day_plan in zip(by_service[s], plans[s].days)
                if day_plan.runs  # only objectives with days to tally read samples
                for signal in o.context.objective.type.signals
            }
            codes = [sample_store.SIGNAL_CODES[signal.value] for signal in signals]
            loaded = sample_store.load_service_samples(conn, [keys[s] for s in chunk], codes, start_ms, end_ms)
            by_key: dict[int, dict[str, Series]] = defaultdict(dict)
            for (key, code), (at_ms, value) in loaded.items():
                by_key[key][sample_store.SIGNAL_NAMES[code]] = (at_ms / 1000.0, value)
            for service_id in chunk:
                yield service_id, _lookup(by_key[keys[service_id]], empty)


def _lookup(series: dict[str, Series], empty: Series) -> SeriesLookup:
    return lambda _service, signal: series.get(signal.value, empty)


# ---------------------------------------------------------------- incident objectives


def _score_incidents(conn: Connection, period: str, work: Work, now_s: float, grace_s: float) -> list[Result]:
    """Outcomes are computed once per distinct incident rule (service, priority, type, within,
    calendar) and shared by every agreement that uses the same rule."""
    if not work:
        return []
    candidates = _incident_candidates(conn, period, work)
    open_times = OpenTimes()
    shared: dict[Rule, list[incident_rules.Outcome]] = {}
    results: list[Result] = []
    for context, window in work:
        o = context.objective
        rule = (o.service, o.priority, o.type, o.within_s, context.calendar)
        if rule not in shared:
            shared[rule] = incident_rules.outcomes(candidates.get((o.service, o.priority), []), o, open_times(context.calendar), now_s)
        final = is_final(context.agreement, period, now_s, grace_s)
        results += incident_results(context, period, window, shared[rule], final)
    return results


def _incident_candidates(conn: Connection, period: str, work: Work) -> dict[tuple[str, str | None], list[Incident]]:
    """Incidents that can be decided inside the period: opened before it ends and not
    stopped before it starts (a stop bounds the decisive moment)."""
    starts, ends = zip(*(period_bounds(period, c.agreement.timezone) for c, _ in work))
    services = {c.objective.service for c, _ in work}
    found = incident_store.load_incidents(
        conn,
        services=services,
        opened_before=from_epoch_s(max(ends)),
        open_or_stopped_after=from_epoch_s(min(starts)),
    )
    grouped: dict[tuple[str, str | None], list[Incident]] = defaultdict(list)
    for incident in found:
        grouped[(incident.service, incident.priority)].append(incident)
    return grouped

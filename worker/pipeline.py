"""Use cases: read → compute (pure core) → write. The clock is an argument (`now`), the
database an Engine passed in; Celery tasks and CLI commands are thin wrappers around these.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine

from worker.domain.model import Catalogue, Incident, MaintenanceWindow, Result, Signal
from worker.domain.time import from_epoch_s
from worker.inputs.common import Refusal
from worker.inputs.incidents import parse_incidents
from worker.inputs.maintenance import parse_maintenance
from worker.inputs.samples import parse_samples
from worker.scoring import burn as _burn
from worker.scoring import incidents as incident_rules
from worker.scoring.counted import counted_time
from worker.scoring.intervals import Intervals
from worker.scoring.periods import (
    next_period,
    period_bounds,
    period_days,
    period_of,
    previous_period,
    scored_window,
)
from worker.scoring.results import Progress, Tally
from worker.scoring.score import (
    ObjectiveContext,
    OpenTimes,
    contexts,
    incident_results,
    is_final,
    result_order,
    sample_results,
    tally_days,
)
from worker.scoring.tallies import DayTallies
from worker.storage import incidents as incident_store
from worker.storage import maintenance as maintenance_store
from worker.storage import results as result_store
from worker.storage import samples as sample_store
from worker.storage import tallies as tally_store
from worker.storage.coordination import claim_changes, forget_changes, record_changes
from worker.storage.engine import read_only

INPUT_KINDS = ("samples", "incidents", "maintenance")
# Bytes of a samples file parsed and stored at a time (about a million lines): bounds memory.
_SAMPLE_CHUNK_BYTES = 32 * 1024 * 1024


@dataclass
class Changes:
    """What new input touched — per kind and service, the span of instants — so scoring
    redoes only the periods, objectives and days that depend on it."""

    spans: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    def add(self, kind: str, service: str, first_s: float, last_s: float) -> None:
        if (kind, service) in self.spans:
            lo, hi = self.spans[(kind, service)]
            first_s, last_s = min(lo, first_s), max(hi, last_s)
        self.spans[(kind, service)] = (first_s, last_s)

    def span(self, kind: str, service: str) -> tuple[float, float] | None:
        return self.spans.get((kind, service))

    def services(self, kind: str) -> set[str]:
        return {service for k, service in self.spans if k == kind}

    def rows(self) -> list[tuple[str, str, float, float]]:
        """(kind, service, first_s, last_s) rows, as `coordination.record_changes` stores them."""
        return [(kind, service, lo, hi) for (kind, service), (lo, hi) in self.spans.items()]

    def __bool__(self) -> bool:
        return bool(self.spans)


@dataclass
class IngestReport:
    kind: str
    accepted: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)
    streams: Counter[str] = field(default_factory=Counter)  # samples stored per "<service>/<signal>"

    @property
    def refused(self) -> int:
        return len(self.refusals)


# ---------------------------------------------------------------- ingestion


def ingest(engine: Engine, catalogue: Catalogue, kind: str, data: bytes, now: datetime) -> IngestReport:
    """Store every good row of one CSV file in one transaction (bad rows become refusals),
    together with the pending changes that tell scoring what to redo."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(INPUT_KINDS)}")
    with engine.begin() as conn:
        report = store_input(conn, catalogue, kind, data, now)
        record_changes(conn, report.changes.rows(), now)
    return report


def store_input(conn: Connection, catalogue: Catalogue, kind: str, data: bytes, now: datetime) -> IngestReport:
    """Parse and store one file's good rows inside the caller's transaction."""
    if kind == "samples":
        return _ingest_samples(conn, catalogue, data)
    if kind == "incidents":
        parsed = parse_incidents(data, catalogue.services, catalogue.customers)
        report = IngestReport(kind, parsed.accepted, parsed.refusals)
        store_incident_versions(conn, parsed.incidents, report.changes, now)
        return report
    parsed = parse_maintenance(data, catalogue.services)
    maintenance_store.store_maintenance(conn, parsed.windows)
    report = IngestReport(kind, parsed.accepted, parsed.refusals)
    for window in parsed.windows:
        report.changes.add(kind, window.service, window.start_at.timestamp(), window.end_at.timestamp())
    return report


def store_incident_versions(conn: Connection, incidents: list[Incident], changes: Changes, now: datetime) -> int:
    """Store incidents (a later version replaces the stored one whole) and add to `changes`
    the spans both versions can affect: a replaced incident may have moved to another
    service, priority or month, and the results it used to count in must be scored again."""
    replaced = incident_store.get_incidents(conn, [i.id for i in incidents])
    stored = incident_store.store_incidents(conn, incidents, updated_at=now)
    for incident in [*replaced.values(), *incidents]:
        changes.add("incidents", incident.service, *incident_span(incident, now))
    return stored


def incident_span(incident: Incident, now: datetime) -> tuple[float, float]:
    """The instants a stored incident can affect: from opening to the later of its two clock
    stops, or to `now` while either clock still runs (a responded incident's resolution
    clock goes on, and can breach in a later period)."""
    stops = (incident.responded_at, incident.resolved_at)
    last = now if None in stops else max(s for s in stops if s is not None)
    return incident.opened_at.timestamp(), last.timestamp()


def ingest_path(engine: Engine, catalogue: Catalogue, kind: str, path: Path, now: datetime) -> IngestReport:
    return ingest(engine, catalogue, kind, path.read_bytes(), now)


def _sample_chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line offset, header + lines) pieces of a samples file, split at line ends."""
    header_end = data.find(b"\n")
    if header_end < 0 or len(data) <= _SAMPLE_CHUNK_BYTES:
        yield 0, data
        return
    header = data[: header_end + 1]
    position, offset = header_end + 1, 0
    while position < len(data):
        end = data.find(b"\n", position + _SAMPLE_CHUNK_BYTES) + 1 or len(data)
        yield offset, header + data[position:end]
        offset += data.count(b"\n", position, end)
        position = end


def _ingest_samples(conn: Connection, catalogue: Catalogue, data: bytes) -> IngestReport:
    report = IngestReport("samples")
    for offset, chunk in _sample_chunks(data):
        parsed = parse_samples(chunk, catalogue.services)
        report.accepted += parsed.accepted
        report.refusals.extend(Refusal(r.line + offset if r.line > 1 else r.line, r.reason) for r in parsed.refusals)
        store_sample_arrays(conn, parsed.service, parsed.signal, parsed.at_ms, parsed.value, report.changes, report.streams)
    return report


def store_sample_arrays(
    conn: Connection,
    service: np.ndarray,
    signal: np.ndarray,
    at_ms: np.ndarray,
    value: np.ndarray,
    changes: Changes,
    streams: Counter[str] | None = None,
) -> int:
    """Store validated samples (service ids and signal names as strings, epoch ms, values) and
    add the spans they touch to `changes` (and the rows per "<service>/<signal>" to
    `streams`). Any source's samples end up here. Returns the number stored; within the
    arrays the later element wins."""
    if len(at_ms) == 0:
        return 0
    names, service_index = _categories(service)
    keys = sample_store.service_keys(conn, names)
    service_key = np.array([keys[name] for name in names], dtype=np.int32)[service_index]
    signal_names, signal_index = _categories(signal)
    codes = np.array([sample_store.SIGNAL_CODES[s] for s in signal_names], dtype=np.int16)[signal_index]
    stored = sample_store.store_samples(conn, service_key, codes, at_ms, value)
    first = np.full(len(names), np.iinfo(np.int64).max)
    last = np.full(len(names), np.iinfo(np.int64).min)
    np.minimum.at(first, service_index, at_ms)
    np.maximum.at(last, service_index, at_ms)
    for name, lo, hi in zip(names, first.tolist(), last.tolist()):
        changes.add("samples", name, lo / 1000.0, hi / 1000.0)
    if streams is not None:
        pairs, counts = np.unique(service_index.astype(np.int64) * 16 + signal_index, return_counts=True)
        for pair, count in zip(pairs.tolist(), counts.tolist()):
            streams[f"{names[pair // 16]}/{signal_names[pair % 16]}"] += count
    return stored


def _categories(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct strings (first-seen order) and each element's index among them, in one pass."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32, count=len(values))
    return list(index), codes


# ---------------------------------------------------------------- scoring


def all_maintenance(conn: Connection, catalogue: Catalogue) -> list[MaintenanceWindow]:
    """Windows from the configuration and from ingested files, together."""
    return list(catalogue.maintenance) + maintenance_store.load_maintenance(conn)


def score_period(engine: Engine, catalogue: Catalogue, period: str, now: datetime, grace_s: float) -> list[Result]:
    """Recompute one period from scratch and store its results (and tallies). Pending changes
    that lie wholly inside the period are covered by this and forgotten. When the period
    reaches into the burn-rate windows (the last 3 days), the burn rates at `now` are stored
    in the same transaction: whoever scores (`sla-worker score`, `sla.reconcile`) leaves the
    same stored state as the worker's `score_pending`."""
    with engine.begin() as conn:
        _hold_scoring_lock(conn)
        found = _score(conn, catalogue, period, now.timestamp(), grace_s, None)
        result_store.upsert_results(conn, found, computed_at=now)
        lo, hi = _period_span(catalogue, period)
        margin = max((s.staleness_s for s in catalogue.services.values()), default=0.0)
        forget_changes(conn, [c.id for c in claim_changes(conn) if c.first_s - margin >= lo and c.last_s < hi])
        if _within_burn_windows(catalogue, period, now.timestamp()):
            _store_burn_rates(conn, catalogue, now)
    return found


def score_pending(engine: Engine, catalogue: Catalogue, now: datetime, grace_s: float) -> list[Result]:
    """Score what new input changed since the last run (the worker's path): claim the pending
    changes, re-tally only the days and objectives they touch in every period they touch,
    store the results and the burn rates at `now` and forget the changes — all in one
    transaction, so a run that dies leaves the changes for the next one."""
    with engine.begin() as conn:
        _hold_scoring_lock(conn)
        pending = claim_changes(conn)
        found: list[Result] = []
        if pending:
            changes = Changes()
            for change in pending:
                changes.add(change.kind, change.service, change.first_s, change.last_s)
            for period in periods_touched(catalogue, changes):
                found += _score(conn, catalogue, period, now.timestamp(), grace_s, changes)
            result_store.upsert_results(conn, found, computed_at=now)
            forget_changes(conn, [c.id for c in pending])
        _store_burn_rates(conn, catalogue, now)  # new data or not: the windows slide with `now`
    return found


def _within_burn_windows(catalogue: Catalogue, period: str, now_s: float) -> bool:
    """Does the period meet [now − 3d, now], the span the burn-rate windows look at? Scoring
    a month long past (the demo's history, a report's final figures) leaves them alone."""
    lo, hi = _period_span(catalogue, period)
    return lo <= now_s and hi > now_s - _burn.LONGEST_WINDOW_S


def _store_burn_rates(conn: Connection, catalogue: Catalogue, now: datetime) -> None:
    # Imported here: worker.metrics.burn_rates reads maintenance through this module.
    from worker.metrics.burn_rates import store_burn_rates

    store_burn_rates(conn, catalogue, now)


def _hold_scoring_lock(conn: Connection) -> None:
    """One scoring transaction at a time, whichever process runs it: concurrent runs would
    both read a tally sheet and the later write would drop the other's days. SQLite's
    `BEGIN IMMEDIATE` already serialises writers; PostgreSQL takes a transaction lock."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(73112026)")


def _period_span(catalogue: Catalogue, period: str) -> tuple[float, float]:
    """The instants that belong to `period` in every agreement's zone."""
    zones = {a.timezone for a in catalogue.agreements.values()} or {"Europe/London"}
    bounds = [period_bounds(period, z) for z in zones]
    return max(b[0] for b in bounds), min(b[1] for b in bounds)


def periods_touched(catalogue: Catalogue, changes: Changes) -> list[str]:
    """Periods (in any agreement's zone) that a change's span, widened by the staleness of
    the service's samples, overlaps."""
    zones = {a.timezone for a in catalogue.agreements.values()} or {"Europe/London"}
    found: set[str] = set()
    for (_, service), (lo, hi) in changes.spans.items():
        margin = catalogue.services[service].staleness_s if service in catalogue.services else 0.0
        for zone_name in zones:
            period, last = period_of(lo - margin, zone_name), period_of(hi + margin, zone_name)
            found.add(period)
            while period < last:
                period = next_period(period)
                found.add(period)
    return sorted(found)


def _score(
    conn: Connection, catalogue: Catalogue, period: str, now_s: float, grace_s: float, changes: Changes | None
) -> list[Result]:
    scored = [
        (context, window)
        for context in contexts(catalogue, all_maintenance(conn, catalogue))
        if (window := scored_window(context.agreement, period)) is not None
    ]
    sample_work = [(c, w) for c, w in scored if not c.objective.type.is_incident and _touched(c, changes, "samples")]
    incident_work = [(c, w) for c, w in scored if c.objective.type.is_incident and _touched(c, changes, "incidents")]
    results = _score_samples(conn, period, sample_work, now_s, grace_s, changes)
    results += _score_incidents(conn, period, incident_work, now_s, grace_s)
    return sorted(results, key=result_order)


def _touched(context: ObjectiveContext, changes: Changes | None, kind: str) -> bool:
    """Incident objectives depend on incidents; sample objectives on samples and, through
    the maintenance they exclude, on maintenance."""
    if changes is None:
        return True
    service = context.objective.service
    if kind == "incidents":
        return changes.span("incidents", service) is not None
    return changes.span("samples", service) is not None or changes.span("maintenance", service) is not None


def _days_to_tally(
    context: ObjectiveContext, bounds: np.ndarray, sheet: tally_store.TallySheet, changes: Changes | None
) -> list[int]:
    """Indexes of the days whose tally must be (re)computed: every day on a full run; on an
    incremental run the days never tallied and the days new samples can have moved (a sample
    changes the hold of the one before it, so reach back and forward by the staleness)."""
    days = len(bounds) - 1
    if changes is None:
        return list(range(days))
    wanted = set(np.nonzero(~sheet.tallied)[0].tolist())
    span = changes.span("samples", context.objective.service)
    if span is not None:
        margin = context.service.staleness_s
        lo = np.searchsorted(bounds, span[0] - margin, side="right") - 1
        hi = np.searchsorted(bounds, span[1] + margin, side="right") - 1
        wanted |= set(range(max(lo, 0), min(hi, days - 1) + 1))
    return sorted(wanted)


def _runs(indexes: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs [first, last] of sorted day indexes."""
    runs: list[tuple[int, int]] = []
    for i in indexes:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _score_samples(
    conn: Connection,
    period: str,
    work: list[tuple[ObjectiveContext, tuple[float, float]]],
    now_s: float,
    grace_s: float,
    changes: Changes | None,
) -> list[Result]:
    """Tally the days that need it, service by service to bound memory, then add up each
    objective's sheet. Objectives with the same basis (same service, calendar, exclusions …
    in different agreements) share one computation."""
    results: list[Result] = []
    stored = tally_store.load_sheets(conn, period, [_key(c) for c, _ in work]) if changes is not None else {}
    by_service: dict[str, list[tuple[ObjectiveContext, tuple[float, float]]]] = defaultdict(list)
    for context, window in work:
        by_service[context.objective.service].append((context, window))
    sheets: list[tally_store.TallySheet] = []
    keys = sample_store.service_keys(conn, list(by_service))
    counted: dict[tuple, Intervals] = {}  # counted time by (calendar, window, exclusions)

    def counted_of(shape: tuple) -> Intervals:
        if shape not in counted:
            counted[shape] = counted_time(*shape)
        return counted[shape]

    for items in by_service.values():
        plans = []
        for context, whole_window in items:
            # Period-to-date: time after `now` is not counted yet (it is neither up nor down).
            window = (whole_window[0], max(whole_window[0], min(whole_window[1], now_s)))
            _, bounds = period_days(period, context.agreement.timezone)
            sheet = stored.get(_key(context))
            if sheet is None or sheet.basis != context.basis or len(sheet.tallied) != len(bounds) - 1:
                sheet = tally_store.TallySheet.blank(*_key(context), period, context.basis, len(bounds) - 1)
            plans.append((context, whole_window, window, bounds, sheet, _days_to_tally(context, bounds, sheet, changes)))
        service = items[0][0].service
        signals = {signal for context, _ in items for signal in context.objective.type.signals}
        series = _series_loader(
            conn, keys[service.id], service.staleness_s, signals, [(bounds, indexes) for _, _, _, bounds, _, indexes in plans]
        )
        shared: dict[tuple[str, int, int], DayTallies] = {}
        for context, whole_window, window, bounds, sheet, indexes in plans:
            for first, last in _runs(indexes):
                computed = (context.basis, first, last)
                if computed not in shared:
                    shape = (context.calendar, window, context.excluded)
                    shared[computed] = tally_days(context, counted_of(shape), bounds[first : last + 2], series)
                tallied = shared[computed]
                sheet.sums[:, first : last + 1] = [getattr(tallied, f) for f in tally_store.FIELDS]
                # A day not over yet is tallied up to `now` only: redo it on the next run.
                sheet.tallied[first : last + 1] = bounds[first + 1 : last + 2] <= now_s
            if indexes:
                sheets.append(sheet)
            tally = Tally(*(float(x) for x in sheet.sums.sum(axis=1)))
            progress = Progress(
                counted_of((context.calendar, window, context.excluded)).measure,
                counted_of((context.calendar, whole_window, context.excluded)).measure,
            )
            final = is_final(context.agreement, period, now_s, grace_s)
            results += sample_results(context, period, tally, final, progress)
    tally_store.upsert_sheets(conn, sheets, computed_at=from_epoch_s(now_s))
    return results


def _key(context: ObjectiveContext) -> tuple[str, str]:
    return context.agreement.id, context.objective.id


def _series_loader(
    conn: Connection, service_key: int, staleness_s: float, signals: set[Signal], plans: list[tuple[np.ndarray, list[int]]]
) -> Callable[[str, Signal], tuple[np.ndarray, np.ndarray]]:
    """Load once the signals one service's objectives read, over the span all planned days
    need (from the first day's start − staleness), then hand out the arrays."""
    spans = [(bounds[min(ix)], bounds[max(ix) + 1]) for bounds, ix in plans if ix]
    empty = (np.empty(0), np.empty(0))
    if not spans:
        return lambda _service, _signal: empty
    lo = min(s for s, _ in spans) - staleness_s
    hi = max(e for _, e in spans)
    codes = [sample_store.SIGNAL_CODES[signal.value] for signal in signals]
    loaded = sample_store.load_service_samples(conn, [service_key], codes, int(np.floor(lo * 1000)), int(np.ceil(hi * 1000)))
    names = {code: name for name, code in sample_store.SIGNAL_CODES.items()}
    series = {names[code]: (at_ms / 1000.0, value) for (_, code), (at_ms, value) in loaded.items()}
    return lambda _service, signal: series.get(signal.value, empty)


def _score_incidents(
    conn: Connection,
    period: str,
    work: list[tuple[ObjectiveContext, tuple[float, float]]],
    now_s: float,
    grace_s: float,
) -> list[Result]:
    """Outcomes are computed once per distinct incident rule (service, priority, type, within,
    calendar) and shared by every agreement that uses the same rule."""
    if not work:
        return []
    candidates = _incident_candidates(conn, period, work)
    open_times = OpenTimes()
    shared: dict[tuple, list[incident_rules.Outcome]] = {}
    results: list[Result] = []
    for context, window in work:
        o = context.objective
        rule = (o.service, o.priority, o.type, o.within_s, context.calendar)
        if rule not in shared:
            shared[rule] = incident_rules.outcomes(candidates.get((o.service, o.priority), []), o, open_times(context.calendar), now_s)
        final = is_final(context.agreement, period, now_s, grace_s)
        results += incident_results(context, period, window, shared[rule], final)
    return results


def _incident_candidates(
    conn: Connection, period: str, work: list[tuple[ObjectiveContext, tuple[float, float]]]
) -> dict[tuple[str, str | None], list[Incident]]:
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


# ---------------------------------------------------------------- reading


def read_results(engine: Engine, period: str, customer: str | None = None) -> list[Result]:
    with read_only(engine) as conn:
        return result_store.load_results(conn, period, customer)


# ---------------------------------------------------------------- which periods


def open_periods(catalogue: Catalogue, now: datetime, grace_s: float) -> list[str]:
    """The running period, and the previous one while it is not final yet (in every zone
    that an agreement uses)."""
    now_s = now.timestamp()
    found: set[str] = set()
    for zone_name in {a.timezone for a in catalogue.agreements.values()} or {"Europe/London"}:
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
    zone_name = next(iter(catalogue.agreements.values())).timezone if catalogue.agreements else "Europe/London"
    period, last = period_of(first_s, zone_name), period_of(now.timestamp(), zone_name)
    periods = [period]
    while period < last:
        period = next_period(period)
        periods.append(period)
    return periods

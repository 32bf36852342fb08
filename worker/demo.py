"""`sla-worker demo`: an example trust with 13 months of synthetic history, scored.

`run_demo` makes up a year and a month of plausible measurements, incidents and maintenance
for the services of a catalogue (the example trust in `config/example`), writes them as the
CSV files of SPEC 5 and hands them to `usecases.ingest.ingest` month by month — so the demo goes
through the same parsers and storage as real data — then scores every month with
`usecases.score.score_period`. `summary_table` prints what a person wants to see first: the last
complete month, objective by objective, with a strip of the year's statuses beside it.

What the history holds (the same every time for the same `now`: numpy with fixed seeds):

- `up` (0/1) for every service that declares it, one sample per `step` (5 minutes, or the
  service's `staleness` when that is shorter, so the samples hold without gaps); `latency_ms`
  where declared (lognormal around a few hundred milliseconds, slower in busy hours); `good` /
  `total` where declared (volume follows the working day, a fraction of a percent fail).
- Ordinary months: a few short blips per service, kept well inside its tightest target.
- The bad month (four months before `now`'s month): a 6-hour outage of the main clinical
  system on a weekday morning and a 4-hour outage of a second one, with P1 incidents that
  breach, and a service desk that misses more targets than usual.
- Incidents P1-P5 on every service that incident objectives use: mostly met, some breached,
  some paused on hold, some for one customer only, a couple still open at `now`.
- Planned maintenance every month, announced in time (not counted); one short-notice window
  (two months back) and one emergency window (three months back), both counted as downtime.
  The catalogue's own maintenance windows take their services down too.
- One 3-hour gap in the data of a service that ignores missing data (six months back), so a
  coverage below 100 % shows up.

Each month's data is generated whole from seeds that depend on the month alone and then cut
at `now`, so a shorter run (`months=5`) writes exactly the same rows for the months it covers.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np
from sqlalchemy import Engine

from worker.domain.model import (
    DEFAULT_TIMEZONE,
    PRIORITIES,
    Calendar,
    Catalogue,
    MaintenanceWindow,
    MissingData,
    Objective,
    ObjectiveType,
    Result,
    Service,
    Signal,
    Status,
)
from worker.scoring.calendars import OpenTime
from worker.scoring.intervals import instant_after_measure
from worker.scoring.periods import (
    parse_period,
    period_bounds,
    period_days,
    period_of,
    periods_back,
    previous_period,
    zone,
)
from worker.scoring.results import floor2
from worker.usecases.ingest import ingest
from worker.usecases.results import read_results
from worker.usecases.score import score_pending, score_period

DEFAULT_MONTHS = 13
DEFAULT_GRACE_S = 6 * 3600.0
SEED = 20_261_115
STEP_S = 300  # one sample every 5 minutes: the default staleness, so samples hold without gaps

# Months before `now`'s month where the special events happen.
BAD_MONTH_BACK = 4
SHORT_NOTICE_BACK = 2
EMERGENCY_BACK = 3
DATA_GAP_BACK = 6

# Who plays which part in the example trust (any catalogue works: without these ids the
# first suitable service is taken).
_MAJOR, _SECOND, _SHORT_NOTICE, _EMERGENCY, _GAP, _DESK = "epr", "pacs", "eprescribing", "pathology", "vpn", "servicedesk"

# Median response time in ms (quiet hours) for services with latency_ms; events per 5 minutes
# at the busiest hour, and the share that succeed, for services with good/total.
_LATENCY_MEDIAN_MS = {"epr": 420.0, "pathology": 650.0, "portal": 300.0}
_EVENTS = {"wifi": (1500.0, 0.996), "telephony": (250.0, 0.992)}

# Share of the busiest hour's activity, by local hour, on a working day (weekends: 30 %).
_ACTIVITY = np.array(
    [0.05, 0.04, 0.04, 0.04, 0.05, 0.08, 0.15, 0.35, 0.75, 1.0, 1.0, 0.95,
     0.8, 0.95, 1.0, 1.0, 0.9, 0.7, 0.45, 0.3, 0.25, 0.2, 0.12, 0.08]
)

# Incidents per month by priority (fixed part + Poisson mean), and clocks for priorities no
# objective defines (response, resolution).
_INCIDENTS_PER_MONTH = {"P1": (1, 1.0), "P2": (10, 3.0), "P3": (18, 6.0), "P4": (25, 8.0), "P5": (8, 4.0)}
_DEFAULT_WITHIN_S = {
    "P1": (15 * 60, 4 * 3600), "P2": (30 * 60, 8 * 3600), "P3": (2 * 3600, 16 * 3600),
    "P4": (4 * 3600, 40 * 3600), "P5": (8 * 3600, 80 * 3600),
}
# Chance that an ordinary month's incident misses its response / resolution target, that it
# waits on the customer for a while, and that it concerns one customer only.
_BREACH = {"P1": (0.0, 0.0), "P2": (0.015, 0.03), "P3": (0.03, 0.05), "P4": (0.04, 0.06), "P5": (0.05, 0.08)}
_ON_HOLD = {"P1": 0.0, "P2": 0.12, "P3": 0.15, "P4": 0.15, "P5": 0.1}
_ONE_CUSTOMER = {"P1": 0.0, "P2": 0.1, "P3": 0.3, "P4": 0.3, "P5": 0.3}
_BAD_MONTH_BREACH_FACTOR = 3.0
_CLOCK_HORIZON_S = 200 * 86400.0

_STATUS_LETTER = {Status.GREEN: "G", Status.AMBER: "A", Status.RED: "R", Status.NO_DATA: "-"}
_NOT_IN_EFFECT = "."


# ------------------------------------------------------------------ summary


@dataclass(frozen=True)
class DemoSummary:
    """What the demo did: the periods (oldest first; the last is the running one), how many
    rows were ingested, and every period's results."""

    now: datetime
    periods: tuple[str, ...]
    bad_period: str
    samples: int
    incidents: int
    maintenance: int
    history: dict[str, tuple[Result, ...]] = field(hash=False)

    @property
    def running_period(self) -> str:
        return self.periods[-1]

    @property
    def last_complete_period(self) -> str:
        return previous_period(self.periods[-1])

    @property
    def results(self) -> tuple[Result, ...]:
        """Results of the most recent complete period."""
        return self.history.get(self.last_complete_period, ())


# ------------------------------------------------------------------ whose database


# The demo marks a database it writes into with a row in `leases` that never expires (no
# process ever takes a lease of that name), so that it may write into it again later and
# into nothing else: a trust's own database is never filled with synthetic history.
DEMO_MARKER = "sla-worker-demo"
_NEVER = datetime(9999, 12, 31, tzinfo=timezone.utc)


def claim_for_demo(engine: Engine, now: datetime) -> bool:
    """Mark the database as the demo's and say True when it holds no data or
    an earlier demo marked it; False (and nothing written) when it holds anyone else's data.
    The mark is written before any data, so a demo stopped half-way may run again."""
    from sqlalchemy import exists, select

    from worker.storage import tables

    # What a trust's data is: its inputs and what was made of them. Bookkeeping a worker
    # writes even with no data (leases, task timings, watermarks, alert states) does not count.
    data = (tables.sample_days, tables.incidents, tables.maintenance, tables.ingested_files, tables.results,
            tables.tallies, tables.reports, tables.silences)
    with engine.begin() as conn:
        if conn.execute(select(tables.leases.c.name).where(tables.leases.c.name == DEMO_MARKER)).first() is not None:
            return True
        if any(conn.execute(select(exists().select_from(table))).scalar() for table in data):
            return False
        conn.execute(tables.leases.insert().values(name=DEMO_MARKER, holder=f"sla-worker demo, {now:%Y-%m-%d %H:%M}Z", expires_at=_NEVER))
    return True


# ------------------------------------------------------------------ the use case


def run_demo(
    engine: Engine,
    catalogue: Catalogue,
    now: datetime,
    progress: Callable[[str], None] = lambda _m: None,
    *,
    months: int = DEFAULT_MONTHS,
    grace_s: float = DEFAULT_GRACE_S,
    step_s: int = STEP_S,
) -> DemoSummary:
    """Generate `months` months of history ending at `now` (the running month up to `now`
    and the complete months before it), ingest it month by month as real data is ingested, score
    every month, and say what was done. Running it again with the same `now` stores the same
    rows and gives the same results.

    `step_s` is the sample interval (a service whose `up` staleness is shorter gets its
    staleness instead). `progress` is called once per month ingested and once per month
    scored."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if months < 1 or step_s < 1:
        raise ValueError("months and step_s must be at least 1")
    now = now.astimezone(timezone.utc)
    plan = _Plan.make(catalogue, now, months, step_s)
    totals = {"samples": 0, "incidents": 0, "maintenance": 0}
    for number, period in enumerate(plan.periods, 1):
        month = _generate_month(plan, period)
        counts = {}
        for kind, data in (("maintenance", month.maintenance), ("incidents", month.incidents), ("samples", month.samples)):
            report = ingest(engine, catalogue, kind, data, now)
            if report.refused:
                shown = "; ".join(f"line {r.line}: {r.reason}" for r in report.refusals[:3])
                raise RuntimeError(f"demo {kind} for {period}: {report.refused} rows refused ({shown})")
            counts[kind] = report.accepted
            totals[kind] += report.accepted
        progress(
            f"{period}: ingested {counts['samples']:,} samples, {counts['incidents']} incidents, "
            f"{counts['maintenance']} maintenance windows ({number}/{len(plan.periods)})"
        )
    for number, period in enumerate(plan.periods, 1):
        found = score_period(engine, catalogue, period, now, grace_s)
        progress(f"{period}: scored, {len(found)} results ({number}/{len(plan.periods)})")
    # score_period forgets only the pending changes wholly inside its period; the rest (a
    # month's first samples reach back into the month before, incidents that span months)
    # are taken up here, as the worker would, so the demo leaves nothing pending behind.
    score_pending(engine, catalogue, now, grace_s)
    history = {period: tuple(read_results(engine, period)) for period in plan.periods}
    return DemoSummary(
        now=now,
        periods=tuple(plan.periods),
        bad_period=plan.bad_period,
        samples=totals["samples"],
        incidents=totals["incidents"],
        maintenance=totals["maintenance"],
        history=history,
    )


# ------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class _Plan:
    catalogue: Catalogue
    now_s: float
    tz: str
    periods: list[str]
    bad_period: str
    short_notice_period: str
    emergency_period: str
    gap_period: str
    major: str | None  # service with the 6-hour outage
    second: str | None  # service with the 4-hour outage
    short_notice: str | None
    emergency: str | None
    gap: str | None
    desk: str | None  # incident service that logs the major incidents
    step_s: dict[str, int]

    @staticmethod
    def make(catalogue: Catalogue, now: datetime, months: int, step_s: int) -> _Plan:
        tz = next((a.timezone for a in catalogue.agreements.values()), DEFAULT_TIMEZONE)
        current = period_of(now.timestamp(), tz)
        periods = periods_back(current, months)
        back = periods_back(current, max(BAD_MONTH_BACK, SHORT_NOTICE_BACK, EMERGENCY_BACK, DATA_GAP_BACK) + 1)[::-1]
        measured = _availability_services(catalogue)
        major = _pick(_MAJOR, measured)
        second = _pick(_SECOND, [s for s in measured if s != major])
        noticed = [s for s in measured if _notice_s(catalogue, s) >= 2 * 86400 and s not in (major, second)]
        short_notice = _pick(_SHORT_NOTICE, noticed)
        emergency = _pick(_EMERGENCY, [s for s in measured if s not in (major, second, short_notice)])
        ignoring = [
            s for s in measured
            if all(o.missing_data is MissingData.IGNORE for o in _objectives(catalogue, s, ObjectiveType.AVAILABILITY))
        ]
        gap = _pick(_GAP, [s for s in ignoring if s not in (major, second)])
        desk = _pick(_DESK, _incident_services(catalogue))
        return _Plan(
            catalogue=catalogue,
            now_s=now.timestamp(),
            tz=tz,
            periods=periods,
            bad_period=back[BAD_MONTH_BACK],
            short_notice_period=back[SHORT_NOTICE_BACK],
            emergency_period=back[EMERGENCY_BACK],
            gap_period=back[DATA_GAP_BACK],
            major=major,
            second=second,
            short_notice=short_notice,
            emergency=emergency,
            gap=gap,
            desk=desk,
            step_s={s.id: _step_s(s, step_s) for s in catalogue.services.values()},
        )


def _pick(preferred: str, candidates: list[str]) -> str | None:
    return preferred if preferred in candidates else (candidates[0] if candidates else None)


def _objectives(catalogue: Catalogue, service: str, *types: ObjectiveType) -> list[Objective]:
    return [
        o for a in sorted(catalogue.agreements.values(), key=lambda a: a.id) for o in a.objectives
        if o.service == service and (not types or o.type in types)
    ]


def _availability_services(catalogue: Catalogue) -> list[str]:
    return sorted(
        s.id for s in catalogue.services.values()
        if Signal.UP.value in s.signals and _objectives(catalogue, s.id, ObjectiveType.AVAILABILITY)
    )


def _incident_services(catalogue: Catalogue) -> list[str]:
    return sorted({o.service for a in catalogue.agreements.values() for o in a.objectives if o.type.is_incident})


def _notice_s(catalogue: Catalogue, service: str) -> float:
    return max((o.maintenance_notice_s for o in _objectives(catalogue, service, ObjectiveType.AVAILABILITY)), default=0.0)


def _step_s(service: Service, step_s: int) -> int:
    """Sample interval: `step_s`, or the `up` staleness when shorter (in whole minutes when it
    is a minute or more), so each sample holds until the next one and no gap appears that the
    demo did not mean."""
    staleness = int(service.staleness_s) if Signal.UP.value in service.signals else step_s
    if staleness >= step_s:
        return step_s
    return 60 * (staleness // 60) if staleness >= 60 else max(staleness, 1)


def _blip_budget_s(catalogue: Catalogue, service: str) -> float:
    """Downtime a month of short blips may take: 40 % of the smallest allowance (below the
    warning when there is one) over a short month of the objective's calendar."""
    budgets = []
    for o in _objectives(catalogue, service, ObjectiveType.AVAILABILITY):
        calendar = catalogue.calendars[o.calendar]
        weekly_s = 7 * 86400 if calendar.always else sum(e - s for day in calendar.hours for s, e in day) * 60
        threshold = max(o.target, o.warning or o.target)
        budgets.append(0.4 * (100.0 - threshold) / 100.0 * 4 * weekly_s)
    return min(budgets, default=1800.0)


def _rng(period: str, *parts: str) -> np.random.Generator:
    year, month = parse_period(period)
    return np.random.default_rng([SEED, year, month, *(zlib.crc32(p.encode()) for p in parts)])


# ------------------------------------------------------------------ one month


@dataclass(frozen=True)
class DemoMonth:
    """One month of demo input, as the CSV files of SPEC 5."""

    samples: bytes
    incidents: bytes
    maintenance: bytes


def bad_month(
    catalogue: Catalogue, now: datetime, step_s: int = STEP_S
) -> tuple[str, DemoMonth, dict[str, list[tuple[datetime, datetime]]]]:
    """The demo's bad month for `now` (the same rows `run_demo` ingests for it), and its
    outages by service: what the on-call would have been paged about, for replaying the
    outage through the alert rules month by month without generating the whole history."""
    plan = _Plan.make(catalogue, now.astimezone(timezone.utc), BAD_MONTH_BACK + 1, step_s)
    outages = {
        service: [(_at(start), _at(end)) for start, end in spans]
        for service, spans in _outages(plan, plan.bad_period).items()
    }
    return plan.bad_period, _generate_month(plan, plan.bad_period), outages


def _generate_month(plan: _Plan, period: str) -> DemoMonth:
    start_s, end_s = period_bounds(period, plan.tz)
    windows = _maintenance(plan, period)
    down: dict[str, list[tuple[float, float]]] = {}
    for window in [*windows, *plan.catalogue.maintenance]:
        down.setdefault(window.service, []).append((window.start_at.timestamp(), window.end_at.timestamp()))
    for service, spans in _outages(plan, period).items():
        down.setdefault(service, []).extend(spans)
    gaps: dict[str, list[tuple[float, float]]] = {}
    if period == plan.gap_period and plan.gap:
        day = _nth_weekday(period, 1, 2)  # second Tuesday, 10:00-13:00
        gaps[plan.gap] = [(_local(day, 10, 0, plan.tz), _local(day, 13, 0, plan.tz))]
    return DemoMonth(
        samples=_samples_csv(plan, period, start_s, end_s, down, gaps),
        incidents=_incidents_csv(plan, period, start_s, end_s),
        maintenance=_maintenance_csv(windows),
    )


def _local(day: date, hour: int, minute: int, tz: str) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone(tz)).timestamp()


def _nth_weekday(period: str, weekday: int, n: int) -> date:
    """The n-th (1-based) Monday (0) … Sunday (6) of a period."""
    year, month = parse_period(period)
    days = [d for d in period_days(period, DEFAULT_TIMEZONE)[0] if d.weekday() == weekday]
    return days[min(n, len(days)) - 1] if days else date(year, month, 1)


def _outages(plan: _Plan, period: str) -> dict[str, list[tuple[float, float]]]:
    """The bad month's two outages, as down spans by service."""
    if period != plan.bad_period:
        return {}
    found: dict[str, list[tuple[float, float]]] = {}
    if plan.major:
        day = _nth_weekday(period, 1, 2)  # second Tuesday, 09:30-15:30
        found[plan.major] = [(_local(day, 9, 30, plan.tz), _local(day, 15, 30, plan.tz))]
    if plan.second:
        day = _nth_weekday(period, 3, 3)  # third Thursday, 12:00-16:00
        found[plan.second] = [(_local(day, 12, 0, plan.tz), _local(day, 16, 0, plan.tz))]
    return found


# ------------------------------------------------------------------ samples


def _samples_csv(
    plan: _Plan,
    period: str,
    start_s: float,
    end_s: float,
    down: dict[str, list[tuple[float, float]]],
    gaps: dict[str, list[tuple[float, float]]],
) -> bytes:
    parts = ["timestamp,service,signal,value\n"]
    stamps: dict[int, tuple[np.ndarray, list[str]]] = {}
    for service in sorted(plan.catalogue.services.values(), key=lambda s: s.id):
        signals = service.signals
        if not signals:
            continue
        step = plan.step_s[service.id]
        if step not in stamps:
            t = np.arange(int(start_s), int(end_s), step, dtype=np.int64)
            text = np.datetime_as_string(t.astype("datetime64[s]"), unit="s")
            stamps[step] = (t, [f"{s}Z," for s in text.tolist()])
        t, prefixes = stamps[step]
        rng = _rng(period, service.id)
        activity = _activity(t, plan.tz)
        up = np.ones(len(t), dtype=np.int64)
        if Signal.UP.value in signals:
            for lo, hi in [*down.get(service.id, []), *_blips(plan, service.id, t, step, rng)]:
                up[(t >= lo) & (t < hi)] = 0
        present = t <= plan.now_s
        for lo, hi in gaps.get(service.id, []):
            present &= ~((t >= lo) & (t < hi))
        if Signal.UP.value in signals:
            parts.append(_lines(prefixes, f"{service.id},up,", present, up.tolist()))
        if Signal.LATENCY_MS.value in signals:
            median = _LATENCY_MEDIAN_MS.get(service.id, 400.0) * (0.85 + 0.6 * activity)
            if period == plan.bad_period and service.id == plan.major:
                median = median * _after_outage(t, _outages(plan, period).get(service.id, []), 3 * 3600, 5.0)
            latency = np.maximum(np.rint(rng.lognormal(np.log(median), 0.45)), 1).astype(np.int64)
            parts.append(_lines(prefixes, f"{service.id},latency_ms,", present & (up == 1), latency.tolist()))
        if Signal.GOOD.value in signals or Signal.TOTAL.value in signals:
            peak, success = _EVENTS.get(service.id, (500.0, 0.995))
            volume = (0.02 * peak + peak * activity) * (step / 300) * rng.lognormal(0.0, 0.15, len(t))
            total = rng.poisson(volume)
            good = rng.binomial(total, success * up + 0.5 * (1 - up))
            for signal, values in ((Signal.TOTAL.value, total), (Signal.GOOD.value, good)):
                if signal in signals:
                    parts.append(_lines(prefixes, f"{service.id},{signal},", present, values.tolist()))
    return "".join(parts).encode()


def _lines(prefixes: list[str], key: str, keep: np.ndarray, values: list[int]) -> str:
    return "".join([f"{p}{key}{v}\n" for p, v, k in zip(prefixes, values, keep.tolist()) if k])


def _activity(t: np.ndarray, tz: str) -> np.ndarray:
    """How busy the trust is at each instant (0-1), from the local hour and day of week."""
    hours = t // 3600
    distinct, index = np.unique(hours, return_inverse=True)
    place = zone(tz)
    offsets = np.array(
        [datetime.fromtimestamp(int(h) * 3600, tz=place).utcoffset().total_seconds() for h in distinct.tolist()],  # type: ignore[union-attr]
        dtype=np.int64,
    )[index]
    local = t + offsets
    hour = (local // 3600) % 24
    weekday = (local // 86400 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return _ACTIVITY[hour] * np.where(weekday < 5, 1.0, 0.3)


def _blips(plan: _Plan, service: str, t: np.ndarray, step: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """A few short outages of one sample each, within the service's blip budget."""
    most = int(_blip_budget_s(plan.catalogue, service) // step)
    count = min(int(rng.poisson(1.5)), most)
    at = rng.choice(len(t), size=count, replace=False).tolist() if count else []
    return [(float(t[i]), float(t[i] + step)) for i in sorted(at)]


def _after_outage(t: np.ndarray, spans: list[tuple[float, float]], for_s: float, factor: float) -> np.ndarray:
    """Slower responses for a while after the service comes back."""
    multiplier = np.ones(len(t))
    for _, end in spans:
        multiplier[(t >= end) & (t < end + for_s)] = factor
    return multiplier


# ------------------------------------------------------------------ maintenance


def _maintenance(plan: _Plan, period: str) -> list[MaintenanceWindow]:
    """This month's windows: planned work announced in time (every month on the main system,
    now and then on the others), and the short-notice and emergency windows."""
    rng = _rng(period, "maintenance")
    windows: list[MaintenanceWindow] = []
    weekends = [d for d in period_days(period, plan.tz)[0] if d.weekday() >= 5]

    def add(service: str, start: float, hours: float, notice_s: float, reason: str, emergency: bool = False) -> None:
        announced = start - notice_s
        if announced <= plan.now_s:
            windows.append(
                MaintenanceWindow(service, _at(start), _at(start + hours * 3600), _at(announced), reason, emergency)
            )

    for service in _availability_services(plan.catalogue):
        planned = rng.random() < 0.3
        day = weekends[int(rng.integers(len(weekends)))]
        hour, hours, lead_days = int(rng.integers(3, 7)), float(rng.integers(1, 4)), int(rng.integers(2, 10))
        if service == plan.major:
            day, hour, hours, planned = _nth_weekday(period, 6, 1), 3, 2.0, True
        if planned:
            notice = _notice_s(plan.catalogue, service) + lead_days * 86400
            add(service, _local(day, hour, 0, plan.tz), hours, notice, "Planned maintenance: monthly patching")
    if period == plan.short_notice_period and plan.short_notice:
        start = _local(_nth_weekday(period, 1, 2), 6, 0, plan.tz)
        add(plan.short_notice, start, 0.5, 86400, "Database patch at short notice (counts as downtime)")
    if period == plan.emergency_period and plan.emergency:
        start = _local(_nth_weekday(period, 2, 3), 2, 0, plan.tz)
        add(plan.emergency, start, 1.5, 1800, "Emergency security fix (counts as downtime)", emergency=True)
    return windows


def _at(at_s: float) -> datetime:
    return datetime.fromtimestamp(round(at_s), tz=timezone.utc)


def _stamp(at: datetime | float | None) -> str:
    if at is None:
        return ""
    moment = at if isinstance(at, datetime) else _at(at)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _maintenance_csv(windows: Iterable[MaintenanceWindow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["service", "start", "end", "announced", "reason", "emergency"])
    for w in windows:
        writer.writerow(
            [w.service, _stamp(w.start_at), _stamp(w.end_at), _stamp(w.announced_at), w.reason, "true" if w.emergency else "false"]
        )
    return out.getvalue().encode()


# ------------------------------------------------------------------ incidents


class _Clock:
    """Service hours of one calendar: instants after so much open time, and open time between."""

    def __init__(self, calendar: Calendar):
        self._open = OpenTime(calendar)

    def after(self, origin: float, amount_s: float) -> float | None:
        return instant_after_measure(self._open(origin, origin + _CLOCK_HORIZON_S), origin, amount_s)

    def between(self, start: float, end: float) -> float:
        return self._open(start, end).measure if end > start else 0.0

    def pick(self, start: float, end: float, share: float) -> float | None:
        """The instant `share` (0-1) of the way through the open time in [start, end)."""
        return instant_after_measure(self._open(start, end), start, share * self.between(start, end))


@dataclass(frozen=True)
class _Rule:
    """How one priority's clocks run on one service: response and resolution."""

    response_s: float
    resolution_s: float
    response: _Clock
    resolution: _Clock


def _rules(catalogue: Catalogue, service: str) -> dict[str, _Rule]:
    objectives = _objectives(catalogue, service, ObjectiveType.INCIDENT_RESPONSE, ObjectiveType.INCIDENT_RESOLUTION)
    office = next((o.calendar for o in objectives if not catalogue.calendars[o.calendar].always), None)
    fallback = office or (objectives[0].calendar if objectives else None)
    clocks: dict[str, _Clock] = {}

    def clock(calendar_id: str | None) -> _Clock:
        key = calendar_id or ""
        if key not in clocks:
            clocks[key] = _Clock(catalogue.calendars[calendar_id] if calendar_id else Calendar("demo-always", always=True))
        return clocks[key]

    rules = {}
    for priority in PRIORITIES:
        found = {o.type: o for o in reversed(objectives) if o.priority == priority}
        response = found.get(ObjectiveType.INCIDENT_RESPONSE)
        resolution = found.get(ObjectiveType.INCIDENT_RESOLUTION)
        default_response, default_resolution = _DEFAULT_WITHIN_S[priority]
        defined = response or resolution
        calendar = defined.calendar if defined else (None if priority == "P1" else fallback)
        rules[priority] = _Rule(
            response_s=response.within_s if response and response.within_s else default_response,
            resolution_s=resolution.within_s if resolution and resolution.within_s else default_resolution,
            response=clock(response.calendar if response else calendar),
            resolution=clock(resolution.calendar if resolution else calendar),
        )
    return rules


def _covered_customers(catalogue: Catalogue, service: str) -> list[str]:
    return sorted(
        {c for a in catalogue.agreements.values() if any(o.service == service for o in a.objectives) for c in a.customers}
    )


def _incidents_csv(plan: _Plan, period: str, start_s: float, end_s: float) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "service", "customer", "priority", "opened_at", "responded_at", "resolved_at", "on_hold"])
    rows: list[list[str]] = []
    for service in _incident_services(plan.catalogue):
        rows += _service_incidents(plan, period, service, start_s, end_s)
    for number, row in enumerate(sorted(rows, key=lambda r: (r[3], r[0], r[2])), 1):
        writer.writerow([f"DEMO-{period}-{number:04d}", *row])
    return out.getvalue().encode()


def _service_incidents(plan: _Plan, period: str, service: str, start_s: float, end_s: float) -> list[list[str]]:
    """Rows without their id: service, customer, priority, opened, responded, resolved, hold."""
    rng = _rng(period, "incidents", service)
    rules = _rules(plan.catalogue, service)
    customers = _covered_customers(plan.catalogue, service)
    bad = period == plan.bad_period
    rows: list[list[str]] = []

    def emit(customer: str, priority: str, opened: float, responded: float | None, resolved: float | None, hold: tuple[float, float] | None) -> None:
        if opened > plan.now_s:
            return
        responded = responded if responded is not None and responded <= plan.now_s else None
        resolved = resolved if resolved is not None and resolved <= plan.now_s else None
        if hold is not None and (resolved is None and hold[1] > plan.now_s):
            hold = None
        on_hold = f"{_stamp(hold[0])}/{_stamp(hold[1])}" if hold else ""
        rows.append([service, customer, priority, _stamp(opened), _stamp(responded), _stamp(resolved), on_hold])

    for priority in PRIORITIES:
        rule = rules[priority]
        fixed, mean = _INCIDENTS_PER_MONTH[priority]
        breach_response, breach_resolution = _BREACH[priority]
        if bad:
            breach_response, breach_resolution = breach_response * _BAD_MONTH_BREACH_FACTOR, breach_resolution * _BAD_MONTH_BREACH_FACTOR
        for _ in range(fixed + int(rng.poisson(mean))):
            draws = rng.random(6)
            if priority == "P1" or draws[0] < 0.15:
                opened = start_s + draws[1] * (end_s - start_s)  # any time of day
            else:
                opened = rule.response.pick(start_s, end_s, draws[1]) or start_s + draws[1] * (end_s - start_s)
            opened = float(round(opened))
            response_share = rng.uniform(1.3, 3.0) if draws[2] < breach_response else rng.uniform(0.1, 0.85)
            resolution_share = rng.uniform(1.2, 2.5) if draws[3] < breach_resolution else rng.uniform(0.25, 0.9)
            responded = rule.response.after(opened, response_share * rule.response_s)
            worked_s = resolution_share * rule.resolution_s
            hold = None
            resolved = rule.resolution.after(opened, worked_s)
            if draws[4] < _ON_HOLD[priority] and responded is not None:
                # waiting on the customer part-way through: the clock stops meanwhile
                hold_start = max(responded, rule.resolution.after(opened, worked_s * rng.uniform(0.2, 0.6)) or responded)
                worked_before = rule.resolution.between(opened, hold_start)
                hold_end = rule.resolution.after(hold_start, rng.uniform(1.0, 6.0) * 3600)
                if worked_before < worked_s and hold_end is not None:
                    hold = (hold_start, hold_end)
                    resolved = rule.resolution.after(hold_end, worked_s - worked_before)
            if resolved is not None and responded is not None:
                resolved = max(resolved, responded)
            customer = customers[int(rng.integers(len(customers)))] if customers and draws[5] < _ONE_CUSTOMER[priority] else ""
            emit(customer, priority, opened, responded, resolved, hold)

    if bad and service == plan.desk:
        # the major incidents of the bad month: both resolved well past the 4-hour target
        for outage_service, spans in _outages(plan, period).items():
            slow_response = outage_service == plan.second
            for lo, hi in spans:
                opened = lo + (6 if slow_response else 4) * 60
                emit("", "P1", opened, opened + (22 if slow_response else 10) * 60, hi + 10 * 60, None)
    if period == period_of(plan.now_s, plan.tz):
        # two calls still open at `now`
        for priority, hours_ago in (("P3", 5.0), ("P4", 30.0)):
            opened = float(round(plan.now_s - hours_ago * 3600))
            emit("", priority, opened, rules[priority].response.after(opened, 0.5 * rules[priority].response_s), None, None)
    return rows


# ------------------------------------------------------------------ the table


def summary_table(summary: DemoSummary) -> str:
    """The last complete month as a table for a terminal, one row per agreement, customer and
    objective, with a strip of the last twelve complete months' statuses (oldest first) and
    the running month so far. Values are rounded down to two decimals."""
    last = summary.last_complete_period
    months = periods_back(last, 12)
    status: dict[tuple[str, str, str], dict[str, Status]] = {}
    latest: dict[tuple[str, str, str], Result] = {}
    for period, results in summary.history.items():
        for r in results:
            key = (r.agreement, r.customer, r.objective)
            status.setdefault(key, {})[period] = r.status
            if period == last:
                latest[key] = r
    header = (
        "agreement", "customer", "objective", "target", last, "status", "budget left", "coverage",
        "".join(_month_letter(p) for p in months), "now",
    )
    rows = []
    for key in sorted(status):
        shown = latest.get(key)
        strip = "".join(_STATUS_LETTER[status[key][p]] if p in status[key] else _NOT_IN_EFFECT for p in months)
        running = status[key].get(summary.running_period)
        cells = (
            (f"{shown.target:g}%", _percent(shown.value), shown.status.value, _percent_of_ratio(shown.error_budget_remaining), _percent_of_ratio(shown.coverage))
            if shown else ("", "not in effect", "", "", "")
        )
        rows.append((*key, *cells, strip, _STATUS_LETTER[running] if running else _NOT_IN_EFFECT))
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    right = {3, 4, 6, 7}
    table = [
        "  ".join(str(x).rjust(w) if i in right else str(x).ljust(w) for i, (x, w) in enumerate(zip(line, widths))).rstrip()
        for line in (header, *rows)
    ]
    counts = Counter(r.status for r in summary.results)
    intro = [
        (
            f"Demo trust: {len(summary.periods)} months of synthetic history, {summary.periods[0]} to "
            f"{summary.running_period} (up to {summary.now:%Y-%m-%d %H:%M} UTC)"
        ),
        (
            f"Ingested {summary.samples:,} samples, {summary.incidents:,} incidents and {summary.maintenance:,} "
            f"maintenance windows; {sum(len(r) for r in summary.history.values()):,} results stored."
        ),
        f"Bad month: {summary.bad_period} (major outages). Last complete month {last}: "
        + ", ".join(f"{counts[s]} {s.value}" for s in (Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA)),
        "",
    ]
    legend = [
        "",
        f"Strip: one letter per month, {months[0]} to {months[-1]}, oldest first; 'now' is {summary.running_period} so far.",
        "G green  A amber  R red  - no data  . agreement not in effect. Values are rounded down to two decimals.",
    ]
    return "\n".join(intro + table + legend) + "\n"


def _month_letter(period: str) -> str:
    return "JFMAMJJASOND"[parse_period(period)[1] - 1]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{floor2(value)}%"


def _percent_of_ratio(value: float | None) -> str:
    return "—" if value is None else f"{floor2(100 * value)}%"

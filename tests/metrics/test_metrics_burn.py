"""Burn rates over the SPEC 7 windows, on plain values (worker.scoring.burn is pure)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from worker.domain.model import (
    Agreement,
    Calendar,
    MaintenanceWindow,
    MissingData,
    Objective,
    ObjectiveType,
    Service,
    Signal,
    SignalSource,
)
from worker.scoring.burn import burn_rate, incident_window_scores, reach, sample_window_scores, window_tallies
from worker.scoring.counted import counted_time, excluded_maintenance
from worker.scoring.incidents import Outcome
from worker.scoring.intervals import Intervals
from worker.scoring.score import ObjectiveContext
from worker.scoring.windows import LONGEST_WINDOW_S, WINDOWS

UTC = timezone.utc
ALWAYS = Calendar("always", always=True)
OFFICE = Calendar("office", hours=((((480, 1080),),) * 5) + ((), ()), holidays="england-and-wales")
NOW = datetime(2026, 10, 14, 12, 0, tzinfo=UTC)  # a Wednesday, 13:00 in London
EMPTY = (np.empty(0), np.empty(0))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def context(
    kind: ObjectiveType = ObjectiveType.AVAILABILITY,
    *,
    calendar: Calendar = ALWAYS,
    missing: MissingData = MissingData.IGNORE,
    target: float = 99.5,
    threshold_ms: float | None = None,
    effective: tuple[date | None, date | None] = (None, None),
    maintenance: tuple[MaintenanceWindow, ...] = (),
    notice_s: float = 0.0,
) -> ObjectiveContext:
    service = Service("epr", "EPR", signals={"up": SignalSource("drop", staleness_s=300.0)})
    objective = Objective(
        "epr-o", "epr", kind, target, calendar.id, missing_data=missing, threshold_ms=threshold_ms,
        maintenance_notice_s=notice_s,
    )
    agreement = Agreement("core", "Core", ("acute", "community"), (objective,), effective_from=effective[0], effective_to=effective[1])
    return ObjectiveContext(agreement, objective, calendar, service, tuple(excluded_maintenance(objective, maintenance)))


def minutes_before(now: datetime, count: int) -> np.ndarray:
    """Epoch seconds of the `count` whole minutes before `now`, oldest first."""
    return now.timestamp() - 60.0 * np.arange(count, 0, -1)


def windows(ctx: ObjectiveContext, series: dict[Signal, tuple[np.ndarray, np.ndarray]], now: datetime = NOW) -> dict[str, float | None]:
    now_s = now.timestamp()
    span = reach(ctx.agreement, now_s, LONGEST_WINDOW_S)
    counted = counted_time(ctx.calendar, span, ctx.excluded) if span else Intervals.empty()
    tallies = window_tallies(ctx, counted, lambda _service, signal: series.get(signal, EMPTY), now_s)
    return {s.window: s.burn_rate for s in sample_window_scores(ctx, tallies)}


def up_series(now: datetime, down_minutes: set[int], count: int = 3 * 1440 + 10) -> dict[Signal, tuple[np.ndarray, np.ndarray]]:
    """`up` every minute before `now`; minute k (1 = the last one) is down when k is in `down_minutes`."""
    times = minutes_before(now, count)
    values = np.array([0.0 if (count - i) in down_minutes else 1.0 for i in range(count)])
    return {Signal.UP: (times, values)}


@pytest.mark.parametrize(
    ("bad", "total", "target", "expected"),
    [
        (0, 0, 99.5, None),  # nothing counted: no burn rate
        (1, 100, 99.0, 1.0),  # spending exactly as fast as the target allows
        (5, 100, 99.5, 10.0),
        (0, 100, 99.5, 0.0),
        (0, 10, 100.0, 0.0),  # target 100: no budget, nothing spent
        (1, 10, 100.0, math.inf),  # target 100: anything bad burns infinitely fast
        (60, 60, 0.0, 1.0),
    ],
)
def test_burn_rate_is_the_bad_share_divided_by_the_budget(bad, total, target, expected):
    got = burn_rate(bad, total, target)
    assert got == expected if expected is None or math.isinf(expected) else math.isclose(got, expected, rel_tol=1e-12)


def test_three_minutes_down_out_of_the_last_five_burn_a_995_budget_120_times_as_fast():
    rates = windows(context(), up_series(NOW, {1, 2, 3}))
    assert rates["5m"] == pytest.approx(120.0, rel=1e-12)  # 180 s of 300 s down / 0.005
    assert rates["30m"] == pytest.approx(20.0, rel=1e-12)
    assert rates["1h"] == pytest.approx(10.0, rel=1e-12)
    assert rates["6h"] == pytest.approx(180 / 21600 / 0.005, rel=1e-12)
    assert rates["3d"] == pytest.approx(180 / 259200 / 0.005, rel=1e-12)


def test_every_window_label_of_spec_10_is_computed_shortest_first():
    assert list(WINDOWS) == ["5m", "30m", "1h", "6h", "3d"]
    assert list(windows(context(), up_series(NOW, set()))) == ["5m", "30m", "1h", "6h", "3d"]


@pytest.mark.parametrize(("policy", "expected"), [(MissingData.IGNORE, None), (MissingData.DOWN, 200.0), (MissingData.UP, 0.0)])
def test_a_window_without_data_follows_the_missing_data_policy(policy, expected):
    # The last sample is 11 minutes old: with 5 minutes' staleness nothing is known for 6 minutes.
    series = up_series(NOW - timedelta(minutes=10), set())
    assert windows(context(missing=policy), series)["5m"] == expected


def test_an_office_hours_objective_has_no_short_window_burn_rate_after_hours():
    evening = at("2026-10-14T20:00:00+01:00")
    rates = windows(context(calendar=OFFICE), up_series(evening, {1, 2, 3, 200}), evening)
    assert rates["5m"] is None and rates["30m"] is None and rates["1h"] is None
    # 14:00-18:00 of counted time in the last 6 hours; minute 200 before 20:00 is 16:40, down.
    assert rates["6h"] == pytest.approx(60 / (4 * 3600) / 0.005, rel=1e-12)


def test_announced_maintenance_is_not_counted_but_short_notice_work_is():
    start, end = NOW - timedelta(minutes=3), NOW
    announced = MaintenanceWindow("epr", start, end, announced_at=start - timedelta(days=10), reason="patching")
    late = MaintenanceWindow("epr", start, end, announced_at=start - timedelta(hours=1), reason="urgent")
    series = up_series(NOW, {1, 2, 3})
    assert windows(context(maintenance=(announced,), notice_s=5 * 86400), series)["5m"] == 0.0  # 2 min up, nothing bad
    assert windows(context(maintenance=(late,), notice_s=5 * 86400), series)["5m"] == pytest.approx(120.0, rel=1e-12)


def test_windows_reach_back_across_the_start_of_the_period():
    # 00:30 on 1 November (GMT): the last hour is half October, half November.
    now = at("2026-11-01T00:30:00+00:00")
    rates = windows(context(), up_series(now, set(range(31, 61))), now)  # the last 30 minutes of October down
    assert rates["1h"] == pytest.approx(100.0, rel=1e-12)
    assert rates["30m"] == 0.0


def test_only_the_part_of_a_window_inside_the_effective_dates_counts():
    ended = context(effective=(None, date(2026, 10, 10)))
    assert set(windows(ended, up_series(NOW, {1})).values()) == {None}
    # Starting today (local midnight = 23:00 UTC yesterday): the 3-day window holds 13 hours.
    starting = context(effective=(date(2026, 10, 14), None))
    rates = windows(starting, up_series(NOW, {1}))
    assert rates["3d"] == pytest.approx(60 / (13 * 3600) / 0.005, rel=1e-12)
    assert rates["6h"] == pytest.approx(60 / (6 * 3600) / 0.005, rel=1e-12)


def test_latency_counts_the_samples_in_the_window_over_the_threshold_as_bad():
    times = minutes_before(NOW, 400)
    values = np.full(400, 100.0)
    values[-2:] = 2500.0  # the last two responses too slow
    values[-3] = 2000.0  # exactly at the threshold: good
    rates = windows(context(ObjectiveType.LATENCY, target=95.0, threshold_ms=2000.0), {Signal.LATENCY_MS: (times, values)})
    assert rates["5m"] == pytest.approx((2 / 5) / 0.05, rel=1e-12)
    assert rates["6h"] == pytest.approx((2 / 360) / 0.05, rel=1e-12)


def test_events_add_up_good_and_total_in_the_window():
    times = minutes_before(NOW, 10)
    good = np.full(10, 100.0)
    good[-1] = 90.0
    total = np.full(10, 100.0)
    rates = windows(context(ObjectiveType.EVENTS, target=99.0), {Signal.GOOD: (times, good), Signal.TOTAL: (times, total)})
    assert rates["5m"] == pytest.approx((10 / 500) / 0.01, rel=1e-12)
    assert rates["30m"] == pytest.approx((10 / 1000) / 0.01, rel=1e-12)


def test_target_100_burns_infinitely_fast_once_anything_is_bad():
    rates = windows(context(target=100.0), up_series(NOW, {1}))
    assert rates["5m"] == math.inf
    assert windows(context(target=100.0), up_series(NOW, set()))["5m"] == 0.0


def test_incidents_count_in_the_window_holding_their_decisive_moment_per_customer():
    now_s = NOW.timestamp()
    outcomes = [
        Outcome("INC1", None, False, now_s - 1900),  # breached 32 minutes ago, every customer
        Outcome("INC2", "community", False, now_s - 600),  # breached 10 minutes ago, community only
        Outcome("INC3", None, True, now_s - 2 * 86400),  # met two days ago
        Outcome("INC4", None, True, now_s - 4 * 86400),  # met four days ago: outside every window
    ]
    agreement = context().agreement
    acute = {s.window: s for s in incident_window_scores(agreement, 90.0, "acute", outcomes, now_s)}
    community = {s.window: s for s in incident_window_scores(agreement, 90.0, "community", outcomes, now_s)}
    assert acute["5m"].burn_rate is None and acute["30m"].burn_rate is None
    assert (acute["1h"].bad, acute["1h"].total, acute["1h"].burn_rate) == (1.0, 1.0, pytest.approx(10.0))
    assert (acute["3d"].bad, acute["3d"].total, acute["3d"].burn_rate) == (1.0, 2.0, pytest.approx(5.0))
    assert (community["30m"].bad, community["30m"].total) == (1.0, 1.0)
    assert (community["3d"].bad, community["3d"].total, community["3d"].burn_rate) == (2.0, 3.0, pytest.approx(2 / 3 / 0.1))

"""Day tallies checked against a brute-force simulation of every second."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from worker.scoring.intervals import Intervals
from worker.scoring.score import ServiceShares
from worker.scoring.tallies import tally_availability, tally_events, tally_latency

SPAN = 100


def counted_set(raw):
    return Intervals.of([(a, b) for a, b in raw if b > a])


samples = st.dictionaries(st.integers(-20, SPAN + 10), st.sampled_from([0.0, 1.0]), max_size=25)
counted_pairs = st.lists(st.tuples(st.integers(0, SPAN), st.integers(0, SPAN)), max_size=6)
cuts = st.lists(st.integers(1, SPAN - 1), max_size=4, unique=True)


def day_bounds(inner):
    return np.array([0.0, *sorted(inner), float(SPAN)])


@given(samples, counted_pairs, cuts, st.integers(1, 30))
def test_seconds_up_and_down_per_day_match_a_second_by_second_simulation(raw, counted, inner, staleness):
    bounds = day_bounds(inner)
    at = np.array(sorted(raw), dtype=float)
    value = np.array([raw[t] for t in sorted(raw)])
    mask = np.zeros(SPAN, dtype=bool)
    for a, b in counted:
        mask[max(a, 0):min(b, SPAN)] = True
    expected_up = np.zeros(len(bounds) - 1)
    expected_down = np.zeros(len(bounds) - 1)
    for second in range(SPAN):
        if not mask[second]:
            continue
        held = [t for t in at if t <= second < t + staleness]
        later = [t for t in at if t <= second]
        if not held or held[-1] != later[-1]:
            continue  # no sample holds this second (stale, or a newer sample took over)
        day = np.searchsorted(bounds, second, side="right") - 1
        if raw[int(held[-1])] == 1.0:
            expected_up[day] += 1
        else:
            expected_down[day] += 1
    tallies = tally_availability(counted_set(counted), bounds, at, value, float(staleness))
    assert tallies.up_s.tolist() == expected_up.tolist()
    assert tallies.down_s.tolist() == expected_down.tolist()
    assert tallies.counted_s.sum() == mask.sum()


latency = st.dictionaries(st.integers(-5, SPAN + 5), st.integers(0, 3000), max_size=25)


@given(latency, counted_pairs, cuts, st.integers(0, 3000))
def test_latency_counts_samples_in_counted_time_at_or_under_the_threshold(raw, counted, inner, threshold):
    bounds = day_bounds(inner)
    c = counted_set(counted)
    at = np.array(sorted(raw), dtype=float)
    value = np.array([raw[t] for t in sorted(raw)], dtype=float)
    tallies = tally_latency(c, bounds, at, value, float(threshold))
    inside = [t for t in sorted(raw) if 0 <= t < SPAN and any(a <= t < b for a, b in counted)]
    assert tallies.total.sum() == len(inside)
    assert tallies.good.sum() == sum(1 for t in inside if raw[t] <= threshold)


@given(latency, counted_pairs, cuts)
def test_events_sum_good_and_total_in_counted_time(raw, counted, inner):
    bounds = day_bounds(inner)
    at = np.array(sorted(raw), dtype=float)
    total = np.array([raw[t] for t in sorted(raw)], dtype=float)
    good = np.floor(total / 2)
    tallies = tally_events(counted_set(counted), bounds, at, good, at, total)
    inside = [i for i, t in enumerate(sorted(raw)) if 0 <= t < SPAN and any(a <= t < b for a, b in counted)]
    assert tallies.total.sum() == total[inside].sum()
    assert tallies.good.sum() == good[inside].sum()


@given(samples, st.lists(counted_pairs, min_size=1, max_size=4), cuts, st.integers(1, 30), st.integers(0, 2))
def test_objectives_sharing_a_services_pieces_tally_as_each_would_alone(raw, counteds, inner, staleness, skip):
    """One service's objectives under different calendars, and over fewer days, share one
    ServiceShares in a run: each gets the same tallies as computing its own pieces."""
    at = np.array(sorted(raw), dtype=float)
    value = np.array([raw[t] for t in sorted(raw)])
    all_days = day_bounds(inner)
    shares = ServiceShares()
    for number, counted in enumerate(counteds):
        bounds = all_days[min(skip, len(all_days) - 2) :] if number % 2 else all_days
        c = counted_set(counted)
        shared = tally_availability(c, bounds, at, value, float(staleness), shares.up_pieces(bounds, at, value, float(staleness)))
        alone = tally_availability(c, bounds, at, value, float(staleness))
        assert shared.up_s.tolist() == alone.up_s.tolist() and shared.down_s.tolist() == alone.down_s.tolist()
        threshold = float(number * 500)
        shared = tally_latency(c, bounds, at, value * 1000, threshold, shares.good_before(value * 1000, threshold))
        alone = tally_latency(c, bounds, at, value * 1000, threshold)
        assert shared.good.tolist() == alone.good.tolist() and shared.total.tolist() == alone.total.tolist()

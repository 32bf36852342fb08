"""Interval arithmetic checked against a brute-force count of every second."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.scoring.intervals import (
    Intervals,
    contains,
    cumulative_measure,
    instant_after_measure,
    intersect,
    meets,
    subtract,
    union,
)

SPAN = 120
pairs = st.lists(st.tuples(st.integers(0, SPAN), st.integers(0, SPAN)), max_size=8)


def as_set(raw):
    return Intervals.of([(a, b) for a, b in raw if b > a])


def seconds(raw):
    mask = np.zeros(SPAN + 2, dtype=bool)
    for a, b in raw:
        mask[a:b] = True
    return mask


@given(pairs, pairs)
def test_intersection_subtraction_and_union_match_a_second_by_second_count(a, b):
    sa, sb = seconds(a), seconds(b)
    assert intersect(as_set(a), as_set(b)).measure == (sa & sb).sum()
    assert subtract(as_set(a), as_set(b)).measure == (sa & ~sb).sum()
    assert union(as_set(a), as_set(b)).measure == (sa | sb).sum()


@given(pairs, st.lists(st.integers(0, SPAN + 1), min_size=1, max_size=10))
def test_cumulative_measure_and_membership_match_a_second_by_second_count(a, ts):
    mask = seconds(a)
    assert cumulative_measure(as_set(a), np.array(ts)).tolist() == [float(mask[:t].sum()) for t in ts]
    assert contains(as_set(a), np.array(ts)).tolist() == [bool(mask[t]) for t in ts]


@given(pairs, st.integers(0, SPAN + 1), st.integers(0, SPAN + 1))
def test_meets_says_whether_any_second_of_a_span_is_in_the_set(a, lo, hi):
    assert meets(as_set(a), float(lo), float(hi)) == bool(seconds(a)[lo:hi].any())


@given(pairs, st.integers(0, SPAN), st.integers(1, SPAN))
def test_instant_after_measure_is_the_first_moment_the_clock_reaches_the_amount(a, origin, amount):
    mask = seconds(a)
    elapsed, expected = 0, None
    for second in range(origin, SPAN + 1):
        elapsed += int(mask[second])
        if elapsed == amount:
            expected = float(second + 1)
            break
    assert instant_after_measure(as_set(a), float(origin), float(amount)) == expected


@settings(max_examples=50)
@given(pairs)
def test_normalised_sets_are_sorted_and_disjoint(a):
    s = as_set(a)
    assert np.all(s.ends > s.starts)
    assert np.all(s.starts[1:] > s.ends[:-1])

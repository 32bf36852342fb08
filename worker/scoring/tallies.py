"""Additive partial scores per local day for the sample-based types (SPEC 6).

A period's figures are the sums of its days' tallies, so new data for one day re-tallies that
day only. Days are given as n + 1 boundaries; counted time C must lie within them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.scoring.intervals import Intervals, contains, cumulative_measure


@dataclass(frozen=True, eq=False)
class DayTallies:
    """Per-day sums; arrays of length n (one per day)."""

    up_s: np.ndarray
    down_s: np.ndarray
    counted_s: np.ndarray
    good: np.ndarray
    total: np.ndarray

    @staticmethod
    def zeros(n: int) -> DayTallies:
        return DayTallies(*(np.zeros(n) for _ in range(5)))


def counted_per_day(counted: Intervals, bounds: np.ndarray) -> np.ndarray:
    return np.diff(cumulative_measure(counted, bounds))


def _day_index(bounds: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.searchsorted(bounds, t, side="right") - 1


def _per_day(bounds: np.ndarray, t: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum `weights` by the day that contains each instant `t` (instants outside are dropped)."""
    n = len(bounds) - 1
    index = _day_index(bounds, t)
    inside = (index >= 0) & (index < n)
    return np.bincount(index[inside], weights=weights[inside], minlength=n)[:n].astype(np.float64)


def hold_intervals(at_s: np.ndarray, staleness_s: float) -> np.ndarray:
    """Each `up` sample holds its value until the next sample or for `staleness_s`,
    whichever ends first."""
    following = np.append(at_s[1:], np.inf)
    held: np.ndarray = np.minimum(following, at_s + staleness_s)
    return held


@dataclass(frozen=True, eq=False)
class UpPieces:
    """An `up` series as runs of one state cut at day boundaries: what every objective's
    counted time is measured against, so objectives on one service under different calendars
    share it. Piece i lies inside day `day[i]`."""

    day: np.ndarray
    start: np.ndarray
    end: np.ndarray
    up: np.ndarray


def up_pieces(bounds: np.ndarray, at_s: np.ndarray, value: np.ndarray, staleness_s: float) -> UpPieces:
    """Consecutive samples of one state whose hold intervals touch are one run (a month of
    minute `up` samples is a few hundred runs): only runs are split at day boundaries and
    measured against C, which gives the same seconds as measuring every sample's hold."""
    if len(at_s) == 0:
        return UpPieces(*(np.empty(0, dtype=t) for t in (np.int64, np.float64, np.float64, bool)))
    starts, ends, is_up = _runs(at_s, hold_intervals(at_s, staleness_s), value == 1)
    owner, day, piece_start, piece_end = _split_at_days(bounds, starts, ends)
    return UpPieces(day, piece_start, piece_end, is_up[owner])


def tally_availability(
    counted: Intervals,
    bounds: np.ndarray,
    at_s: np.ndarray,
    value: np.ndarray,
    staleness_s: float,
    pieces: UpPieces | None = None,
) -> DayTallies:
    """Seconds up and down inside C per day. Pass every sample from first boundary − staleness
    on, so that a sample taken just before midnight carries into the day; `pieces`, when
    given, are `up_pieces` of the same series and days."""
    n = len(bounds) - 1
    pieces = pieces if pieces is not None else up_pieces(bounds, at_s, value, staleness_s)
    if len(pieces.day) == 0:
        return DayTallies(np.zeros(n), np.zeros(n), counted_per_day(counted, bounds), np.zeros(n), np.zeros(n))
    # F at the day boundaries and at every piece's start and end, in one call (per instant the
    # same values as three calls; a day's tally is a few pieces, so the calls cost the time)
    k = len(pieces.day)
    at = cumulative_measure(counted, np.concatenate((bounds, pieces.start, pieces.end)))
    counted_s = np.diff(at[: n + 1])
    measure = np.maximum(at[n + 1 + k :] - at[n + 1 : n + 1 + k], 0.0)
    up_s = np.bincount(pieces.day, weights=np.where(pieces.up, measure, 0.0), minlength=n)[:n]
    down_s = np.bincount(pieces.day, weights=np.where(pieces.up, 0.0, measure), minlength=n)[:n]
    return DayTallies(up_s, down_s, counted_s, np.zeros(n), np.zeros(n))


def _runs(starts: np.ndarray, ends: np.ndarray, is_up: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hold intervals merged where one ends exactly where the next of the same state starts."""
    new_run = np.empty(len(starts), dtype=bool)
    new_run[0] = True
    new_run[1:] = (is_up[1:] != is_up[:-1]) | (ends[:-1] != starts[1:])
    first = np.flatnonzero(new_run)
    last = np.append(first[1:], len(starts)) - 1
    return starts[first], ends[last], is_up[first]


def _split_at_days(
    bounds: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intervals cut at day boundaries: (owning interval, day, piece start, piece end) per
    piece, each piece inside one day (pieces outside every day are clipped to the first or
    last one and come out empty). np.minimum/np.maximum rather than np.clip: a third of the
    time on these small arrays."""
    n = len(bounds) - 1
    if n == 1:  # one day (the usual re-tally): every interval is its own piece, clipped to it
        return np.arange(len(starts)), np.zeros(len(starts), dtype=np.int64), np.maximum(starts, bounds[0]), np.minimum(ends, bounds[1])
    first_day = np.maximum(np.minimum(_day_index(bounds, starts), n - 1), 0)
    last_day = np.maximum(np.minimum(np.searchsorted(bounds, ends, side="left") - 1, n - 1), 0)
    pieces = np.maximum(last_day - first_day + 1, 1)
    owner = np.repeat(np.arange(len(starts)), pieces)
    day = np.repeat(first_day, pieces) + (np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces))
    return owner, day, np.maximum(starts[owner], bounds[day]), np.minimum(ends[owner], bounds[day + 1])


def good_before(value: np.ndarray, threshold_ms: float) -> np.ndarray:
    """Running count of good samples: element i is how many of the first i are at or under
    the threshold (length n + 1), shared by every objective on the series and threshold."""
    counts = np.zeros(len(value) + 1, dtype=np.int64)
    np.cumsum(value <= threshold_ms, out=counts[1:])
    return counts


def tally_latency(
    counted: Intervals,
    bounds: np.ndarray,
    at_s: np.ndarray,
    value: np.ndarray,
    threshold_ms: float,
    good_so_far: np.ndarray | None = None,
) -> DayTallies:
    """Samples whose timestamp lies in C; good when at or under the threshold.

    Counted by position: C's intervals, cut at day boundaries, are located in the sorted
    timestamps, and running counts of good samples (`good_before`, computed here unless
    given) give each piece's figures — one pass over the samples per objective, whatever C
    looks like."""
    n = len(bounds) - 1
    _, day, piece_start, piece_end = _split_at_days(bounds, counted.starts, counted.ends)
    first = np.searchsorted(at_s, piece_start, side="left")
    end = np.searchsorted(at_s, np.maximum(piece_end, piece_start), side="left")
    running = good_so_far if good_so_far is not None else good_before(value, threshold_ms)
    good = np.bincount(day, weights=(running[end] - running[first]).astype(np.float64), minlength=n)[:n]
    total = np.bincount(day, weights=(end - first).astype(np.float64), minlength=n)[:n]
    # counted seconds from the same pieces (no score reads them for latency: they are kept so
    # that a sheet shows time gone by)
    counted_s = np.bincount(day, weights=np.maximum(piece_end - piece_start, 0.0), minlength=n)[:n]
    return DayTallies(np.zeros(n), np.zeros(n), counted_s, good, total)


def tally_events(
    counted: Intervals,
    bounds: np.ndarray,
    good_at_s: np.ndarray,
    good_value: np.ndarray,
    total_at_s: np.ndarray,
    total_value: np.ndarray,
) -> DayTallies:
    """Σgood and Σtotal over the timestamps in C that have both a `good` and a `total`
    sample (SPEC 6): a count whose partner is missing says nothing about a share of events,
    so a `good` without its `total`, or a `total` without its `good`, counts for nothing."""
    n = len(bounds) - 1
    good_in = contains(counted, good_at_s) & np.isin(good_at_s, total_at_s)
    total_in = contains(counted, total_at_s) & np.isin(total_at_s, good_at_s)
    good = _per_day(bounds, good_at_s[good_in], good_value[good_in])
    total = _per_day(bounds, total_at_s[total_in], total_value[total_in])
    return DayTallies(np.zeros(n), np.zeros(n), counted_per_day(counted, bounds), good, total)

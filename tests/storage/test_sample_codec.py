"""The compact block of one series' day gives back exactly what it was given, and is small for
the data sla-worker sees most (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.storage import sample_codec as codec

DAY0 = 20_500 * codec.DAY_MS  # 2026-02-16T00:00Z
MINUTE = 60_000


def _roundtrip(at_ms: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return codec.decode(codec.encode(at_ms, values))


@given(
    st.lists(st.integers(0, codec.DAY_MS - 1), min_size=1, max_size=300, unique=True),
    st.data(),
)
@settings(max_examples=400, deadline=None)
def test_any_day_of_finite_values_comes_back_bit_for_bit(instants: list[int], data: st.DataObject) -> None:
    values = data.draw(
        st.lists(
            st.one_of(
                st.floats(allow_nan=False, allow_infinity=False),
                st.integers(-(2**40), 2**40).map(float),
                st.integers(-10**7, 10**7).map(lambda i: i / 1000),
                st.sampled_from([0.0, 1.0]),
            ),
            min_size=len(instants),
            max_size=len(instants),
        )
    )
    at_ms = DAY0 + np.array(sorted(instants), dtype=np.int64)
    got_at, got_values = _roundtrip(at_ms, np.array(values, dtype=np.float64))
    assert got_at.dtype == np.int64 and got_values.dtype == np.float64
    assert got_at.tolist() == at_ms.tolist()
    assert got_values.tolist() == np.array(values, dtype=np.float64).tolist()


@pytest.mark.parametrize(
    ("name", "values", "most_bytes_per_sample"),
    [
        ("up, all day", np.ones(1440), 0.05),
        ("up, with a few outages", np.where(np.arange(1440) % 400 < 3, 0.0, 1.0), 0.1),
        ("latency in whole ms", np.random.default_rng(1).lognormal(5.5, 0.6, 1440).astype(int).astype(float), 2.05),
        ("latency to 0.1 ms", np.round(np.random.default_rng(2).lognormal(5.5, 0.6, 1440), 1), 4.05),
        ("event counts", np.random.default_rng(3).integers(0, 20_000, 1440).astype(float), 2.05),
    ],
)
def test_a_minute_series_day_is_small(name: str, values: np.ndarray, most_bytes_per_sample: float) -> None:
    at_ms = DAY0 + np.arange(1440, dtype=np.int64) * MINUTE
    block = codec.encode(at_ms, values)
    assert len(block) / 1440 <= most_bytes_per_sample, name
    assert _roundtrip(at_ms, values)[1].tolist() == values.tolist()


def test_jittered_instants_cost_two_bytes_each_and_come_back_exactly() -> None:
    at_ms = DAY0 + np.arange(1440, dtype=np.int64) * MINUTE + np.random.default_rng(4).integers(0, 900, 1440)
    block = codec.encode(at_ms, np.ones(1440))
    assert len(block) <= 2 * 1440 + 64
    assert codec.decode(block)[0].tolist() == at_ms.tolist()


def test_measured_values_with_many_digits_are_kept_exactly() -> None:
    values = np.random.default_rng(5).random(1440) * 1000
    at_ms = DAY0 + np.arange(1440, dtype=np.int64) * MINUTE
    assert _roundtrip(at_ms, values)[1].tolist() == values.tolist()


def test_a_merge_keeps_both_sides_and_the_new_value_wins_at_a_shared_instant() -> None:
    old = (np.array([1, 3, 5], dtype=np.int64), np.array([1.0, 1.0, 1.0]))
    new = (np.array([2, 3, 6], dtype=np.int64), np.array([0.0, 0.0, 0.0]))
    at_ms, values = codec.merge(old, new)
    assert at_ms.tolist() == [1, 2, 3, 5, 6]
    assert values.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]


def test_a_block_of_an_unknown_version_is_refused_with_the_reason() -> None:
    block = bytearray(codec.encode(np.array([DAY0]), np.array([1.0])))
    block[0] = 99
    with pytest.raises(ValueError, match="version 99"):
        codec.decode(bytes(block))

"""Samples: upsert, dedupe and exact read-back, on every engine in use."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from worker.domain.errors import InvalidValue
from worker.storage import samples as storage
from worker.storage.samples import (
    SIGNAL_CODES,
    load_samples,
    load_service_samples,
    sample_count,
    service_keys,
    store_samples,
)

UP = SIGNAL_CODES["up"]
LATENCY = SIGNAL_CODES["latency_ms"]
T0 = 1_790_000_000_000  # 2026-09-21T13:33:20Z in epoch ms
EVERYTHING = (0, 2**62)


def _store(engine: Engine, keys, signals, ats, values) -> int:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return store_samples(conn, np.asarray(keys), np.asarray(signals), np.asarray(ats), np.asarray(values, float))


def _load(engine: Engine, key: int, signal: int, start_ms: int = EVERYTHING[0], end_ms: int = EVERYTHING[1]):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return load_samples(conn, key, signal, start_ms, end_ms)


def test_service_keys_are_registered_once_and_stay_the_same(engine: Engine) -> None:
    with engine.begin() as conn:
        first = service_keys(conn, ["epr", "pacs", "epr"])
    with engine.begin() as conn:
        second = service_keys(conn, ["pacs", "email", "epr"])
        assert storage.service_ids(conn) == {key: sid for sid, key in second.items()}
    assert set(first) == {"epr", "pacs"}
    assert second["epr"] == first["epr"] and second["pacs"] == first["pacs"]
    assert len(set(second.values())) == 3


def test_same_sample_ingested_twice_is_stored_once_with_the_later_value(engine: Engine) -> None:
    assert _store(engine, [1, 1], [UP, UP], [T0, T0 + 60_000], [1, 1]) == 2
    assert _store(engine, [1], [UP], [T0], [0]) == 1
    at_ms, value = _load(engine, 1, UP)
    assert at_ms.tolist() == [T0, T0 + 60_000]
    assert value.tolist() == [0.0, 1.0]
    with engine.connect() as conn:
        assert sample_count(conn) == 2


def test_within_one_batch_the_later_element_wins(engine: Engine) -> None:
    written = _store(engine, [1, 1, 1, 2, 1], [UP, UP, UP, UP, UP], [T0 + 5, T0, T0 + 5, T0, T0], [1, 2, 3, 4, 5])
    assert written == 3
    at_ms, value = _load(engine, 1, UP)
    assert at_ms.tolist() == [T0, T0 + 5]
    assert value.tolist() == [5.0, 3.0]
    assert _load(engine, 2, UP)[1].tolist() == [4.0]


def test_the_same_batch_stored_twice_changes_nothing(engine: Engine) -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    keys = rng.integers(1, 4, n)
    signals = rng.integers(0, 4, n)
    ats = T0 + rng.integers(0, 2_000, n) * 1_000
    values = rng.normal(size=n)
    first = _store(engine, keys, signals, ats, values)
    second = _store(engine, keys, signals, ats, values)
    assert first == second
    with engine.connect() as conn:
        assert sample_count(conn) == first


def test_samples_read_back_exactly_sorted_by_time(engine: Engine) -> None:
    rng = np.random.default_rng(42)
    n = 20_000
    ats = T0 + np.arange(n, dtype=np.int64) * 997
    values = rng.normal(scale=1e6, size=n)
    # (not -0.0: SQLite stores integral reals as integers and drops the sign of zero)
    values[:6] = [0.0, 0.1, 1 / 3, 1e-300, 1.7976931348623157e308, 2.0**53 + 2]
    order = rng.permutation(n)  # stored in random order
    _store(engine, np.full(n, 3), np.full(n, LATENCY), ats[order], values[order])
    at_ms, value = _load(engine, 3, LATENCY)
    assert at_ms.dtype == np.int64 and value.dtype == np.float64
    assert np.array_equal(at_ms, ats)
    assert np.array_equal(value.view(np.int64), values.view(np.int64))  # bit for bit


def test_loading_is_half_open_and_per_series(engine: Engine) -> None:
    _store(
        engine,
        [1, 1, 1, 1, 2, 1],
        [UP, UP, UP, UP, UP, LATENCY],
        [T0 - 1, T0, T0 + 999, T0 + 1_000, T0 + 500, T0 + 500],
        [1, 2, 3, 4, 5, 6],
    )
    at_ms, value = _load(engine, 1, UP, T0, T0 + 1_000)
    assert at_ms.tolist() == [T0, T0 + 999]
    assert value.tolist() == [2.0, 3.0]


def test_an_empty_range_gives_empty_arrays(engine: Engine) -> None:
    at_ms, value = _load(engine, 9, UP)
    assert at_ms.dtype == np.int64 and value.dtype == np.float64
    assert len(at_ms) == len(value) == 0


def test_bulk_load_returns_every_series_asked_for(engine: Engine) -> None:
    _store(engine, [1, 1, 2], [UP, LATENCY, UP], [T0, T0, T0 + 1], [1, 250, 0])
    with engine.connect() as conn:
        series = load_service_samples(conn, [1, 2, 3], [UP, LATENCY], T0, T0 + 10)
    assert set(series) == {(k, s) for k in (1, 2, 3) for s in (UP, LATENCY)}
    assert series[(1, LATENCY)][1].tolist() == [250.0]
    assert series[(2, UP)][0].tolist() == [T0 + 1]
    assert len(series[(3, UP)][0]) == 0


def test_a_batch_overlapping_stored_samples_updates_and_adds(engine: Engine) -> None:
    _store(engine, [1] * 3, [UP] * 3, [T0, T0 + 2, T0 + 4], [1, 1, 1])
    _store(engine, [1] * 4, [UP] * 4, [T0 + 1, T0 + 2, T0 + 3, T0 + 4], [0, 0, 0, 1])
    at_ms, value = _load(engine, 1, UP)
    assert at_ms.tolist() == [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]
    assert value.tolist() == [1, 0, 0, 0, 1]


def test_several_batches_in_one_transaction(engine: Engine) -> None:
    with engine.begin() as conn:
        store_samples(conn, np.array([1, 1]), np.array([UP, UP]), np.array([T0, T0 + 1]), np.array([1.0, 1.0]))
        store_samples(conn, np.array([1, 1]), np.array([UP, UP]), np.array([T0 + 1, T0 + 2]), np.array([0.0, 0.0]))
        store_samples(conn, np.array([1]), np.array([UP]), np.array([T0]), np.array([0.5]))
    assert _load(engine, 1, UP)[1].tolist() == [0.5, 0.0, 0.0]


def test_a_rolled_back_transaction_stores_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        store_samples(conn, np.array([1]), np.array([UP]), np.array([T0]), np.array([1.0]))
        raise RuntimeError("crash mid-file")
    assert len(_load(engine, 1, UP)[0]) == 0


def test_storing_without_an_explicit_transaction_begins_one_for_the_caller_to_commit(engine: Engine) -> None:
    with engine.connect() as conn:
        store_samples(conn, np.array([1]), np.array([UP]), np.array([T0]), np.array([1.0]))
        conn.commit()
    assert _load(engine, 1, UP)[1].tolist() == [1.0]


def _store_in_thread(engine: Engine, ats: list[int], value: float) -> threading.Thread:
    thread = threading.Thread(target=_store, args=(engine, [1] * len(ats), [UP] * len(ats), ats, [value] * len(ats)))
    thread.start()
    return thread


def _waiting_for_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).scalar())


@pytest.mark.parametrize("stored_before", [False, True], ids=["new-day", "stored-day"])
def test_two_writers_of_one_day_at_the_same_time_keep_each_others_samples(engine: Engine, stored_before: bool) -> None:
    if not storage.is_postgresql(engine):
        pytest.skip("SQLite lets one writer in at a time (BEGIN IMMEDIATE): no two writers overlap")
    if stored_before:
        _store(engine, [1], [UP], [T0 - 60_000], [1])
    with engine.begin() as first:
        store_samples(first, np.array([1, 1]), np.array([UP, UP]), np.array([T0, T0 + 60_000]), np.array([0.0, 0.0]))
        second = _store_in_thread(engine, [T0 + 60_000, T0 + 120_000], 1.0)  # overlaps the first at T0 + 60 s
        deadline = time.monotonic() + 60
        while not _waiting_for_a_lock(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_for_a_lock(engine), "the second writer waits for the first to commit"
    second.join(60)
    at_ms, value = _load(engine, 1, UP)
    before = [T0 - 60_000] if stored_before else []
    assert at_ms.tolist() == before + [T0, T0 + 60_000, T0 + 120_000]
    assert value.tolist() == [1.0] * len(before) + [0.0, 1.0, 1.0]  # the later writer wins at T0 + 60 s


def test_no_samples_is_nothing_to_do(engine: Engine) -> None:
    assert _store(engine, [], [], [], []) == 0


@pytest.mark.parametrize(
    ("keys", "signals", "ats", "values", "message"),
    [
        ([1, 1], [UP], [T0, T0], [1, 1], "one length"),
        ([1], [UP], [T0], [float("nan")], "finite"),
        ([1], [UP], [T0], [float("inf")], "finite"),
        ([1], [7], [T0], [1], "signal"),
        ([0], [UP], [T0], [1], "service_key"),
        ([1], [UP], [1.5], [1], "integer"),
    ],
)
def test_malformed_batches_are_refused_whole(engine: Engine, keys, signals, ats, values, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((ValueError, InvalidValue), match=message):
        _store(engine, keys, signals, ats, values)


@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.integers(0, 3), st.integers(0, 6), st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=60,
    )
)
@settings(max_examples=300, deadline=None)
def test_batch_dedupe_keeps_the_last_element_of_each_key_sorted(batch: list[tuple[int, int, int, float]]) -> None:
    expected: dict[tuple[int, int, int], float] = {}
    for key, signal, at_ms, value in batch:
        expected[(key, signal, at_ms)] = value
    keys, signals, ats, values = storage._dedupe_sorted(
        np.array([row[0] for row in batch], dtype=np.int32),
        np.array([row[1] for row in batch], dtype=np.int16),
        np.array([row[2] for row in batch], dtype=np.int64),
        np.array([row[3] for row in batch], dtype=np.float64),
    )
    got = {(int(k), int(s), int(t)): float(v) for k, s, t, v in zip(keys, signals, ats, values)}
    assert got == expected
    assert [(int(k), int(s), int(t)) for k, s, t in zip(keys, signals, ats)] == sorted(expected)


def test_many_overlapping_batches_match_a_dictionary_that_keeps_the_last_value(engine: Engine) -> None:
    rng = np.random.default_rng(2026)
    expected: dict[tuple[int, int, int], float] = {}
    for _ in range(6):
        n = int(rng.integers(1, 3_000))
        keys = rng.integers(1, 4, n)
        signals = rng.integers(0, 4, n)
        ats = T0 + rng.integers(0, 1_500, n) * 60_000
        values = rng.integers(0, 1_000, n).astype(float)
        for k, s, t, v in zip(keys.tolist(), signals.tolist(), ats.tolist(), values.tolist()):
            expected[(k, s, t)] = v
        _store(engine, keys, signals, ats, values)
    with engine.connect() as conn:
        series = load_service_samples(conn, [1, 2, 3], [0, 1, 2, 3], *EVERYTHING)
    got = {(k, s, int(t)): float(v) for (k, s), (ats_, vals) in series.items() for t, v in zip(ats_, vals)}
    assert got == expected


def test_the_oldest_sample_is_found_across_series(engine: Engine) -> None:
    with engine.connect() as conn:
        assert storage.first_sample_s(conn) is None
    with engine.begin() as conn:
        keys = service_keys(conn, ["epr", "pacs"])
        store_samples(
            conn,
            np.array([keys["epr"], keys["pacs"], keys["pacs"]]),
            np.array([UP, LATENCY, UP]),
            np.array([T0, T0 - 61_500, T0 + 5]),
            np.array([1.0, 1.0, 1.0]),
        )
    with engine.connect() as conn:
        assert storage.first_sample_s(conn) == (T0 - 61_500) / 1000

"""Tallies: additive per-day partial scores, on every engine in use."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine

from worker.storage.tallies import (
    TallyRow,
    delete_tallies,
    load_tallies,
    upsert_tallies,
)

COMPUTED = datetime(2026, 11, 1, tzinfo=timezone.utc)


def row(objective: str, day: date, **values) -> TallyRow:  # type: ignore[no-untyped-def]
    return TallyRow(agreement="core-2026", objective=objective, day=day, basis="b1", **values)


def test_tallies_are_upserted_per_day_and_loaded_in_order(engine: Engine) -> None:
    first = [
        row("epr-availability", date(2026, 10, d), up_s=86000.0, down_s=400.0, counted_s=86400.0) for d in (2, 1, 3)
    ]
    with engine.begin() as conn:
        assert upsert_tallies(conn, first, COMPUTED) == 3
    again = replace(first[0], basis="b2", up_s=86400.0, down_s=0.0)
    with engine.begin() as conn:
        upsert_tallies(conn, [again, row("epr-latency", date(2026, 10, 2), good=95.0, total=100.0)], COMPUTED)
    with engine.connect() as conn:
        loaded = load_tallies(conn, "core-2026", None, date(2026, 10, 1), date(2026, 10, 31))
        assert [(r.objective, r.day) for r in loaded] == [
            ("epr-availability", date(2026, 10, 1)),
            ("epr-availability", date(2026, 10, 2)),
            ("epr-availability", date(2026, 10, 3)),
            ("epr-latency", date(2026, 10, 2)),
        ]
        assert loaded[1] == again
        assert load_tallies(conn, "core-2026", ["epr-latency"], date(2026, 10, 1), date(2026, 10, 1)) == []
        assert load_tallies(conn, "core-2026", ["epr-latency"], date(2026, 10, 2), date(2026, 10, 2))[0].good == 95.0
        assert load_tallies(conn, "other", None, date(2026, 1, 1), date(2027, 1, 1)) == []
        assert load_tallies(conn, "core-2026", [], date(2026, 1, 1), date(2027, 1, 1)) == []


def test_deleting_tallies_is_limited_to_the_objective_and_days_given(engine: Engine) -> None:
    rows = [row(o, date(2026, 10, d)) for o in ("a", "b") for d in range(1, 11)]
    with engine.begin() as conn:
        upsert_tallies(conn, rows, COMPUTED)
        assert delete_tallies(conn, "core-2026", "a", date(2026, 10, 3), date(2026, 10, 5)) == 3
        assert delete_tallies(conn, "core-2026", None, date(2026, 10, 10), date(2026, 10, 31)) == 2
    with engine.connect() as conn:
        left = load_tallies(conn, "core-2026", None, date(2026, 10, 1), date(2026, 10, 31))
    assert [(r.objective, r.day.day) for r in left] == [("a", d) for d in (1, 2, 6, 7, 8, 9)] + [
        ("b", d) for d in range(1, 10)
    ]


def test_eighty_thousand_tallies_store_and_load_in_seconds(engine: Engine) -> None:
    start = date(2025, 10, 1)
    rows = [
        row(f"objective-{o:03d}", start + timedelta(days=d), up_s=float(d), counted_s=86400.0)
        for o in range(200)
        for d in range(400)
    ]
    began = time.perf_counter()
    with engine.begin() as conn:
        assert upsert_tallies(conn, rows, COMPUTED) == 80_000
    with engine.begin() as conn:
        upsert_tallies(conn, rows, COMPUTED)
    with engine.connect() as conn:
        loaded = load_tallies(conn, "core-2026", None, start, start + timedelta(days=399))
    elapsed = time.perf_counter() - began
    assert loaded == sorted(rows, key=lambda r: (r.objective, r.day))
    assert elapsed < 60, f"80,000 tallies took {elapsed:.1f}s"

"""Tally sheets: per-day partial scores packed per objective and period, on every engine."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import Engine

from worker.storage.tallies import TallySheet, load_sheets, load_stored, upsert_sheets

COMPUTED = datetime(2026, 11, 1, tzinfo=timezone.utc)


def sheet(objective: str, basis: str = "b1", period: str = "2026-10") -> TallySheet:
    s = TallySheet.blank("core-2026", objective, period, basis, 31)
    s.tallied[[0, 5]] = True
    s.sums[0, 0], s.sums[2, 0], s.sums[4, 5] = 86000.5, 86400.0, 1e-300
    return s


def test_a_sheet_round_trips_every_day_exactly(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_sheets(conn, [sheet("epr-availability")], COMPUTED)
    with engine.connect() as conn:
        loaded = load_sheets(conn, "2026-10", [("core-2026", "epr-availability")])[("core-2026", "epr-availability")]
    assert loaded.basis == "b1"
    assert loaded.tallied.tolist() == sheet("x").tallied.tolist()
    assert np.array_equal(loaded.sums, sheet("x").sums)


def test_storing_a_sheet_again_replaces_it_and_never_duplicates(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_sheets(conn, [sheet("a"), sheet("b")], COMPUTED)
    replaced = sheet("a", basis="b2")
    replaced.sums[1, 30] = 7.0
    with engine.begin() as conn:
        upsert_sheets(conn, [replaced], COMPUTED)
    with engine.connect() as conn:
        loaded = load_sheets(conn, "2026-10", [("core-2026", "a"), ("core-2026", "b"), ("core-2026", "c")])
    assert sorted(loaded) == [("core-2026", "a"), ("core-2026", "b")]
    assert loaded[("core-2026", "a")].basis == "b2" and loaded[("core-2026", "a")].sums[1, 30] == 7.0


def test_sheets_are_loaded_for_one_period_and_the_keys_asked_for(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_sheets(conn, [sheet("a"), sheet("b"), sheet("a", period="2026-11")], COMPUTED)
    with engine.connect() as conn:
        assert list(load_sheets(conn, "2026-10", [("core-2026", "b")])) == [("core-2026", "b")]
        assert load_sheets(conn, "2026-10", []) == {}
        assert list(load_sheets(conn, "2026-11", [("core-2026", "a"), ("core-2026", "b")])) == [("core-2026", "a")]


def test_sheets_of_different_lengths_load_together_each_with_its_own_days(engine: Engine) -> None:
    short = TallySheet.blank("core-2026", "short", "2026-10", "b1", 3)
    short.tallied[:] = [True, False, True]
    short.sums[:, 2] = [1.0, 2.0, 3.0, 4.0, 5.0]
    with engine.begin() as conn:
        upsert_sheets(conn, [sheet("a"), short, sheet("b")], COMPUTED)
    with engine.connect() as conn:
        loaded = load_sheets(conn, "2026-10", [("core-2026", k) for k in ("a", "short", "b")])
    assert loaded[("core-2026", "short")].tallied.tolist() == [True, False, True]
    assert np.array_equal(loaded[("core-2026", "short")].sums, short.sums)
    assert all(np.array_equal(loaded[("core-2026", k)].sums, sheet(k).sums) for k in ("a", "b"))


def test_keys_with_quotes_backslashes_commas_and_braces_find_their_sheets(engine: Engine) -> None:
    awkward = ['say "hi"', "back\\slash", "a,b", "{braced}", "NULL", "", "é ü ✓"]
    with engine.begin() as conn:
        upsert_sheets(conn, [sheet(objective) for objective in [*awkward, "other"]], COMPUTED)
    with engine.connect() as conn:
        loaded = load_sheets(conn, "2026-10", [("core-2026", objective) for objective in awkward])
    assert sorted(loaded) == sorted(("core-2026", objective) for objective in awkward)


def test_what_planning_needs_of_a_sheet_comes_back_for_more_keys_than_sqlite_takes_parameters(engine: Engine) -> None:
    written = COMPUTED + timedelta(microseconds=123_457)
    with engine.begin() as conn:
        upsert_sheets(conn, [sheet("epr-availability")], written)
    asked = [("core-2026", f"absent-{i}") for i in range(20_000)] + [("core-2026", "epr-availability")]
    with engine.connect() as conn:
        found = load_stored(conn, "2026-10", asked)
    assert list(found) == [("core-2026", "epr-availability")]
    head = found[("core-2026", "epr-availability")]
    assert head.basis == "b1" and [i for i, done in enumerate(head.tallied) if done] == [0, 5]
    assert written.timestamp() - 2e-6 < head.written_s < written.timestamp()  # to the microsecond, never later

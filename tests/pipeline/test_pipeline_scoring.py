"""Scoring through the database: incremental runs equal a run from scratch, repeats change
nothing, and pending work survives until a run completes."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.scoring.calendars import open_intervals
from worker.storage.coordination import acquire_lease, pending_count, release_lease
from worker.storage.engine import read_only
from worker.storage.results import result_computed_at
from worker.usecases.ingest import ingest
from worker.usecases.results import read_results
from worker.usecases.score import score_pending, score_period

CASE = Path(__file__).resolve().parents[1] / "golden" / "trust-2026-10"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
GRACE_S = 6 * 3600.0


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(CASE / "config")


def as_json(results) -> list[dict]:
    return [r.as_json() for r in results]


def assert_same(got: list[dict], expected: list[dict]) -> None:
    assert [(r["agreement"], r["customer"], r["objective"]) for r in got] == [
        (r["agreement"], r["customer"], r["objective"]) for r in expected
    ]
    for g, e in zip(got, expected):
        for key, value in e.items():
            if isinstance(value, float) and g[key] is not None:
                assert math.isclose(g[key], value, rel_tol=1e-9, abs_tol=1e-6), (e["objective"], key)
            else:
                assert g[key] == value, (e["objective"], key)


def sample_pieces(count: int) -> list[bytes]:
    """The golden samples split into `count` files, in time order."""
    header, *rows = (CASE / "samples.csv").read_bytes().splitlines(keepends=True)
    rows.sort(key=lambda r: r.split(b",", 1)[0])
    size = math.ceil(len(rows) / count)
    return [header + b"".join(rows[i : i + size]) for i in range(0, len(rows), size)]


def test_scoring_after_each_new_file_ends_equal_to_scoring_from_scratch(engine: Engine, catalogue):
    for kind in ("incidents", "maintenance"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), NOW)
    for piece in sample_pieces(5):
        ingest(engine, catalogue, "samples", piece, NOW)
        score_pending(engine, catalogue, NOW, GRACE_S)
    incremental = as_json(read_results(engine, "2026-10"))
    expected = json.loads((CASE / "expected" / "2026-10.json").read_text())
    assert_same(incremental, expected)
    assert_same(as_json(score_period(engine, catalogue, "2026-10", NOW, GRACE_S)), incremental)


def test_scoring_the_same_inputs_twice_gives_identical_results(engine: Engine, catalogue):
    for kind in ("samples", "incidents", "maintenance"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), NOW)
    first = as_json(score_period(engine, catalogue, "2026-10", NOW, GRACE_S))
    second = as_json(score_period(engine, catalogue, "2026-10", NOW, GRACE_S))
    assert first == second == as_json(read_results(engine, "2026-10"))


def test_pending_changes_stay_until_a_scoring_run_has_committed(engine: Engine, catalogue):
    ingest(engine, catalogue, "incidents", (CASE / "incidents.csv").read_bytes(), NOW)
    with read_only(engine) as conn:
        assert pending_count(conn) > 0
    broken = load_catalogue(CASE / "config")
    broken.services.clear()  # scoring now fails half-way through
    with pytest.raises(KeyError):
        score_pending(engine, broken, NOW, GRACE_S)
    with read_only(engine) as conn:
        assert pending_count(conn) > 0
    assert read_results(engine, "2026-10") == []
    assert score_pending(engine, catalogue, NOW, GRACE_S)
    with read_only(engine) as conn:
        assert pending_count(conn) == 0
    assert score_pending(engine, catalogue, NOW, GRACE_S) == []


def test_results_are_final_only_once_the_late_data_grace_has_passed(engine: Engine, catalogue):
    ingest(engine, catalogue, "samples", (CASE / "samples.csv").read_bytes(), NOW)
    end = datetime(2026, 11, 1, tzinfo=timezone.utc)
    early = score_period(engine, catalogue, "2026-10", end + timedelta(hours=5, minutes=59), GRACE_S)
    late = score_period(engine, catalogue, "2026-10", end + timedelta(hours=6), GRACE_S)
    assert not any(r.final for r in early) and all(r.final for r in late)


def test_a_lease_is_held_by_one_holder_until_it_expires(engine: Engine):
    with engine.begin() as conn:
        assert acquire_lease(conn, "beat", "a", NOW, ttl_s=60)
        assert not acquire_lease(conn, "beat", "b", NOW + timedelta(seconds=59), ttl_s=60)
        assert acquire_lease(conn, "beat", "a", NOW + timedelta(seconds=59), ttl_s=60)  # renewed
        assert not acquire_lease(conn, "beat", "b", NOW + timedelta(seconds=118), ttl_s=60)
        assert acquire_lease(conn, "beat", "b", NOW + timedelta(seconds=120), ttl_s=60)
        release_lease(conn, "beat", "b")
        assert acquire_lease(conn, "beat", "a", NOW + timedelta(seconds=121), ttl_s=60)


def test_a_running_period_is_scored_to_date_so_time_still_to_come_is_not_counted_as_down(engine: Engine, catalogue):
    ingest(engine, catalogue, "samples", (CASE / "samples.csv").read_bytes(), NOW)
    mid_month = datetime(2026, 10, 15, 12, 0, tzinfo=timezone.utc)
    results = score_period(engine, catalogue, "2026-10", mid_month, GRACE_S)
    pacs = next(r for r in results if r.objective == "pacs-availability" and r.customer == "acute")
    start = datetime(2026, 9, 30, 23, 0, tzinfo=timezone.utc).timestamp()
    office_so_far = open_intervals(catalogue.calendars["office"], start, mid_month.timestamp()).measure
    assert pacs.total == office_so_far  # missing_data: down, yet the rest of October is not "down"
    assert not pacs.final
    later = datetime(2026, 10, 16, 12, 0, tzinfo=timezone.utc)
    ingest(engine, catalogue, "samples", b"timestamp,service,signal,value\n", later)
    again = {r.objective: r for r in score_pending(engine, catalogue, later, GRACE_S) if r.customer == "acute" and r.period == "2026-10"}
    assert again["pacs-availability"].total == open_intervals(catalogue.calendars["office"], start, later.timestamp()).measure


def test_scoring_as_samples_arrive_through_the_month_ends_equal_to_scoring_from_scratch_at_that_moment(engine: Engine, catalogue):
    """Each run is at the moment its samples arrived, so office-hours objectives are left as
    stored overnight; what they kept is what a run from scratch finds."""
    for kind in ("incidents", "maintenance"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), NOW)
    header, *rows = (CASE / "samples.csv").read_bytes().splitlines(keepends=True)
    rows.sort(key=lambda r: r.split(b",", 1)[0])
    until = datetime(2026, 10, 23, 21, 30, tzinfo=timezone.utc)  # a Friday night, the month running
    stamps = [datetime.fromisoformat(r.split(b",", 1)[0].decode().replace("Z", "+00:00")) for r in rows]
    hourly = [i for i in range(1, len(rows)) if stamps[i].hour != stamps[i - 1].hour and stamps[i] <= until]
    arrived = datetime(2026, 9, 30, 23, 0, tzinfo=timezone.utc)
    for first, last in zip([0, *hourly[::37]], [*hourly[::37], next(i for i, t in enumerate(stamps) if t > until)]):
        arrived = stamps[last - 1] + timedelta(minutes=1)
        ingest(engine, catalogue, "samples", header + b"".join(rows[first:last]), arrived)
        score_pending(engine, catalogue, arrived, GRACE_S)
    assert_same(as_json(read_results(engine, "2026-10")), as_json(score_period(engine, catalogue, "2026-10", arrived, GRACE_S)))
    # Saturday noon, each service's last sample sent again: 24x7 time has gone by, office hours' has not
    later = arrived + timedelta(hours=14)
    again = {r.split(b",")[1]: r for r, t in zip(rows, stamps) if t <= until}
    ingest(engine, catalogue, "samples", header + b"".join(again.values()), later)
    score_pending(engine, catalogue, later, GRACE_S)
    services = {name.decode() for name in again}
    assert_same(
        [r for r in as_json(read_results(engine, "2026-10")) if r["service"] in services],
        [r for r in as_json(score_period(engine, catalogue, "2026-10", later, GRACE_S)) if r["service"] in services],
    )


def test_late_samples_outside_an_objectives_counted_time_leave_its_results_as_stored(engine: Engine, catalogue):
    for kind in ("samples", "incidents", "maintenance"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), NOW)
    score_pending(engine, catalogue, NOW, GRACE_S)
    with read_only(engine) as conn:
        before = result_computed_at(conn, "2026-10")
    later = NOW + timedelta(minutes=5)
    # EPR down at 03:00 on a Saturday: in epr-availability's 24x7 hours, not in epr-latency's office hours
    ingest(engine, catalogue, "samples", b"timestamp,service,signal,value\n2026-10-10T03:00:30Z,epr,up,0\n", later)
    rescored = {r.objective for r in score_pending(engine, catalogue, later, GRACE_S)}
    with read_only(engine) as conn:
        after = result_computed_at(conn, "2026-10")
    assert "epr-availability" in rescored and "epr-latency" not in rescored
    assert after[("core-2026", "acute", "epr-availability")] > before[("core-2026", "acute", "epr-availability")]
    assert after[("core-2026", "acute", "epr-latency")] == before[("core-2026", "acute", "epr-latency")]
    assert_same(as_json(read_results(engine, "2026-10")), as_json(score_period(engine, catalogue, "2026-10", later, GRACE_S)))


def test_a_late_sample_after_the_grace_makes_its_services_results_final_even_those_it_cannot_move(engine: Engine, catalogue):
    end = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for kind in ("samples", "incidents", "maintenance"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), end + timedelta(hours=1))
    score_pending(engine, catalogue, end + timedelta(hours=1), GRACE_S)
    late = end + timedelta(hours=7)
    ingest(engine, catalogue, "samples", b"timestamp,service,signal,value\n2026-10-10T03:00:30Z,epr,up,0\n", late)
    score_pending(engine, catalogue, late, GRACE_S)
    epr = [r for r in read_results(engine, "2026-10") if r.service == "epr"]
    assert {r.objective for r in epr} == {"epr-availability", "epr-latency"}
    assert all(r.final for r in epr)

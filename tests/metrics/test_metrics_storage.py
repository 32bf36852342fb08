"""What the metrics endpoint reads, stored on every engine: task-duration buckets (no lost
increment when processes record at once), burn rates, the source failure total."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert

from worker.storage.burn_rates import StoredBurnRate, burn_rate_values, load_burn_rates, upsert_burn_rates
from worker.storage.engine import read_only
from worker.storage.tables import task_durations
from worker.storage.task_durations import BUCKETS, bucket_of, load_histograms, record_duration
from worker.storage.watermarks import Progress, get_watermark, record_failure, record_success

T = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("seconds", "le"),
    [(0.0, "0.01"), (0.01, "0.01"), (0.010001, "0.05"), (1.0, "1.0"), (599.9, "600.0"), (600.0, "600.0"), (601.0, "+Inf")],
)
def test_a_run_falls_in_the_smallest_bucket_whose_bound_it_does_not_exceed(seconds, le):
    assert bucket_of(seconds) == le


def test_recorded_durations_come_back_as_cumulative_buckets_with_count_and_sum(engine: Engine):
    with engine.begin() as conn:
        for seconds in (0.2, 0.2, 3.0, 900.0):
            record_duration(conn, "sla.collect", seconds)
    with read_only(engine) as conn:
        (histogram,) = load_histograms(conn)
    assert histogram.task == "sla.collect"
    assert [le for le, _ in histogram.buckets] == [repr(b) for b in BUCKETS] + ["+Inf"]
    cumulative = dict(histogram.buckets)
    assert (cumulative["0.1"], cumulative["0.25"], cumulative["2.5"], cumulative["5.0"], cumulative["600.0"]) == (0, 2, 2, 3, 3)
    assert cumulative["+Inf"] == histogram.count == 4
    assert histogram.sum_s == pytest.approx(903.4)
    assert all(a <= b for (_, a), (_, b) in zip(histogram.buckets, histogram.buckets[1:]))


def test_buckets_stored_under_bounds_no_longer_used_count_in_the_next_larger_one(engine: Engine):
    with engine.begin() as conn:
        conn.execute(insert(task_durations), [
            {"task": "sla.collect", "le": "0.3", "observations": 2, "seconds": 0.5},  # an old bound
            {"task": "sla.collect", "le": "9999.0", "observations": 1, "seconds": 9000.0},
        ])
    with read_only(engine) as conn:
        (histogram,) = load_histograms(conn)
    cumulative = dict(histogram.buckets)
    assert cumulative["0.25"] == 0 and cumulative["0.5"] == 2 and cumulative["600.0"] == 2 and cumulative["+Inf"] == 3


def test_processes_recording_at_the_same_time_lose_no_run(engine: Engine, database_url: str):
    code = (
        "import sys\n"
        "from worker.storage.engine import make_engine\n"
        "from worker.storage.task_durations import record_duration\n"
        "engine = make_engine(sys.argv[1])\n"
        "for i in range(40):\n"
        "    with engine.begin() as conn:\n"
        "        record_duration(conn, 'sla.score_pending', 0.25)\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", code, database_url]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0, 0]
    with read_only(engine) as conn:
        (histogram,) = load_histograms(conn)
    assert histogram.count == 160 and dict(histogram.buckets)["0.25"] == 160
    assert histogram.sum_s == pytest.approx(40.0)


def burn(window: str, rate: float | None, at: datetime = T) -> StoredBurnRate:
    return StoredBurnRate("core", "acute", "epr-availability", window, 1.0, 2.0, 3.0, rate, at)


def test_burn_rates_keep_no_data_and_infinity(engine: Engine):
    with engine.begin() as conn:
        upsert_burn_rates(conn, [burn("5m", None), burn("1h", math.inf), burn("3d", 0.25)])
    with read_only(engine) as conn:
        stored = {b.window: b for b in load_burn_rates(conn)}
        lean = burn_rate_values(conn)
    assert stored["5m"].burn_rate is None and stored["1h"].burn_rate == math.inf and stored["3d"].burn_rate == 0.25
    assert stored["3d"].computed_at == T and (stored["3d"].good, stored["3d"].bad, stored["3d"].total) == (1.0, 2.0, 3.0)
    assert sorted(lean) == [("core", "acute", "epr-availability", "1h", math.inf), ("core", "acute", "epr-availability", "3d", 0.25)]


def test_burn_rates_are_replaced_only_by_a_later_computation(engine: Engine):
    with engine.begin() as conn:
        upsert_burn_rates(conn, [burn("5m", 1.0, T)])
        upsert_burn_rates(conn, [burn("5m", 2.0, T - timedelta(minutes=5))])  # older: ignored
    with read_only(engine) as conn:
        assert load_burn_rates(conn)[0].burn_rate == 1.0
    with engine.begin() as conn:
        upsert_burn_rates(conn, [burn("5m", 3.0, T + timedelta(minutes=5))])
    with read_only(engine) as conn:
        assert load_burn_rates(conn)[0].burn_rate == 3.0


def test_a_source_failure_total_keeps_counting_across_successes(engine: Engine):
    with engine.begin() as conn:
        record_failure(conn, "prom", "epr/up", T, "timeout")
        record_failure(conn, "prom", "epr/up", T + timedelta(minutes=1), "timeout")
        record_success(conn, "prom", T + timedelta(minutes=2), [Progress("epr/up", "2026-10-20T12:02:00Z", stored=2)])
        record_failure(conn, "prom", "epr/up", T + timedelta(minutes=3), "timeout")
    with read_only(engine) as conn:
        mark = get_watermark(conn, "prom", "epr/up")
    assert mark is not None
    assert (mark.failures_total, mark.failures_in_row, mark.samples_stored) == (3, 1, 2)

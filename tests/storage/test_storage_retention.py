"""Sample retention (issue 15): old sample days are deleted in bounded batches, results and
tally sheets stay, and a period whose samples are gone is refused with one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import yaml
from sqlalchemy import Engine, func, select
from test_golden import sla_worker

from worker.storage import retention as retention_store
from worker.storage.engine import make_engine
from worker.storage.sample_codec import DAY_MS
from worker.storage.samples import load_samples, sample_count, store_samples
from worker.storage.tables import sample_days, tallies
from worker.usecases.retention import DEFAULT_RETENTION_S, apply_retention

CASE = Path(__file__).parents[1] / "golden" / "trust-2026-10"
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
DAY = 86_400


def _days(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [int(d) for d in conn.execute(select(sample_days.c.day).distinct().order_by(sample_days.c.day)).scalars()]


def test_days_older_than_the_retention_are_deleted_in_batches_and_newer_days_kept(engine: Engine) -> None:
    keep_s = 30 * DAY
    today = int(NOW.timestamp() * 1000) // DAY_MS
    at_ms = np.array([(today - age) * DAY_MS + 3_600_000 for age in range(40)], dtype=np.int64)
    with engine.begin() as conn:
        for key in (1, 2, 3):
            store_samples(conn, np.full(40, key), np.zeros(40, dtype=np.int16), at_ms, np.ones(40))
    run = apply_retention(engine, NOW, keep_s, batch=7)  # 3 series × 9 old days = 27 blocks: 4 batches
    # A day is deleted once it ended more than 30 days before now: 31 days ago and older.
    assert run.deleted_blocks == 27
    assert _days(engine) == list(range(today - 30, today + 1))
    assert run.before == datetime.fromtimestamp((today - 30) * DAY, UTC)
    with engine.connect() as conn:
        assert retention_store.deleted_before(conn) == run.before
        assert sample_count(conn) == 3 * 31
        assert load_samples(conn, 1, 0, 0, 2**62)[0].tolist() == sorted(at_ms.tolist())[-31:]


def test_a_second_run_deletes_nothing_more_and_the_mark_never_moves_back(engine: Engine) -> None:
    first = apply_retention(engine, NOW, 30 * DAY)
    again = apply_retention(engine, NOW - timedelta(days=10), 30 * DAY)
    assert again.deleted_blocks == 0
    with engine.connect() as conn:
        assert retention_store.deleted_before(conn) == first.before


def test_the_default_keeps_400_days() -> None:
    assert DEFAULT_RETENTION_S == 400 * DAY


def test_results_and_tally_sheets_survive_and_the_period_is_refused_with_one_line(database_url: str, tmp_path: Path) -> None:
    config = CASE / "config"
    for step in (("db", "upgrade"), ("ingest", "samples", str(CASE / "samples.csv")), ("score", "--period", "2026-10")):
        done = sla_worker(*step, database_url=database_url, config=config, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    before = sla_worker("results", "--period", "2026-10", "--format", "json", database_url=database_url, config=config, cwd=tmp_path)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            sheets = conn.execute(select(func.count()).select_from(tallies)).scalar_one()
        run = apply_retention(engine, datetime(2027, 12, 20, tzinfo=UTC), DEFAULT_RETENTION_S)  # 2026-10 is > 400 days old
        assert run.deleted_blocks > 0
        with engine.connect() as conn:
            assert sample_count(conn) == 0
            assert conn.execute(select(func.count()).select_from(tallies)).scalar_one() == sheets
    finally:
        engine.dispose()

    refused = sla_worker("score", "--period", "2026-10", database_url=database_url, config=config, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "sla-worker: 2026-10 cannot be scored again: sample retention (SLA_SAMPLES_RETENTION) deleted the samples "
        "before 2026-11-15; its stored results are kept as they are"
    ]
    after = sla_worker("results", "--period", "2026-10", "--format", "json", database_url=database_url, config=config, cwd=tmp_path)
    assert after.stdout == before.stdout

    everything = sla_worker("score", "--all", database_url=database_url, config=config, cwd=tmp_path)  # the kept data only
    assert everything.returncode == 0, everything.stderr
    assert "2026-10" not in everything.stdout
    again = sla_worker("results", "--period", "2026-10", "--format", "json", database_url=database_url, config=config, cwd=tmp_path)
    assert again.stdout == before.stdout


def test_the_packaged_schedule_runs_retention_every_day() -> None:
    schedule = yaml.safe_load((Path(__file__).parents[2] / "worker" / "default_schedule" / "beat.yaml").read_text())
    entry = schedule["retention"]
    assert entry["task"] == "sla.apply_retention" and entry["cron"] == "40 3 * * *"


def test_late_samples_of_a_deleted_period_leave_its_results_and_are_not_left_pending(engine: Engine) -> None:
    from worker.config import load_catalogue
    from worker.storage.coordination import pending_count
    from worker.usecases.ingest import ingest
    from worker.usecases.results import read_results
    from worker.usecases.score import score_pending, score_period

    catalogue = load_catalogue(CASE / "config")
    scored_at = datetime(2026, 11, 2, tzinfo=UTC)
    ingest(engine, catalogue, "samples", (CASE / "samples.csv").read_bytes(), scored_at)
    score_period(engine, catalogue, "2026-10", scored_at, 6 * 3600.0)
    before = read_results(engine, "2026-10")
    later = datetime(2027, 12, 20, tzinfo=UTC)
    apply_retention(engine, later, DEFAULT_RETENTION_S)
    service = sorted(catalogue.services)[0]
    ingest(engine, catalogue, "samples", f"timestamp,service,signal,value\n2026-10-15T10:00:00Z,{service},up,0\n".encode(), later)
    assert score_pending(engine, catalogue, later, 6 * 3600.0) == []
    assert read_results(engine, "2026-10") == before
    with engine.connect() as conn:
        assert pending_count(conn) == 0

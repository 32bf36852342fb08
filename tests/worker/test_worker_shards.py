"""Scoring shared across real Celery worker processes (issue 16): two workers scoring the
golden month at the same time store what one process stores, and a worker SIGKILLed in the
middle of a shard loses and duplicates nothing.

The kill is made deterministic without timing: the test holds the row lock of one of the
shard's tally sheets, so the worker takes the shard's slot locks, claims its changes, computes,
and then waits — which pg_locks shows — and is killed there."""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from celery import Celery
from celery_processes import environment, is_ready, prepare_broker, start, stop, wait_for
from sqlalchemy import text

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS / "pipeline") not in sys.path:
    sys.path.insert(0, str(TESTS / "pipeline"))

from shard_runs import CASE, pending_ids, reference_state, same_sheets, stored_results, stored_sheets  # noqa: E402
from test_pipeline_shards import PAUSED, assert_same_results, halves, hold_sheet, slot_holder  # noqa: E402

from worker.config import load_catalogue  # noqa: E402
from worker.scoring.shards import Shard, shard_of  # noqa: E402
from worker.storage.engine import make_engine  # noqa: E402
from worker.storage.locks import SCORING_SLOT_LOCK  # noqa: E402
from worker.storage.migrate import upgrade  # noqa: E402
from worker.usecases.ingest import ingest  # noqa: E402
from worker.usecases.score import score_pending  # noqa: E402

SHARDS = 16
MONTH = "2026-10"
pytestmark = pytest.mark.timeout(300)
POSTGRES = [pytest.mark.postgres, pytest.mark.skipif(not os.environ.get("SLA_TEST_POSTGRES_URL"), reason="SLA_TEST_POSTGRES_URL is not set")]
REDIS = [pytest.mark.redis, pytest.mark.skipif(not os.environ.get("SLA_TEST_REDIS_URL"), reason="SLA_TEST_REDIS_URL is not set")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One process's results and the month's tally sheets (a sheet of the running month holds
    days tallied up to `now`: another moment, other figures, so only the golden month's)."""
    results, sheets = reference_state(tmp_path_factory.mktemp("reference"), datetime.now(timezone.utc))
    return results, {key: sheet for key, sheet in sheets.items() if key[2] == MONTH}


# The production pairings: PostgreSQL with Redis, SQLite with the embedded SQLite transport.
PAIRINGS = [
    pytest.param("postgresql", "redis", id="postgresql-redis", marks=POSTGRES + REDIS),
    pytest.param("sqlite", "sqlite", id="sqlite-sqlite"),
]


def sender(broker: str) -> Celery:
    app = Celery("shard-test", broker=broker)
    app.conf.update(task_serializer="json", accept_content=["json"])
    return app


def workers(env: dict[str, str], tmp_path: Path, count: int) -> list:
    """`count` started workers; if one does not come up, those started are stopped (no
    worker outlives its test). Starting two at once on a busy 2-core machine can take a while."""
    prepare_broker(env["SLA_BROKER_URL"])
    started = [start("worker", env, tmp_path / f"worker{n}.log", "--concurrency", "1", "-n", f"shard{n}@%h") for n in range(count)]
    try:
        for n in range(count):
            wait_for(lambda n=n: is_ready(tmp_path / f"worker{n}.log"), 180, f"worker {n} to start")
    except BaseException:
        for worker in started:
            stop(worker)
        raise
    return started


def succeeded(log: Path, task: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if f"Task {task}[" in line and " succeeded " in line)


@pytest.mark.parametrize(("database_url", "broker_url"), PAIRINGS, indirect=True)
def test_two_workers_scoring_the_golden_month_at_once_store_what_one_process_stores(database_url, broker_url, tmp_path, reference):
    url, broker = database_url, broker_url
    upgrade(url)
    engine = make_engine(url)
    catalogue = load_catalogue(CASE / "config")
    now = datetime.now(timezone.utc)
    for kind in ("incidents", "maintenance", "samples"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), now)
    env = environment(CASE / "config", url, broker) | {"SLA_SCORING_SHARDS": str(SHARDS)}
    running = workers(env, tmp_path, 2)
    try:
        app = sender(broker)
        for shard in range(SHARDS):  # as sla.reconcile sends them
            app.send_task("sla.score_shard", args=("2026-10", shard, SHARDS))
        app.send_task("sla.score_pending")
        app.send_task("sla.score_pending")
        logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
        wait_for(lambda: sum(succeeded(log, "sla.score_shard") for log in logs) == SHARDS, 240, "every shard to be scored")
        wait_for(lambda: sum(succeeded(log, "sla.score_pending") for log in logs) == 2, 120, "both pending runs")
    finally:
        for worker in running:
            stop(worker)
    try:
        assert all(succeeded(log, "sla.score_shard") for log in logs), "both workers scored shards"
        assert pending_ids(engine) == set()
        assert_same_results(stored_results(engine), reference[0])
        assert same_sheets(stored_sheets(engine, MONTH), reference[1])
    finally:
        engine.dispose()


@pytest.mark.parametrize(("database_url", "broker_url"), PAIRINGS[:1], indirect=True)
def test_a_worker_killed_in_the_middle_of_a_shard_loses_and_duplicates_nothing(database_url, broker_url, tmp_path, reference):
    upgrade(database_url)
    engine = make_engine(database_url)
    catalogue = load_catalogue(CASE / "config")
    now = datetime.now(timezone.utc)
    paused = Shard(shard_of(PAUSED, SHARDS), SHARDS)
    env = environment(CASE / "config", database_url, broker_url) | {"SLA_SCORING_SHARDS": str(SHARDS)}
    try:
        for kind in ("incidents", "maintenance"):
            ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), now)
        first, second = halves()
        ingest(engine, catalogue, "samples", first, now)
        score_pending(engine, catalogue, now, 6 * 3600.0, shards=SHARDS)
        ingest(engine, catalogue, "samples", second, now)

        holder = hold_sheet(engine)
        try:
            (worker,) = workers(env, tmp_path, 1)
            sender(broker_url).send_task("sla.score_pending")
            wait_for(lambda: slot_holder(engine, paused), 120, "the worker to wait inside the shard, holding its slots")
            stop(worker, signal.SIGKILL)
        finally:
            holder.rollback()  # the dead worker's transaction goes on to find its client gone: rolled back
            holder.close()
        wait_for(lambda: not held_slots(engine), 60, "the dead worker's slot locks to be let go")
        with engine.connect() as conn:
            left = set(conn.execute(text("SELECT service FROM pending_changes")).scalars())
        assert PAUSED in left, "the killed shard's changes are still pending"

        (tmp_path / "again").mkdir()
        (worker,) = workers(env, tmp_path / "again", 1)
        try:
            sender(broker_url).send_task("sla.score_pending")
            wait_for(lambda: not pending_ids(engine), 120, "the restarted worker to consume every change")
            wait_for(lambda: succeeded(tmp_path / "again" / "worker0.log", "sla.score_pending"), 60, "its run to end")
        finally:
            stop(worker)
        assert_same_results(stored_results(engine), reference[0])
        assert same_sheets(stored_sheets(engine, MONTH), reference[1])
    finally:
        engine.dispose()


def held_slots(engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objsubid = 2"),
                {"c": SCORING_SLOT_LOCK},
            ).scalar_one()
        )

"""PostgreSQL connections killed (`pg_terminate_backend`) in the middle of ingestion and
scoring: the retried work ends with exactly the input stored and exactly a clean run's
results — nothing lost, nothing counted twice."""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from worker.config import load_catalogue
from worker.storage.engine import read_only
from worker.storage.samples import sample_count
from worker.usecases.ingest import ingest
from worker.usecases.results import read_results
from worker.usecases.score import score_period

CASE = Path(__file__).resolve().parents[1] / "golden" / "trust-2026-10"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
pytestmark = pytest.mark.timeout(240)


class BackendKiller(threading.Thread):
    """Terminates every other connection to the test database whenever one is busy, until
    it has killed `wanted` of them (or runs out of time). It looks every 20 ms: the ingestion
    and scoring it interrupts take a second or two with a connection busy about a third of the
    time, so looking every 150 ms (six looks) once found none busy (a CI run, three test processes)."""

    def __init__(self, database_url: str, wanted: int, deadline_s: float = 60):
        super().__init__(daemon=True)
        self.admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        self.wanted, self.deadline_s, self.killed = wanted, deadline_s, 0

    def run(self) -> None:
        stop = time.monotonic() + self.deadline_s
        with self.admin.connect() as conn:
            while self.killed < self.wanted and time.monotonic() < stop:
                time.sleep(0.02)
                self.killed += conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
                    )
                ).scalar_one()
        self.admin.dispose()


def retried(work, attempts: int = 40):
    """What a Celery task with autoretry does: run again after a transient database error."""
    failures = 0
    for _ in range(attempts):
        try:
            return work(), failures
        except DBAPIError:
            failures += 1
            time.sleep(0.2)
    raise AssertionError("never succeeded")


@pytest.fixture
def postgres(engine: Engine, database_url: str) -> tuple[Engine, str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("connection killing is a PostgreSQL fault")
    return engine, database_url


def test_killed_connections_during_ingest_and_scoring_lose_and_duplicate_nothing(postgres):
    engine, database_url = postgres
    catalogue = load_catalogue(CASE / "config")
    data = (CASE / "samples.csv").read_bytes()
    killer = BackendKiller(database_url, wanted=2)
    killer.start()
    failures = 0
    for _ in range(3):  # the same file three times: a re-delivered message
        (_, failed) = retried(lambda: ingest(engine, catalogue, "samples", data, NOW))
        failures += failed
    for kind in ("incidents", "maintenance"):
        retried(lambda kind=kind: ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), NOW))
    results, failed = retried(lambda: score_period(engine, catalogue, "2026-10", NOW, 6 * 3600.0))
    failures += failed
    killer.join(30)
    assert killer.killed >= 1 and failures >= 1, "the fault did not happen: nothing was proven"
    with read_only(engine) as conn:
        assert sample_count(conn) == 251_064
    expected = json.loads((CASE / "expected" / "2026-10.json").read_text())
    got = [r.as_json() for r in read_results(engine, "2026-10")]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        for key, value in e.items():
            if isinstance(value, float) and g[key] is not None:
                assert math.isclose(g[key], value, rel_tol=1e-9, abs_tol=1e-6), (e["objective"], key)
            else:
                assert g[key] == value, (e["objective"], key)

"""The running worker end to end: a real Celery worker process on a real broker (Redis and
the embedded SQLite transport) and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery_processes import ROOT, drop_config, environment, send, start, stop, wait_for
from sqlalchemy import func, select

from worker.storage.engine import make_engine, read_only
from worker.storage.migrate import upgrade
from worker.storage.samples import sample_count
from worker.storage.tables import ingested_files

CASE = ROOT / "tests" / "golden" / "trust-2026-10"
EXPECTED = json.loads((CASE / "expected" / "2026-10.json").read_text())
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def setup(tmp_path: Path, database_url: str, broker_url: str):
    drop = tmp_path / "incoming"
    drop.mkdir()
    config = drop_config(CASE / "config", tmp_path / "config", drop)
    upgrade(database_url)
    return drop, environment(config, database_url, broker_url), tmp_path / "worker.log"


def results_json(env: dict[str, str]) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "results", "--period", "2026-10", "--format", "json"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def matches_golden(got: list[dict]) -> bool:
    if [(r["agreement"], r["customer"], r["objective"]) for r in got] != [
        (r["agreement"], r["customer"], r["objective"]) for r in EXPECTED
    ]:
        return False
    return all(
        math.isclose(g[k], e[k], rel_tol=1e-9, abs_tol=1e-6) if isinstance(e[k], float) and g[k] is not None else g[k] == e[k]
        for g, e in zip(got, EXPECTED)
        for k in e
    )


def drop_golden_files(drop: Path, age_s: float = 0.0) -> None:
    """The golden files written under temporary names and renamed into `drop`, dated `age_s`
    ago (files younger than two seconds are left for the next run)."""
    moment = time.time() - age_s
    for kind in ("incidents", "maintenance", "samples"):
        part = drop / f"{kind}.csv.part"
        shutil.copy(CASE / f"{kind}.csv", part)
        part.rename(drop / f"{kind}.csv")
        if age_s:
            os.utime(drop / f"{kind}.csv", (moment, moment))


def stored_counts(database_url: str) -> tuple[int, int]:
    engine = make_engine(database_url)
    try:
        with read_only(engine) as conn:
            stored = sample_count(conn)  # one per (series, instant): duplicates cannot be stored
            files = conn.execute(select(func.count()).select_from(ingested_files)).scalar_one()
        return stored, files
    finally:
        engine.dispose()


def test_dropped_files_are_ingested_scored_and_visible_through_the_cli(setup, database_url):
    drop, env, log = setup
    worker = start("worker", env, log, "--concurrency", "2")
    try:
        dropped_at = time.monotonic()
        drop_golden_files(drop)
        wait_for(lambda: "ready" in log.read_text(), 60, "the worker to start")
        time.sleep(max(0.0, dropped_at + 2.5 - time.monotonic()))  # files younger than two seconds are left for the next run
        send(env, "sla.collect")
        wait_for(lambda: sorted(p.name for p in (drop / "done").glob("*.csv")) == ["incidents.csv", "maintenance.csv", "samples.csv"], 120, "the files to be moved to done/")
        wait_for(lambda: matches_golden(results_json(env)), 120, "results equal to the golden case")
    finally:
        stop(worker)
    assert not list(drop.glob("*.csv")) and not (drop / "refused").exists()
    assert stored_counts(database_url) == (251_064, 3)


def test_a_worker_killed_mid_ingest_completes_the_work_exactly_once_after_restart(setup, database_url, tmp_path):
    drop, env, log = setup
    big = tmp_path / "big.csv"
    header, *rows = (CASE / "samples.csv").read_bytes().splitlines(keepends=True)
    big.write_bytes(header + b"".join(rows) * 8)  # the same rows eight times: a long ingest, later lines win
    shutil.copy(CASE / "incidents.csv", drop / "incidents.csv")
    shutil.copy(CASE / "maintenance.csv", drop / "maintenance.csv")
    big.rename(drop / "samples.csv")
    now = time.time()
    for age, name in ((30, "incidents.csv"), (20, "maintenance.csv"), (10, "samples.csv")):  # samples last
        os.utime(drop / name, (now - age, now - age))
    worker = start("worker", env, log, "--concurrency", "1")
    try:
        wait_for(lambda: "ready" in log.read_text(), 60, "the worker to start")
        send(env, "sla.collect")
        wait_for(lambda: "drop: maintenance.csv" in log.read_text(), 60, "the small files to be taken")
        time.sleep(1.0)  # well inside the large samples file
    finally:
        stop(worker, signal.SIGKILL)
    assert (drop / "samples.csv").exists(), "killed before the samples file was committed and moved"
    worker = start("worker", env, log, "--concurrency", "1")
    try:
        wait_for(lambda: log.read_text().count("ready") >= 2, 60, "the worker to restart")
        send(env, "sla.collect")  # beat sends this every minute
        wait_for(lambda: (drop / "done" / "samples.csv").exists(), 180, "the samples file to be taken again")
        wait_for(lambda: matches_golden(results_json(env)), 120, "results equal to the golden case")
    finally:
        stop(worker)
    assert stored_counts(database_url) == (251_064, 3)

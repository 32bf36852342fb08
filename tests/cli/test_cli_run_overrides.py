"""`sla-worker run --config DIR --db URL`: the overrides reach every process the command
starts (the worker and beat processes Celery forks, and the metrics endpoint), although the
environment names another configuration and no database at all."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cli_helpers import ROOT, environment, sla_worker
from test_cli_run import free_port, stop

sys.path.insert(0, str(ROOT / "tests" / "worker"))
from celery_processes import drop_config, wait_for  # noqa: E402

CASE = ROOT / "tests" / "golden" / "trust-2026-10"
pytestmark = pytest.mark.timeout(300)


def test_run_with_config_and_db_options_collects_scores_and_serves_metrics_from_them(tmp_path: Path):
    drop = tmp_path / "incoming"
    config = drop_config(CASE / "config", tmp_path / "config", drop)
    database = tmp_path / "given.sqlite"
    url = f"sqlite:///{database}"
    address = f"127.0.0.1:{free_port()}"
    # The environment points at the example trust (another drop folder) and sets no database.
    env = environment(SLA_METRICS_ADDR=address, SLA_WORKER_CONCURRENCY="1")
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "run", "--config", str(config), "--db", url],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for(lambda: "ready" in log.read_text(), 90, "the worker to start")
        shutil.copy(CASE / "samples.csv", tmp_path / "samples.csv.part")
        (tmp_path / "samples.csv.part").rename(drop / "samples.csv")
        # beat's `collect` entry, in a forked process, reads the drop folder of --config
        wait_for(lambda: (drop / "done" / "samples.csv").exists(), 180, "beat's collect to take the file")

        def scored() -> list[dict]:
            done = sla_worker(tmp_path, "results", "--period", "2026-10", "--format", "json", "--config", str(config), "--db", url)
            assert done.returncode == 0, done.stderr
            return [r for r in json.loads(done.stdout) if r["value"] is not None]

        wait_for(scored, 120, "results of the dropped samples in the --db database")

        def collect_timed() -> bool:
            # written by a forked worker process, read by the endpoint process: the same database
            try:
                with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
                    return 'sla_task_duration_seconds_count{task="sla.collect"}' in response.read().decode()
            except OSError:
                return False

        wait_for(collect_timed, 60, "the metrics endpoint to serve the duration of the collect task")
    finally:
        status = stop(run, signal.SIGTERM)
    assert status == 0, log.read_text()[-2000:]
    # No process fell back to the default database (var/sla.sqlite where it was started).
    assert not (tmp_path / "var" / "sla.sqlite").exists()

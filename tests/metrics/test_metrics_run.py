"""`sla-worker run` (worker + beat + metrics, the embedded default) serves the metrics
endpoint beside the worker, says where in its start-up lines, and takes it down with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "worker"))
from celery_processes import drop_config, wait_for  # noqa: E402

pytestmark = pytest.mark.timeout(180)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200 and b"# TYPE sla_objective_status gauge" in response.read()
    except OSError:
        return False


def test_sla_worker_run_serves_metrics_beside_the_worker_and_stops_it_on_exit(tmp_path: Path):
    config = drop_config(ROOT / "tests" / "golden" / "trust-2026-10" / "config", tmp_path / "config", tmp_path / "incoming")
    addr = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env.update(
        SLA_CONFIG_DIR=str(config), SLA_DATABASE_URL=f"sqlite:///{tmp_path / 'sla.sqlite'}",
        SLA_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}", SLA_SCHEDULES_DIR=str(ROOT / "schedules"),
        SLA_METRICS_ADDR=addr, SLA_WORKER_CONCURRENCY="1", C_FORCE_ROOT="1",
    )
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen([sys.executable, "-m", "worker.cli", "run"], env=env, cwd=tmp_path, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: f"metrics   http://{addr}/metrics" in log.read_text(), 60, "the start-up lines")
        wait_for(lambda: answers(f"http://{addr}/metrics"), 60, "the metrics endpoint")
    finally:
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
    deadline = time.monotonic() + 15
    while answers(f"http://{addr}/metrics") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not answers(f"http://{addr}/metrics"), "the endpoint stops with `sla-worker run`"

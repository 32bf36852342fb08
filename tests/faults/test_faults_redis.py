"""Redis restarted while tasks are queued: the worker reconnects by itself, and what the lost
messages would have done is done by the next scheduled run, because the work itself (files in
the drop folder, pending changes) lives outside the broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from worker.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "worker"))
from celery_processes import drop_config, environment, send, start, stop, wait_for  # noqa: E402
from test_worker_flow import CASE, drop_golden_files, matches_golden, results_json, stored_counts  # noqa: E402

REDIS = shutil.which("redis-server")
pytestmark = [pytest.mark.timeout(240), pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server(port: int, folder: Path) -> subprocess.Popen:
    """A private Redis that keeps nothing on disk, like a restarted cache losing its queue."""
    process = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _answers(port), 20, "redis to start")
    return process


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_a_redis_restart_with_tasks_queued_delays_the_work_but_loses_none(tmp_path: Path, database_url: str):
    upgrade(database_url)
    port = free_port()
    redis = redis_server(port, tmp_path)
    drop = tmp_path / "incoming"
    drop.mkdir()
    config = drop_config(CASE / "config", tmp_path / "config", drop)
    env = environment(config, database_url, f"redis://127.0.0.1:{port}/0")
    log = tmp_path / "worker.log"
    worker = None
    try:
        drop_golden_files(drop, age_s=2.5)  # settled: dropped files are taken after two seconds
        for _ in range(3):
            send(env, "sla.collect")  # queued: no worker is running yet
        redis.terminate()
        redis.wait(10)
        redis = redis_server(port, tmp_path)  # the queue is gone
        worker = start("worker", env, log, "--concurrency", "1")
        wait_for(lambda: "ready" in log.read_text(), 60, "the worker to start")
        assert sorted(p.name for p in drop.glob("*.csv")) == ["incidents.csv", "maintenance.csv", "samples.csv"]
        redis.terminate()  # and once more while the worker is connected
        redis.wait(10)
        redis = redis_server(port, tmp_path)
        wait_for(lambda: log.read_text().count("Connected to redis") >= 2, 90, "the worker to reconnect")
        send(env, "sla.collect")  # beat's next minute
        wait_for(lambda: (drop / "done" / "samples.csv").exists(), 120, "the files to be taken")
        wait_for(lambda: matches_golden(results_json(env)), 120, "results equal to the golden case")
    finally:
        if worker is not None:
            stop(worker)
        redis.terminate()
        redis.wait(10)
    assert stored_counts(database_url) == (251_064, 3)

"""Task durations across worker processes: two real Celery worker processes run tasks, and the
metrics endpoint — another process's view of the database — shows the sum of both."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from worker.config import load_catalogue
from worker.metrics.server import MetricsServer, make_registry
from worker.storage.engine import make_engine
from worker.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "worker"))
from celery_processes import environment, start, stop, wait_for  # noqa: E402

CONFIG = ROOT / "tests" / "golden" / "trust-2026-10" / "config"
TASK = "sla.evaluate_alerts"
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """Redis when the tests have one (as production), else the embedded SQLite transport."""
    url = os.environ.get("SLA_TEST_REDIS_URL")
    if not url:
        yield f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
        return
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def send_tasks(env: dict[str, str], count: int) -> None:
    code = f"from worker.celeryapp import app\nfor _ in range({count}): app.send_task({TASK!r})\n"
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=60)


def runs_in(log: Path) -> int:
    return len(re.findall(rf"Task {re.escape(TASK)}\[[^\]]+\] succeeded", log.read_text()))


def served_count(url: str) -> float | None:
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    match = re.search(rf'^sla_task_duration_seconds_count\{{task="{re.escape(TASK)}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


def test_two_worker_processes_record_task_durations_and_the_endpoint_shows_their_sum(
    database_url: str, broker: str, tmp_path: Path
):
    upgrade(database_url)
    env = environment(CONFIG, database_url, broker)
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [start("worker", env, log, "--concurrency", "1", "-n", f"{name}@%h") for name, log in zip("ab", logs)]
    engine = make_engine(database_url)
    catalogue = load_catalogue(CONFIG)
    endpoint = MetricsServer("127.0.0.1:0", make_registry(engine, lambda: catalogue, lambda: datetime.now(timezone.utc)).collect)
    endpoint.start()
    try:
        for log in logs:
            wait_for(lambda log=log: "ready" in log.read_text(), 60, f"{log.stem} to start")
        sent = 0
        for _ in range(6):  # both workers take some: prefetch is one task at a time
            send_tasks(env, 10)
            sent += 10
            wait_for(lambda sent=sent: sum(runs_in(log) for log in logs) == sent, 60, f"{sent} runs")
            if all(runs_in(log) for log in logs):
                break
        per_worker = [runs_in(log) for log in logs]
        assert all(per_worker), f"one worker ran every task: {per_worker}"
        wait_for(lambda: served_count(endpoint.url) == sum(per_worker), 30, f"the endpoint to count {per_worker}")
        for worker in workers:
            stop(worker)
        # The figures are stored, not held by the workers: they outlive them.
        assert served_count(endpoint.url) == sum(per_worker)
    finally:
        for worker in workers:
            stop(worker)
        endpoint.close()
        engine.dispose()

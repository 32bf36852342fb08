"""Only one beat schedules at a time: a second one stands by (a lease in the database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery_processes import ROOT, environment, start, stop, wait_for

from worker.storage.migrate import upgrade

pytestmark = pytest.mark.timeout(180)


def test_of_two_beats_only_one_sends_tasks_and_the_other_stands_by(tmp_path: Path, database_url: str):
    upgrade(database_url)
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    (schedules / "beat.yaml").write_text("often:\n  task: sla.evaluate_alerts\n  every: 3s\n")
    env = environment(ROOT / "tests" / "golden" / "trust-2026-10" / "config", database_url,
                      f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}", schedules)
    logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]
    beats = [start("beat", env, logs[0], "--schedule", str(tmp_path / "s1"))]
    try:
        wait_for(lambda: "now runs the schedule" in logs[0].read_text(), 60, "the first beat to take the lease")
        beats.append(start("beat", env, logs[1], "--schedule", str(tmp_path / "s2")))
        wait_for(lambda: "stands by" in logs[1].read_text(), 60, "the second beat to stand by")
        wait_for(lambda: "Sending due task" in logs[0].read_text(), 75, "the first beat to send a task")
        sent_before = logs[0].read_text().count("Sending due task")
        assert "Sending due task" not in logs[1].read_text()
        assert "now runs the schedule" not in logs[1].read_text()
        assert sent_before >= 1
    finally:
        for beat in beats:
            stop(beat)

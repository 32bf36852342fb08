"""The beat schedule files: crontab entries in Europe/London or fixed intervals, each with an
optional expiry; a bad entry is refused naming its file and entry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from celery.schedules import crontab

from worker.domain.errors import ConfigError
from worker.schedules import load_schedule

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_schedule_runs_collection_every_minute_with_an_expiry():
    schedule = load_schedule(ROOT / "schedules")
    assert schedule["collect"]["task"] == "sla.collect"
    assert isinstance(schedule["collect"]["schedule"], crontab)
    assert schedule["collect"]["options"] == {"expires": 50.0}


def test_every_gives_a_fixed_interval(tmp_path: Path):
    (tmp_path / "beat.yaml").write_text("often:\n  task: sla.evaluate_alerts\n  every: 30s\n")
    assert load_schedule(tmp_path)["often"] == {"task": "sla.evaluate_alerts", "schedule": timedelta(seconds=30), "options": {}}


@pytest.mark.parametrize(
    "entry, reason",
    [
        ('  task: sla.collect\n  cron: "* * * * *"\n  every: 30s\n', "not both"),
        ("  task: sla.collect\n", "not neither"),
        ("  task: sla.collect\n  every: soon\n", "soon"),
        ('  task: sla.collect\n  cron: "* * * * *"\n  when: now\n', "unknown keys"),
    ],
)
def test_a_bad_entry_is_refused_naming_its_file_and_entry(tmp_path: Path, entry: str, reason: str):
    (tmp_path / "beat.yaml").write_text("job:\n" + entry)
    with pytest.raises(ConfigError) as refused:
        load_schedule(tmp_path)
    assert "beat.yaml: job:" in str(refused.value) and reason in str(refused.value)

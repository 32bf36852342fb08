"""The beat schedule files: crontab entries in Europe/London or fixed intervals, each with an
optional expiry; a bad entry is refused naming its file and entry."""

from __future__ import annotations

import re
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
    assert re.search(r"^beat\.yaml:\d+: job\b", str(refused.value)) and reason in str(refused.value)


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("  task: sla.collect\n  every: 0s\n", "beat.yaml:6: job.every: must be longer than 0, not '0s'"),
        ('  task: sla.collect\n  cron: "* * * * *"\n  expires: 0m\n', "beat.yaml:7: job.expires: must be longer than 0, not '0m'"),
        ('  task: sla.collect\n  cron: "61 * * * *"\n', "beat.yaml:6: job.cron: '61 * * * *' is not a crontab"),
    ],
)
def test_a_bad_schedule_value_is_refused_at_its_file_and_line(tmp_path: Path, entry: str, expected: str):
    (tmp_path / "beat.yaml").write_text("other:\n  task: sla.reconcile\n  every: 1m\njob:\n" + entry)
    with pytest.raises(ConfigError) as refused:
        load_schedule(tmp_path)
    assert refused.value.problems[0].startswith(expected)


def test_a_folder_that_does_not_exist_is_refused_not_read_as_no_schedule(tmp_path: Path):
    with pytest.raises(ConfigError, match="SLA_SCHEDULES_DIR"):
        load_schedule(tmp_path / "nowhere")


def test_the_checkout_schedules_folder_is_the_schedule_installed_with_the_package():
    from worker.settings import PACKAGED_SCHEDULES_DIR, Settings

    assert (ROOT / "schedules").resolve() == PACKAGED_SCHEDULES_DIR
    assert Settings.model_fields["schedules_dir"].default == PACKAGED_SCHEDULES_DIR


def test_a_non_editable_install_carries_the_default_schedule(tmp_path: Path):
    import subprocess
    import sys
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300, cwd=tmp_path)
    (wheel,) = tmp_path.glob("sla_worker-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "collect:" in archive.read("worker/default_schedule/beat.yaml").decode()

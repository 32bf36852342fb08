"""The beat schedule from `schedules/*.yaml` → Celery `beat_schedule` entries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from celery.schedules import crontab

from worker.domain.errors import ConfigError, InvalidValue
from worker.domain.time import parse_duration

TIMEZONE = "Europe/London"


def load_schedule(directory: Path) -> dict[str, dict]:
    """Every entry of every `*.yaml` file in `directory` (an absent folder: no schedule)."""
    entries: dict[str, dict] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        for name, entry in (yaml.safe_load(path.read_text()) or {}).items():
            try:
                entries[name] = _entry(entry)
            except (InvalidValue, KeyError, TypeError, ValueError) as error:
                problems.append(f"{path.name}: {name}: {error}")
    if problems:
        raise ConfigError(problems)
    return entries


def _entry(entry: dict) -> dict:
    """`cron` (five crontab fields, Europe/London) or `every` (a duration such as 30s: from
    the moment beat starts, for jobs that must run more often than once a minute)."""
    unknown = set(entry) - {"task", "cron", "every", "expires"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    if ("cron" in entry) == ("every" in entry):
        raise ValueError("give cron or every, not both and not neither")
    if "every" in entry:
        schedule: crontab | timedelta = timedelta(seconds=parse_duration(entry["every"]))
    else:
        minute, hour, day_of_month, month, day_of_week = str(entry["cron"]).split()
        schedule = crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month, day_of_week=day_of_week)
    options = {"expires": parse_duration(entry["expires"])} if "expires" in entry else {}
    return {"task": str(entry["task"]), "schedule": schedule, "options": options}

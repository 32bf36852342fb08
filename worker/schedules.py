"""The beat schedule from `*.yaml` in SLA_SCHEDULES_DIR (default: the schedule installed with
the package) → Celery `beat_schedule` entries. A beat with no entry would idle silently, so it
is refused (SPEC 2)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from celery.schedules import crontab

from worker.domain.errors import ConfigError, InvalidValue
from worker.domain.time import parse_duration

TIMEZONE = "Europe/London"


def load_schedule(directory: Path) -> dict[str, dict]:
    """Every entry of every `*.yaml` file in `directory`. An absent folder is refused, not read
    as "no schedule": a mistyped SLA_SCHEDULES_DIR must not leave beat idle."""
    if not directory.is_dir():
        raise ConfigError([f"SLA_SCHEDULES_DIR: {directory}: no such folder (unset it to use the schedule installed with sla-worker)"])
    entries: dict[str, dict] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text()) or {}
        if not isinstance(document, dict):
            problems.append(f"{path.name}: expected a mapping of entry names to entries")
            continue
        for name, entry in document.items():
            try:
                entries[name] = _entry(entry)
            except (InvalidValue, KeyError, TypeError, ValueError) as error:
                problems.append(f"{path.name}: {name}: {error}")
    if problems:
        raise ConfigError(problems)
    return entries


def beat_schedule(directory: Path) -> dict[str, dict]:
    """The schedule a beat runs: refused (ConfigError) when the folder is absent or holds no
    entry, because such a beat would start and never run anything."""
    entries = load_schedule(directory)
    if not entries:
        raise ConfigError([f"SLA_SCHEDULES_DIR: {directory}: no schedule entry in any *.yaml file: a beat would never run anything"])
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

"""The beat schedule from `*.yaml` in SLA_SCHEDULES_DIR (default: the schedule installed with
the package) → Celery `beat_schedule` entries. A beat with no entry would idle silently, so it
is refused (SPEC 2). Entries are read with the configuration's readers, so a bad one is
refused as `file:line: entry.field: message`, like any configuration problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from celery.schedules import crontab

from worker.config.fields import name, positive_duration, text
from worker.config.loader import compose
from worker.config.places import At, Checker, Fields, Refused, fields_of
from worker.domain.errors import ConfigError
from worker.domain.model import DEFAULT_TIMEZONE

TIMEZONE = DEFAULT_TIMEZONE  # crontab entries are read in the trust's zone
_KEYS = ("task", "cron", "every", "expires")

Entry = dict[str, Any]


def load_schedule(directory: Path) -> dict[str, Entry]:
    """Every entry of every `*.yaml` file in `directory`. An absent folder is refused, not read
    as "no schedule": a mistyped SLA_SCHEDULES_DIR must not leave beat idle."""
    if not directory.is_dir():
        raise ConfigError([f"SLA_SCHEDULES_DIR: {directory}: no such folder (unset it to use the schedule installed with sla-worker)"])
    ck = Checker()
    entries: dict[str, Entry] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            node = compose(path)
        except Refused as refused:
            ck.problems.extend(refused.placed)
            continue
        if node is None:  # empty, or comments only
            continue
        root = At(node, path.name, "")
        if not isinstance(node, yaml.MappingNode):
            ck.refuse(root, "expected a mapping of entry names to entries")
            continue
        names = Fields(ck, root, noun="entry")
        for entry_name, at in names.values.items():
            names.asked.append(entry_name)
            entry = _entry(ck, at)
            if entry is not None:
                entries[entry_name] = entry
    if ck.problems:
        raise ConfigError([str(problem) for problem in ck.problems])
    return entries


def beat_schedule(directory: Path) -> dict[str, Entry]:
    """The schedule a beat runs: refused (ConfigError) when the folder is absent or holds no
    entry, because such a beat would start and never run anything."""
    entries = load_schedule(directory)
    if not entries:
        raise ConfigError([f"SLA_SCHEDULES_DIR: {directory}: no schedule entry in any *.yaml file: a beat would never run anything"])
    return entries


def _entry(ck: Checker, at: At) -> Entry | None:
    """`cron` (five crontab fields, in TIMEZONE) or `every` (a duration such as 30s: from the
    moment beat starts, for jobs that must run more often than once a minute)."""
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    task = fields.get("task", name, required=True)
    cron = fields.get("cron", _crontab)
    every = fields.get("every", positive_duration)
    expires = fields.get("expires", positive_duration)
    unknown = [key for key in fields.keys if key not in _KEYS]
    if unknown:
        ck.refuse(fields.keys[unknown[0]], f"unknown keys {sorted(unknown)}; an entry has {', '.join(_KEYS)}")
    if fields.present("cron") == fields.present("every"):
        fields.refuse("cron", "give cron or every, not both and not neither")
    if not ck.clean_since(mark):
        return None
    schedule: crontab | timedelta = cron if cron is not None else timedelta(seconds=every)
    options = {"expires": expires} if expires is not None else {}
    return {"task": task, "schedule": schedule, "options": options}


def _crontab(at: At) -> crontab:
    written = text(at).strip()
    parts = written.split()
    if len(parts) != 5:
        raise Refused(f"must be five crontab fields (minute hour day-of-month month day-of-week), not {written!r}")
    minute, hour, day_of_month, month, day_of_week = parts
    try:
        return crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month, day_of_week=day_of_week)
    except ValueError as error:
        raise Refused(f"{written!r} is not a crontab: {error}") from None

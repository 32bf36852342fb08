"""`sla-worker ingest` as a user runs it: the installed command, in a subprocess, from a
working directory of its own, on every database engine. Semicolon files, offset hints, one
instant written with two offsets, incidents replaced whole (SPEC 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

from worker.storage.engine import read_only
from worker.storage.incidents import get_incident
from worker.storage.samples import SIGNAL_CODES, load_samples, sample_count, service_keys

COMMAND = Path(sys.executable).with_name("sla-worker")
CONFIG = """
services:
  - {id: epr, name: Electronic Patient Record}
customers:
  - {id: acute, name: Acute Services Directorate}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


@pytest.fixture
def ingest(tmp_path: Path, engine: Engine, database_url: str):
    """Run `sla-worker ingest KIND NAME` in tmp_path with `text` written to NAME first."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trust.yaml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env |= {"SLA_CONFIG_DIR": "config", "SLA_DATABASE_URL": database_url}

    def run(kind: str, name: str, text: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        return subprocess.run(
            [str(COMMAND), "ingest", kind, name], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
        )

    return run


def stored_up(engine: Engine) -> list[tuple[datetime, float]]:
    with read_only(engine) as conn:
        key = service_keys(conn, ["epr"])["epr"]
        at_ms, value = load_samples(conn, key, SIGNAL_CODES["up"], 0, 2**53)
    return [(datetime.fromtimestamp(ms / 1000, timezone.utc), float(v)) for ms, v in zip(at_ms.tolist(), value)]


def test_a_semicolon_separated_file_is_told_once_that_the_separator_must_be_a_comma(ingest, engine: Engine):
    done = ingest(
        "samples",
        "excel.csv",
        "timestamp;service;signal;value\n2026-10-01T00:00:00Z;epr;up;1\n2026-10-01T00:01:00Z;epr;latency_ms;812,5\n",
    )
    assert done.returncode == 1
    assert done.stdout.strip().endswith("accepted 0, refused 1")
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("excel.csv:1: the values are separated by semicolons (;) but the separator must be a comma (,)")
    assert "timestamp,service,signal,value" in line
    with read_only(engine) as conn:
        assert sample_count(conn) == 0


def test_an_incidents_file_separated_by_semicolons_is_told_the_same(ingest):
    done = ingest(
        "incidents",
        "incidents.csv",
        "id;service;customer;priority;opened_at;responded_at;resolved_at;on_hold\n"
        "INC1;epr;;P2;2026-10-05T09:10:00+01:00;;;\n",
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "the separator must be a comma (,)" in line and line.startswith("incidents.csv:1: ")


@pytest.mark.parametrize(
    ("timestamp", "hint"),
    [
        ("2026-07-01T09:00:00", "(add +01:00: UK summer time on that date)"),
        ("2026-12-01T09:00:00", "(add Z or +00:00: UK winter time on that date)"),
        ("2026-10-25T01:30:00", "(add +01:00 or Z: the UK clocks change at that hour on that date)"),
    ],
)
def test_a_timestamp_without_offset_is_told_the_uk_offset_on_its_date(ingest, timestamp: str, hint: str):
    done = ingest("samples", "naive.csv", f"timestamp,service,signal,value\n2026-10-01T00:00:00Z,epr,up,1\n{timestamp},epr,up,1\n")
    assert done.returncode == 1 and done.stdout.strip().endswith("accepted 1, refused 1")
    assert done.stderr.strip().splitlines() == [f'naive.csv:3: timestamp "{timestamp}" has no UTC offset {hint}']


def test_one_instant_written_with_two_offsets_in_one_file_is_one_sample_the_later_line_winning(ingest, engine: Engine):
    done = ingest(
        "samples", "s.csv", "timestamp,service,signal,value\n2026-10-01T10:00:00Z,epr,up,0\n2026-10-01T11:00:00+01:00,epr,up,1\n"
    )
    assert done.returncode == 0, done.stderr
    assert stored_up(engine) == [(at("2026-10-01T10:00:00Z"), 1.0)]


def test_one_instant_written_with_two_offsets_in_two_files_is_one_sample_the_later_file_winning(ingest, engine: Engine):
    assert ingest("samples", "a.csv", "timestamp,service,signal,value\n2026-10-01T11:00:00+01:00,epr,up,1\n").returncode == 0
    assert ingest("samples", "b.csv", "timestamp,service,signal,value\n2026-10-01T10:00:00.000Z,epr,up,0\n").returncode == 0
    assert stored_up(engine) == [(at("2026-10-01T10:00:00Z"), 0.0)]
    assert ingest("samples", "c.csv", "timestamp,service,signal,value\n2026-10-01T05:00:00-05:00,epr,up,1\n").returncode == 0
    assert stored_up(engine) == [(at("2026-10-01T10:00:00Z"), 1.0)]
    with read_only(engine) as conn:
        assert sample_count(conn) == 1


INCIDENT_HEADER = "id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold\n"
FULL = (
    "INC7,epr,acute,P2,2026-10-05T09:10:00+01:00,2026-10-05T09:40:00+01:00,2026-10-05T15:00:00+01:00,"
    "2026-10-05T11:00:00+01:00/2026-10-05T12:00:00+01:00\n"
)
BARE = "INC7,epr,,P3,2026-10-05T08:10:00Z,,,\n"


def assert_bare(engine: Engine) -> None:
    with read_only(engine) as conn:
        incident = get_incident(conn, "INC7")
    assert incident is not None
    assert (incident.customer, incident.priority, incident.opened_at) == (None, "P3", at("2026-10-05T08:10:00Z"))
    assert (incident.responded_at, incident.resolved_at, incident.on_hold) == (None, None, ())


def test_a_resent_incident_replaces_the_stored_one_whole_empty_fields_clearing_it(ingest, engine: Engine):
    assert ingest("incidents", "first.csv", INCIDENT_HEADER + FULL).returncode == 0
    with read_only(engine) as conn:
        stored = get_incident(conn, "INC7")
    assert stored is not None and stored.responded_at == at("2026-10-05T09:40:00+01:00") and len(stored.on_hold) == 1
    done = ingest("incidents", "again.csv", INCIDENT_HEADER + BARE)
    assert done.returncode == 0, done.stderr
    assert_bare(engine)


def test_within_one_incidents_file_the_later_row_replaces_the_earlier_whole(ingest, engine: Engine):
    done = ingest("incidents", "both.csv", INCIDENT_HEADER + FULL + BARE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("accepted 2, refused 0")
    assert_bare(engine)


def test_the_stored_series_is_sorted_by_instant_not_by_how_it_was_written(ingest, engine: Engine):
    rows = ["2026-10-01T12:00:00+02:00,epr,up,0", "2026-10-01T10:30:00Z,epr,up,0", "2026-10-01T09:00:00-01:00,epr,up,1"]
    assert ingest("samples", "s.csv", "timestamp,service,signal,value\n" + "\n".join(rows) + "\n").returncode == 0
    # 12:00+02:00 and 09:00-01:00 are both 10:00Z: one sample, the later line's value
    assert stored_up(engine) == [(at("2026-10-01T10:00:00Z"), 1.0), (at("2026-10-01T10:30:00Z"), 0.0)]

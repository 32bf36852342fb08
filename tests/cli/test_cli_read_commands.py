"""Commands that only read (`results`, `report`, `alerts list`, `notifications list`) never
create a database: a missing SQLite file, or a database not migrated, is refused (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import plain, sla_worker

from worker.storage.migrate import upgrade

READS = [
    ("results", "--period", "2026-11"),
    ("report", "--period", "2026-10"),
    ("alerts", "list"),
    ("notifications", "list"),
]


@pytest.mark.parametrize("command", READS, ids=lambda c: " ".join(c[:2]))
def test_a_read_command_refuses_a_missing_sqlite_file_and_creates_nothing(tmp_path: Path, command: tuple[str, ...]):
    done = sla_worker(tmp_path, *command)  # the default, relative var/sla.sqlite

    assert done.returncode == 2
    lines = plain(done)
    assert len(lines) == 1 and "SLA_DATABASE_URL" in lines[0] and "sla-worker db upgrade" in lines[0]
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("command", READS, ids=lambda c: " ".join(c[:2]))
def test_a_read_command_refuses_a_database_that_is_not_migrated(tmp_path: Path, database_url: str, command: tuple[str, ...]):
    if database_url.startswith("sqlite"):
        Path(database_url.removeprefix("sqlite:///")).touch()  # exists, but empty

    done = sla_worker(tmp_path, *command, SLA_DATABASE_URL=database_url)

    assert done.returncode == 2
    lines = plain(done)
    assert len(lines) == 1 and "not migrated" in lines[0] and "sla-worker db upgrade" in lines[0]


def test_results_on_a_migrated_database_print_the_table(tmp_path: Path, database_url: str):
    upgrade(database_url)

    done = sla_worker(tmp_path, "results", "--period", "2026-11", SLA_DATABASE_URL=database_url)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("agreement")


def test_results_for_a_customer_nobody_configured_is_refused_listing_the_configured_ones(tmp_path: Path):
    done = sla_worker(tmp_path, "results", "--period", "2026-11", "--customer", "nobody")

    assert done.returncode == 2
    lines = plain(done)
    assert len(lines) == 1 and "'nobody'" in lines[0] and "acute" in lines[0]
    assert not (tmp_path / "var").exists()


def test_a_write_command_still_creates_the_embedded_database_so_the_quick_start_needs_no_setup(tmp_path: Path):
    samples = tmp_path / "samples.csv"
    samples.write_text("timestamp,service,signal,value\n2026-11-02T09:00:00Z,epr,up,1\n")

    done = sla_worker(tmp_path, "ingest", "samples", str(samples))

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "sla.sqlite").is_file()
    assert sla_worker(tmp_path, "results", "--period", "2026-11").returncode == 0

"""Infrastructure faults are one or two plain lines naming the setting to fix, with the exit
status of SPEC 11: 2 for a URL, database or credentials that are wrong, 3 for a server that
cannot be reached; never a traceback (SLA_DEBUG=1 shows it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import environment, plain, sla_worker
from loopback import closed_port
from sqlalchemy.engine import make_url

from worker.storage.migrate import upgrade

POSTGRES = os.environ.get("SLA_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES, reason="SLA_TEST_POSTGRES_URL is not set")
DB_COMMANDS = [("results", "--period", "2026-11"), ("ingest", "samples", "missing-is-fine.csv"), ("db", "upgrade"), ("score",),
               ("notifications", "list"), ("demo",)]


def postgres(**parts: object) -> str:
    return make_url(POSTGRES or "").set(**parts).render_as_string(hide_password=False)


def assert_fault(done: subprocess.CompletedProcess[str], status: int, setting: str) -> None:
    assert done.returncode == status, (done.returncode, done.stderr)
    lines = plain(done)
    assert 1 <= len(lines) <= 2 and setting in " ".join(lines), lines


@pytest.mark.parametrize("command", DB_COMMANDS, ids=lambda c: c[0])
def test_a_database_server_that_cannot_be_reached_is_exit_3_on_every_command(tmp_path: Path, command: tuple[str, ...]):
    (tmp_path / "missing-is-fine.csv").write_text("timestamp,service,signal,value\n")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/sla"
    assert_fault(sla_worker(tmp_path, *command, "--db", url), 3, "SLA_DATABASE_URL")


@pytest.mark.parametrize("url", ["nonsense://", "not a url", "postgresql+psycopg2://sla@db/sla", "postgresql+psycopg://h:port/x"])
def test_a_malformed_database_url_is_exit_2(tmp_path: Path, url: str):
    for command in (("results", "--period", "2026-11"), ("db", "upgrade"), ("demo",)):
        assert_fault(sla_worker(tmp_path, *command, SLA_DATABASE_URL=url), 2, "SLA_DATABASE_URL")
    assert not (tmp_path / "var").exists()


@needs_postgres
def test_a_postgresql_database_that_does_not_exist_is_exit_2(tmp_path: Path):
    url = postgres(database="sla_no_such_database")
    for command in (("results", "--period", "2026-11"), ("db", "upgrade"), ("score",)):
        assert_fault(sla_worker(tmp_path, *command, "--db", url), 2, "SLA_DATABASE_URL")


@needs_postgres
def test_refused_credentials_are_exit_2(tmp_path: Path):
    # The test server trusts local connections, so a password is never checked; a role that
    # does not exist is refused the same way (FATAL at connection).
    url = postgres(username="sla_no_such_role", password="wrong")
    done = sla_worker(tmp_path, "results", "--period", "2026-11", "--db", url)
    assert_fault(done, 2, "SLA_DATABASE_URL")
    assert "wrong" not in done.stderr


def test_sla_debug_shows_the_traceback(tmp_path: Path):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/sla"
    env = environment(SLA_DEBUG="1")
    done = subprocess.run([sys.executable, "-m", "worker.cli", "results", "--period", "2026-11", "--db", url],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_run_with_a_broker_that_cannot_be_reached_is_exit_3(tmp_path: Path):
    done = sla_worker(tmp_path, "run", SLA_BROKER_URL=f"redis://127.0.0.1:{closed_port()}/0",
                      SLA_DATABASE_URL=f"sqlite:///{tmp_path / 'sla.sqlite'}")
    assert_fault(done, 3, "SLA_BROKER_URL")


def test_run_with_a_broker_url_of_no_known_transport_is_exit_2(tmp_path: Path):
    done = sla_worker(tmp_path, "run", SLA_BROKER_URL="nonsense://broker", SLA_DATABASE_URL=f"sqlite:///{tmp_path / 'sla.sqlite'}")
    assert_fault(done, 2, "SLA_BROKER_URL")


def test_report_send_to_an_smtp_server_that_cannot_be_reached_is_exit_3_and_the_reports_stay_unsent(tmp_path: Path):
    from datetime import datetime, timezone

    from worker.config import load_catalogue
    from worker.demo import run_demo
    from worker.storage.engine import make_engine

    url = f"sqlite:///{tmp_path / 'sla.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        run_demo(engine, load_catalogue(Path(__file__).resolve().parents[2] / "config" / "example"),
                 datetime.now(timezone.utc), months=2, step_s=3600)
    finally:
        engine.dispose()
    period = f"{datetime.now(timezone.utc).year}-{datetime.now(timezone.utc).month:02d}"
    previous = f"{int(period[:4]) - (period[5:] == '01')}-{12 if period[5:] == '01' else int(period[5:]) - 1:02d}"

    done = sla_worker(tmp_path, "report", "--period", previous, "--customer", "acute", "--send", SLA_DATABASE_URL=url,
                      SLA_SMTP_HOST="127.0.0.1", SLA_SMTP_PORT=str(closed_port()), SLA_SMTP_STARTTLS="false",
                      SLA_LATE_DATA_GRACE="0s")

    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "SLA_SMTP_HOST" in done.stderr.splitlines()[-1]
    again = sla_worker(tmp_path, "report", "--period", previous, "--customer", "acute", "--send", SLA_DATABASE_URL=url, SLA_LATE_DATA_GRACE="0s")
    assert again.returncode == 0, again.stderr  # to the outbox this time: it was never sent
    assert list((tmp_path / "var" / "outbox").glob("*.eml"))

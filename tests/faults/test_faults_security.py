"""Security (issue 8): no secret leaks, JSON-only Celery, a loopback metrics endpoint by
default, private report files that stay inside SLA_REPORTS_DIR, and parameterised SQL.

The canary test sets every secret the worker reads from the environment (SMTP password,
ServiceNow `password_env`, webhook `url_env` with a key in it, webhook `secret_env`) to a
unique string, runs a realistic flow in which every outside call fails (so errors are
recorded), and then searches everything produced — logs, stdout/stderr, every text column of
every table, the files under the reports dir and var/outbox, the metrics exposition — for
each canary. More paths (Prometheus `token_env`, Teams and Alertmanager addresses, a Celery
worker at debug level) are in test_faults_secrets_*.py beside this file."""

from __future__ import annotations

import os
import re
import stat
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
for folder in ("sources", "alerts"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from alert_fixtures import Receiver, store_scores  # noqa: E402
from alert_fixtures import catalogue as alert_catalogue  # noqa: E402
from faults_canary import (  # noqa: E402
    GOLDEN,
    database_text,
    files_text,
    leaked_lines,
    leaks,
    log_everything,
    logs_text,
    score_golden,
    scrape_metrics,
)
from loopback import closed_port  # noqa: E402
from source_servers import TableApi, write_config  # noqa: E402

from worker.alerts import delivery as alert_delivery  # noqa: E402
from worker.alerts.evaluate import evaluate  # noqa: E402
from worker.cli import main  # noqa: E402
from worker.collect import collect  # noqa: E402
from worker.config import load_catalogue  # noqa: E402
from worker.domain.errors import ConfigError  # noqa: E402
from worker.reports import delivery as report_delivery  # noqa: E402
from worker.reports.mailer import mailer_for  # noqa: E402
from worker.settings import Settings, load_settings  # noqa: E402

PERIOD = "2026-10"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
T_ALERT = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)
SNOW_ENV = "SLA_TEST_CANARY_SNOW_PASSWORD"


def _servicenow_config(url: str) -> str:
    return f"""
sources:
  - {{id: itsm, kind: servicenow, url: "{url}", user: sla.integration, password_env: {SNOW_ENV}, page_size: 3}}
services:
  - {{id: epr, name: Electronic Patient Record}}
customers:
  - {{id: acute, name: Acute Services Directorate}}
"""


def test_no_secret_leaks_into_logs_database_reports_outbox_or_metrics(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys
):
    token = uuid.uuid4().hex
    canaries = {
        "smtp password": f"CANARY-SMTP-{token}",
        "servicenow password": f"CANARY-SNOW-{token}",
        "webhook url key": f"CANARY-HOOKKEY-{token}",
        "webhook secret": f"CANARY-HOOKSECRET-{token}",
    }
    monkeypatch.chdir(tmp_path)  # var/outbox, var/reports relative to here
    log_everything(caplog)
    reports_dir = tmp_path / "var" / "reports"
    refusing = closed_port()  # nothing listens: the SMTP send fails
    monkeypatch.setenv("SLA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SLA_SMTP_PORT", str(refusing))
    monkeypatch.setenv("SLA_SMTP_USER", "sla-worker@example.nhs.uk")
    monkeypatch.setenv("SLA_SMTP_PASSWORD", canaries["smtp password"])
    monkeypatch.setenv("SLA_SMTP_STARTTLS", "false")
    monkeypatch.setenv("SLA_REPORTS_DIR", str(reports_dir))
    monkeypatch.setenv(SNOW_ENV, canaries["servicenow password"])
    receiver = Receiver(down=True).start()  # answers 503: the delivery fails
    monkeypatch.setenv("TEST_HOOK_URL", f"{receiver.url}?key={canaries['webhook url key']}")
    monkeypatch.setenv("TEST_HOOK_SECRET", canaries["webhook secret"])
    settings = load_settings()
    assert canaries["smtp password"] not in repr(settings) and canaries["smtp password"] not in str(settings.model_dump())

    # 1. ingest the golden files and score October
    golden = score_golden(engine, NOW)

    # 2. collect from a ServiceNow-shaped API that refuses the (canary) password: 401 recorded
    with TableApi.from_fixture() as api:
        snow = load_catalogue(write_config(tmp_path / "snow-config", _servicenow_config(api.url)))
        [report] = collect(engine, snow, NOW)
    assert report.failed and "401" in report.failed[0].error

    # 3. a report sent by SMTP to a closed port (before the alert step stores period-to-date scores): the failure is recorded
    outcomes = report_delivery.run_reports(
        engine, golden, settings.reports_dir, PERIOD, NOW, customers=["acute"], board=False,
        mailer=mailer_for(settings), sender=settings.smtp_from,
    )
    assert [o.status for o in outcomes] == ["failed"] and outcomes[0].error

    # 4. evaluate alerts and deliver to a webhook that is down: last_error recorded
    try:
        hooks = alert_catalogue(tmp_path)
        store_scores(engine, T_ALERT, burn=20.0, period="2026-10")
        assert evaluate(engine, hooks, T_ALERT).notifications
        policy = alert_delivery.Policy(base_s=60, cap_s=600, max_attempts=5, lease_s=300)
        delivered = alert_delivery.deliver(engine, hooks, T_ALERT, alert_delivery.default_senders(), policy)
        assert (delivered.failed or delivered.retried) and not delivered.sent
    finally:
        receiver.stop()
    assert receiver.requests == []

    # 5. scrape the metrics endpoint
    out, err = capsys.readouterr()
    produced = {
        "logs": logs_text(caplog),
        "stdout/stderr": out + err,
        "database": database_text(engine),
        "files": files_text(reports_dir, tmp_path / "var" / "outbox"),
        "metrics": scrape_metrics(engine, golden),
    }
    assert "401" in produced["database"] and "503" in produced["database"]  # the errors were recorded
    assert leaks(canaries, produced) == [], leaked_lines(token, produced)


# ------------------------------------------------------------------ Celery, metrics address


def test_celery_accepts_json_only_and_rejects_a_pickled_message():
    from kombu.exceptions import ContentDisallowed
    from kombu.serialization import dumps, loads

    from worker.celeryapp import app

    assert list(app.conf.accept_content) == ["json"]
    assert app.conf.task_serializer == "json" and app.conf.result_serializer == "json"
    content_type, encoding, body = dumps({"boom": 1}, serializer="pickle")
    with pytest.raises(ContentDisallowed):
        loads(body, content_type, encoding, accept=app.conf.accept_content)


def test_the_metrics_endpoint_binds_to_loopback_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("SLA_METRICS_ADDR", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    assert Settings().metrics_addr.startswith("127.0.0.1:")


# ------------------------------------------------------------------ report files


def test_config_refuses_a_customer_id_that_could_escape_the_reports_dir(tmp_path: Path):
    for bad in ("../evil", "a/b", "..", "x\\\\y"):
        directory = write_config(tmp_path / f"c{abs(hash(bad))}", f"""
customers:
  - {{id: "{bad}", name: Evil}}
""")
        with pytest.raises(ConfigError):
            load_catalogue(directory)


@pytest.mark.parametrize("relative", [f"{PERIOD}/../../escaped-abc", f"{PERIOD}/a/../../../escaped-abc", "/tmp/escaped-abc", ".."])
def test_report_folders_are_built_inside_the_reports_dir(tmp_path: Path, relative: str):
    reports_dir = tmp_path / "reports"
    with pytest.raises(ValueError, match="outside the reports folder"):
        report_delivery.write_folder(reports_dir, relative, {"report.txt": b"x"})
    assert not (tmp_path / "escaped-abc").exists() and not Path("/tmp/escaped-abc").exists()
    # a customer id that is not a path step stays inside
    inside = report_delivery.write_folder(reports_dir, f"{PERIOD}/acute-abc", {"report.txt": b"x"})
    assert inside.resolve().is_relative_to(reports_dir.resolve())


def _open_to_others(*paths: Path) -> list[str]:
    """The paths that other users may read, write or enter, with their modes."""
    modes = {path: path.stat().st_mode for path in paths}
    return [f"{p} is {stat.filemode(m)}" for p, m in modes.items() if m & (stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH)]


def test_report_files_are_not_world_readable(tmp_path: Path):
    reports_dir = tmp_path / "reports"
    folder = report_delivery.write_folder(reports_dir, f"{PERIOD}/acute-0123456789ab", {"report.txt": b"x", "charts/a.png": b"y"})
    assert _open_to_others(folder, *folder.rglob("*")) == []


@pytest.mark.timeout(60)
def test_report_copies_made_with_out_are_as_private_as_the_kept_reports(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    reports_dir, out = tmp_path / "reports", tmp_path / "pack"
    monkeypatch.setenv("SLA_REPORTS_DIR", str(reports_dir))
    score_golden(engine, NOW)
    command = [
        "--config", str(GOLDEN / "config"), "--db", database_url,
        "report", "--period", PERIOD, "--customer", "acute", "--out", str(out),
    ]
    copy = out / f"{PERIOD}-acute"
    previous = os.umask(0)  # the most open umask: the modes must come from the code, not from it
    try:
        assert main(command) == 0
        (copy / "report.txt").chmod(0o644)  # as an older copy may have left it
        (copy / "left-by-an-older-copy.txt").write_text("old")
        assert main(command) == 0  # the kept report again: its copy takes the old one's place
    finally:
        os.umask(previous)
    [kept] = reports_dir.glob(f"{PERIOD}/acute-*")
    files = {p.relative_to(kept): p.read_bytes() for p in kept.rglob("*") if p.is_file()}
    assert {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()} == files  # the same files, no stale one
    assert Path("report.pdf") in files
    assert _open_to_others(out, *out.rglob("*"), *reports_dir.rglob("*")) == []


# ------------------------------------------------------------------ SQL


FORMATTED_SQL = re.compile(r"""\b(?:execute|exec_driver_sql|text)\(\s*[rbuRBU]*[fF](?P<literal>"[^"\n]*"|'[^'\n]*')""")
# f-strings that hold only constant identifiers or a value checked against a fixed set:
# (file, literal) — matched by content so that moving the line does not matter.
ALLOWED = {
    ("worker/storage/engine.py", '"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}"'),  # a constant
    ("worker/storage/engine.py", '"BEGIN {mode}"'),  # checked against DEFERRED/IMMEDIATE/EXCLUSIVE just above
    ("worker/storage/samples.py", '"TRUNCATE {_STAGING}"'),  # the module's constant table name
}


def test_sql_is_parameterised_no_formatted_strings_in_worker():
    found = []
    for path in sorted((ROOT / "worker").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        for match in FORMATTED_SQL.finditer(source):  # also across lines: execute(\n    f"…")
            if (name, match["literal"]) not in ALLOWED:
                found.append(f"{name}:{source.count(chr(10), 0, match.start()) + 1}: {match.group(0)}")
    assert found == []


def test_the_sql_check_finds_formatted_sql():
    sample = 'conn.execute(\n    f"DELETE FROM x WHERE id = {value}")\nconn.execute(text(f\'SELECT {c}\'))'
    assert [m["literal"] for m in FORMATTED_SQL.finditer(sample)] == ['"DELETE FROM x WHERE id = {value}"', "'SELECT {c}'"]

"""The monthly reports fanned out over real Celery worker processes (issue 16): the dispatcher
`sla.send_monthly_reports` sends one `sla.send_report` per report, each customer gets its
report once, the board report is filed after them, and a worker SIGKILLed while the SMTP
server holds one report's DATA reply loses and duplicates nothing once another worker has
taken over. Real Redis, PostgreSQL (and SQLite), SMTP on loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import signal
import subprocess
import threading
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
from celery_processes import ROOT, environment, is_ready, prepare_broker, send, start, stop, wait_for
from smtp_server import free_port
from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.reports.monthly_delivery import due_period
from worker.storage import reports as report_store
from worker.storage.engine import make_engine, read_only
from worker.storage.migrate import upgrade

CASE = ROOT / "tests" / "golden" / "trust-2026-10"
CUSTOMERS = ("acute", "community", "gpfed", "council")
HELD = "governance.acute@example.nhs.uk"  # the report whose DATA reply the server holds
pytestmark = pytest.mark.timeout(240)


class HoldingSmtp:
    """aiosmtpd on loopback that accepts (250) and records every message — except the first
    one to `hold_for`, whose DATA it takes in and never answers while the test runs: a sender
    killed then never learns whether it went, and the message counts as not delivered."""

    def __init__(self, hold_for: str | None = None):
        from aiosmtpd.controller import Controller

        self.accepted: list[tuple[tuple[str, ...], bytes]] = []
        self.held = threading.Event()
        self.hold_for, self.release = hold_for, threading.Event()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        recipients = tuple(envelope.rcpt_tos)
        if self.hold_for in recipients and not self.held.is_set():
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.1)
            return "451 not accepted"
        self.accepted.append((recipients, envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def start(self) -> HoldingSmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.controller.stop()

    def message_ids(self) -> dict[tuple[str, ...], list[str]]:
        found: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for recipients, data in self.accepted:
            found[recipients].append(str(email.message_from_bytes(data, policy=email.policy.default)["Message-ID"]))
        return dict(found)


def seed_last_month(engine: Engine, period: str) -> None:
    """The golden case's final results, as the results of `period` (the month now due)."""
    from worker.domain.model import AgreementKind, ObjectiveType, Result, Status
    from worker.storage.results import upsert_results

    rows = json.loads((CASE / "expected" / "2026-10.json").read_text())
    results = [
        Result(**{**r, "period": period, "type": ObjectiveType(r["type"]), "status": Status(r["status"]),
                  "kind": AgreementKind(r.get("kind", "agreement"))})  # type: ignore[arg-type]
        for r in rows
    ]
    with engine.begin() as conn:
        upsert_results(conn, results, computed_at=datetime.now(timezone.utc))


def stored(engine: Engine, period: str) -> dict[tuple[str, str], report_store.StoredReport]:
    with read_only(engine) as conn:
        return {(r.kind, r.customer): r for r in report_store.list_reports(conn, period)}


def all_done(engine: Engine, period: str) -> bool:
    rows = stored(engine, period)
    customers = all(rows.get(("customer", c)) and rows[("customer", c)].status == "sent" for c in CUSTOMERS)
    return customers and ("board", "") in rows and rows[("board", "")].status == "filed"


def recipients_of(customer: str) -> tuple[str, ...]:
    return tuple(load_catalogue(CASE / "config").customers[customer].contacts.reports)


@pytest.fixture
def setup(tmp_path: Path, database_url: str):
    """The golden trust with last month's results stored, its report contacts pointing at a
    holding SMTP server, and the broker paired with the engine (Redis with PostgreSQL)."""
    if database_url.startswith("postgresql"):
        url = os.environ.get("SLA_TEST_REDIS_URL")
        if not url:
            pytest.skip("SLA_TEST_REDIS_URL is not set")
        redis.Redis.from_url(url).flushdb()
        broker = url
    else:
        broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    period = due_period(load_catalogue(CASE / "config"), datetime.now(timezone.utc))
    seed_last_month(engine, period)
    smtp = HoldingSmtp(hold_for=HELD).start()
    env = environment(CASE / "config", database_url, broker) | {
        "SLA_SMTP_HOST": "127.0.0.1", "SLA_SMTP_PORT": str(smtp.port), "SLA_SMTP_STARTTLS": "false",
        "SLA_SMTP_FROM": "sla-worker@trust.example.nhs.uk", "SLA_REPORTS_DIR": str(tmp_path / "reports"),
        "SLA_LATE_DATA_GRACE": "0s", "SLA_REPORT_CLAIM_TIMEOUT": "3s",
    }
    try:
        yield engine, period, smtp, env
    finally:
        smtp.stop()
        engine.dispose()
        if broker.startswith("redis"):
            redis.Redis.from_url(broker).flushdb()


def workers(env: dict[str, str], *logs: Path) -> list[subprocess.Popen]:
    """A worker per log, started at once (each start is seconds of imports) and all ready; if
    one does not come up, those started are stopped (no worker outlives its test)."""
    prepare_broker(env["SLA_BROKER_URL"])
    started = [start("worker", env, log, "--concurrency", "1", "--hostname", f"{log.stem}@%h") for log in logs]
    try:
        for log in logs:
            wait_for(lambda log=log: is_ready(log), 120, f"{log.stem} to start")
    except BaseException:
        for process in started:
            stop(process)
        raise
    return started


def test_each_customer_report_is_its_own_task_sent_once_the_board_report_after_them(setup, tmp_path):
    engine, period, smtp, env = setup
    smtp.hold_for = None  # nothing held here
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    running = workers(env, *logs)
    try:
        send(env, "sla.send_monthly_reports")
        wait_for(lambda: all_done(engine, period), 180, "every customer report sent and the board report filed")
        send(env, "sla.send_monthly_reports")  # the beat's safety net, or a second run: nothing left to send
        wait_for(lambda: "0 report(s) dispatched" in "".join(log.read_text() for log in logs), 60, "the second dispatch")
    finally:
        for process in running:
            stop(process)
    text = "".join(log.read_text() for log in logs)
    assert text.count("monthly reports: 4 report(s) dispatched") == 1, "one message per customer report"
    done = [line for line in text.splitlines() if "Task sla.send_report[" in line and "succeeded" in line]
    assert len(done) == len(CUSTOMERS) + 1, "each report its own task; the board report's enqueued once, by the last"
    assert sorted(smtp.message_ids()) == sorted(recipients_of(c) for c in CUSTOMERS)
    assert all(len(ids) == 1 for ids in smtp.message_ids().values()), smtp.message_ids()
    rows = stored(engine, period)
    last_sent = max(rows[("customer", c)].sent_at for c in CUSTOMERS)  # type: ignore[type-var]
    assert rows[("board", "")].created_at >= last_sent, "the board report is made after the customer reports"
    with read_only(engine) as conn:
        assert report_store.sent_totals(conn)["customer"] == len(CUSTOMERS)


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("SLA_TEST_POSTGRES_URL"), reason="SLA_TEST_POSTGRES_URL is not set")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_worker_killed_in_the_middle_of_a_report_loses_and_duplicates_nothing(setup, tmp_path):
    engine, period, smtp, env = setup
    (first,) = workers(env, tmp_path / "worker-a.log")
    second = None
    try:
        send(env, "sla.send_monthly_reports")
        wait_for(smtp.held.is_set, 120, "the SMTP server to hold a report's DATA reply")
        assert stored(engine, period)[("customer", "acute")].status == "sending"
        (second,) = workers(env, tmp_path / "worker-b.log")
        stop(first, signal.SIGKILL)  # the whole worker, mid-send: its messages stay unacknowledged
        send(env, "sla.send_monthly_reports")  # the beat's monthly run re-dispatches what is unsent
        wait_for(lambda: all_done(engine, period), 180, "every report sent by the worker that took over")
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            stop(second)
    ids = smtp.message_ids()
    assert sorted(ids) == sorted(recipients_of(c) for c in CUSTOMERS), "every customer got its report"
    assert all(len(found) == 1 for found in ids.values()), f"a report was delivered twice: {ids}"
    acute = stored(engine, period)[("customer", "acute")]
    assert acute.attempts == 2 and acute.sends == 1, "the killed claim expired and was taken over, once"
    assert ids[recipients_of("acute")] == [acute.message_id], "the take-over sent under the same Message-ID"

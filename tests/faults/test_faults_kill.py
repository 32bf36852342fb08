"""A worker SIGKILLed at random points (issue 8): during ingestion, during scoring, between an
alert notification being sent and its commit, and between a report being accepted by the SMTP
server and its commit — with the kill moments drawn from a seed, on a real Celery worker,
broker and database, with real receivers on loopback.

A fast "beat" in the test sends the scheduled tasks every couple of seconds (as
schedules/beat.yaml does every minute). After every kill the worker is restarted, and at the
end everything must hold at once: the samples stored equal the input exactly, last month's
results equal a clean run's (the same files scored in this process, no kill), every alert
notification and report was delivered, and every Idempotency-Key / Message-ID reached its
receiver with one content (a receiver that drops duplicates by key — the contract — therefore
acts once). The data are made around today's date: last month for the reports, this month with
an outage in the last hour for the alerts."""

from __future__ import annotations

import email
import email.policy
import math
import os
import random
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

TESTS = Path(__file__).resolve().parents[1]
for folder in ("worker", "alerts"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from alert_fixtures import Receiver  # noqa: E402
from celery_processes import FastBeat, environment, start, stop, wait_for  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402
from test_worker_flow import stored_counts  # noqa: E402

from worker.config import load_catalogue  # noqa: E402
from worker.scoring.periods import period_bounds, period_of, previous_period  # noqa: E402
from worker.storage.engine import make_engine, read_only  # noqa: E402
from worker.storage.migrate import upgrade  # noqa: E402
from worker.storage.tables import alert_transitions, notifications, pending_changes, reports  # noqa: E402
from worker.usecases.ingest import ingest  # noqa: E402
from worker.usecases.results import read_results  # noqa: E402
from worker.usecases.score import score_period  # noqa: E402

CUSTOMERS = ("acute", "community", "gpfed", "council")
SERVICES = ("epr", "pacs", "email")
DAY = 86400
BEAT_TASKS = ("sla.collect", "sla.score_pending", "sla.evaluate_alerts", "sla.deliver_notifications")
CONFIG = """
sources:
  - {id: drop, kind: file_drop, path: PLACEHOLDER}
calendars:
  - {id: always, hours: 24x7}
services:
  - {id: epr, name: Electronic Patient Record, value: [decisions/internal], signals: {up: {source: drop}}}
  - {id: pacs, name: Picture Archiving, value: [decisions/internal], signals: {up: {source: drop}}}
  - {id: email, name: Email and calendar, value: [smarter/external], signals: {up: {source: drop}}}
customers:
  - {id: acute, name: Acute Services, contacts: {reports: [governance.acute@example.nhs.uk]}}
  - {id: community, name: Community Services, contacts: {reports: [governance.community@example.nhs.uk]}}
  - {id: gpfed, name: North Moor GP Federation, kind: primary-care, contacts: {reports: [practice.manager@example.nhs.uk]}}
  - {id: council, name: Moorshire Council, kind: local-authority, contacts: {reports: [ict.contracts@example.gov.uk]}}
agreements:
  - id: core
    name: Core clinical systems
    customers: [acute, community]
    effective: {from: 2020-01-01, to: 2035-12-31}
    objectives:
      - {id: epr-availability, service: epr, type: availability, target: 99.5, calendar: always}
      - {id: pacs-availability, service: pacs, type: availability, target: 99.0, calendar: always}
  - id: partners
    name: Partner services
    customers: [gpfed, council]
    effective: {from: 2020-01-01, to: 2035-12-31}
    objectives:
      - {id: email-availability, service: email, type: availability, target: 99.9, calendar: always}
      - {id: epr-availability, service: epr, type: availability, target: 99.0, calendar: always}
channels:
  - {id: hook, kind: webhook, url_env: KILL_TEST_HOOK_URL, repeat_interval: 4h}
  - {id: ops, kind: email, to: [it.operations@example.nhs.uk], repeat_interval: 4h}
"""
pytestmark = pytest.mark.timeout(200)


def _engine_param(seed: int, engine: str) -> pytest.param:
    marks = []
    if engine == "postgresql":
        marks = [pytest.mark.postgres, pytest.mark.skipif(not os.environ.get("SLA_TEST_POSTGRES_URL"), reason="SLA_TEST_POSTGRES_URL is not set")]
    return pytest.param(seed, engine, id=f"seed{seed}-{engine}", marks=marks)


# Each seed draws its own kill moments; PostgreSQL runs with Redis as the broker, SQLite with the
# embedded SQLite transport (the two production pairings), within CI's time budget.
RUNS = [_engine_param(1, "postgresql"), _engine_param(2, "postgresql"), _engine_param(3, "sqlite")]


def inputs(now: datetime) -> tuple[dict[str, bytes], int]:
    """Every service up every minute from the start of last month until now, with short outages
    last month and EPR down for the last hour: last month in three files, this month in one."""
    previous = previous_period(period_of(now.timestamp(), "Europe/London"))
    start_s, end_s = period_bounds(previous, "Europe/London")
    last_s = (int(now.timestamp()) // 60 - 1) * 60
    outages = {"epr": [(start_s + 2 * DAY + 36000, 2700)], "pacs": [(start_s + 9 * DAY + 50000, 1200)],
               "email": [(start_s + 11 * DAY, 300)], }
    files: dict[str, list[bytes]] = {"last-month-a.csv": [], "last-month-b.csv": [], "last-month-c.csv": [], "this-month.csv": []}
    for at in range(int(start_s), last_s + 1, 60):
        part = "a" if at < start_s + 10 * DAY else "b" if at < start_s + 25 * DAY else "c"
        name = "this-month.csv" if at >= end_s else f"last-month-{part}.csv"
        stamp = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for service in SERVICES:
            down = any(o <= at < o + length for o, length in outages[service]) or (service == "epr" and at > last_s - 3600)
            files[name].append(f"{stamp},{service},up,{0 if down else 1}\n".encode())
    rows = sum(len(lines) for lines in files.values())
    return {name: b"timestamp,service,signal,value\n" + b"".join(lines) for name, lines in files.items()}, rows


def clean_run(config: Path, files: dict[str, bytes], period: str, now: datetime, folder: Path) -> list[dict]:
    """The same files ingested and `period` scored in this process, on SQLite, with no kill."""
    url = f"sqlite:///{folder / 'clean.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        catalogue = load_catalogue(config)
        for data in files.values():
            assert ingest(engine, catalogue, "samples", data, now).refused == 0
        score_period(engine, catalogue, period, now, 0.0)
        return [r.as_json() for r in read_results(engine, period)]
    finally:
        engine.dispose()


def same_results(got: list[dict], expected: list[dict]) -> bool:
    key = lambda r: (r["agreement"], r["customer"], r["objective"])  # noqa: E731
    if sorted(map(key, got)) != sorted(map(key, expected)):
        return False
    by_key = {key(r): r for r in got}
    return all(
        math.isclose(by_key[key(e)][k], v, rel_tol=1e-9, abs_tol=1e-6) if isinstance(v, float) else by_key[key(e)][k] == v
        for e in expected for k, v in e.items() if k != "computed_at"
    )


def drop(folder: Path, name: str, data: bytes, age_s: float) -> None:
    """Written under a temporary name, renamed, and aged (oldest files are taken first)."""
    part = folder / f"{name}.part"
    part.write_bytes(data)
    target = folder / name
    part.rename(target)
    moment = time.time() - age_s
    os.utime(target, (moment, moment))


class Worker:
    """The real Celery worker, SIGKILLed and restarted on demand; `since_start()` is the log
    written by the current process only."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log, self.process, self.offset, self.kills = env, log, None, 0, []

    def start(self) -> None:
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        self.process = start("worker", self.env, self.log, "--concurrency", "2")
        wait_for(lambda: "ready" in self.since_start(), 60, "the worker to start")

    def since_start(self) -> str:
        with self.log.open("rb") as handle:
            handle.seek(self.offset)
            return handle.read().decode(errors="replace")

    def kill_after(self, delay_s: float, phase: str, unfinished: Callable[[], bool]) -> None:
        """SIGKILL the worker `delay_s` from now, noting whether `phase` was still unfinished
        (the kill hit it), then start a new worker."""
        time.sleep(delay_s)
        hit = unfinished()
        stop(self.process, signal.SIGKILL)
        self.kills.append((phase, round(delay_s, 2), "hit" if hit else "after"))
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture
def broker_for(tmp_path: Path):
    """The broker paired with the database engine: Redis (flushed) with PostgreSQL, the
    embedded SQLite transport with SQLite."""

    def choose(engine: str) -> str:
        url = os.environ.get("SLA_TEST_REDIS_URL")
        if engine == "postgresql" and url:
            redis.Redis.from_url(url).flushdb()
            return url
        return f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"

    return choose


@pytest.mark.parametrize(("seed", "database_url"), RUNS, indirect=["database_url"])
def test_a_worker_killed_at_random_points_loses_duplicates_and_sends_nothing_twice(seed, database_url, broker_for, tmp_path):
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    last_month = previous_period(period_of(now.timestamp(), "Europe/London"))
    upgrade(database_url)
    incoming, config = tmp_path / "incoming", tmp_path / "config"
    incoming.mkdir()
    config.mkdir()
    (config / "all.yaml").write_text(CONFIG.replace("PLACEHOLDER", str(incoming)))
    files, rows = inputs(now)
    expected = clean_run(config, files, last_month, now, tmp_path)
    hook, smtp = Receiver(delay_s=1.5).start(), SmtpServer(delay_s=1.5)
    smtp.start()
    broker_url = broker_for(database_url.split(":")[0].split("+")[0])
    env = environment(config, database_url, broker_url) | {
        "SLA_SMTP_HOST": "127.0.0.1", "SLA_SMTP_PORT": str(smtp.port), "SLA_SMTP_STARTTLS": "false",
        "SLA_REPORTS_DIR": str(tmp_path / "reports"), "KILL_TEST_HOOK_URL": hook.url, "SLA_LATE_DATA_GRACE": "0s",
        "SLA_NOTIFICATION_CLAIM_TIMEOUT": "3s", "SLA_REPORT_CLAIM_TIMEOUT": "3s",
    }
    # Messages live 30 s: a backlog built while the worker was dead and restarting (seconds of
    # imports) drains no faster than this beat sends, so with a shorter life every later
    # `sla.send_monthly_reports` could arrive expired and the report never be retried.
    worker, beat = Worker(env, tmp_path / "worker.log"), FastBeat(broker_url, BEAT_TASKS, expires_s=30)
    engine = make_engine(database_url)
    done = lambda: everything_done(engine, last_month, expected)  # noqa: E731
    try:
        worker.start()
        beat.start()  # reports are not sent until the report phase below
        drop(incoming, "this-month.csv", files["this-month.csv"], 10)  # the outage: alerts
        wait_for(lambda: hook.requests, 90, "an alert notification to be sent")
        worker.kill_after(rng.uniform(0.0, 0.5), "alert sent, not committed", lambda: still_sending(engine, notifications))

        collects = worker.since_start().count("sla.collect[")
        for age, name in ((30, "last-month-a.csv"), (20, "last-month-b.csv")):
            drop(incoming, name, files[name], age)
        wait_for(lambda: worker.since_start().count("sla.collect[") > collects, 60, "a collection to start", poll_s=0.02)
        worker.kill_after(rng.uniform(0.05, 0.4), "ingestion", lambda: any(incoming.glob("*.csv")))

        drop(incoming, "last-month-c.csv", files["last-month-c.csv"], 10)  # new data: scoring to do
        wait_for(lambda: changes_waiting(engine), 90, "ingested changes waiting to be scored", poll_s=0.02)
        worker.kill_after(rng.uniform(0.0, 0.3), "scoring", lambda: changes_waiting(engine))

        beat.tasks = BEAT_TASKS + ("sla.send_monthly_reports",)
        wait_for(lambda: report_mail(smtp), 120, "a report to be sent")
        worker.kill_after(rng.uniform(0.0, 0.5), "report sent, not committed", lambda: still_sending(engine, reports))
        wait_for(done, 120, "every file, result, notification and report")
    finally:
        beat.stop()
        worker.stop()
        hook.stop()
        smtp.stop()
    try:
        assert stored_counts(database_url) == (rows, len(files)), "each sample stored once, each file claimed once"
        with read_only(engine) as conn:
            outbox = conn.execute(select(notifications.c.channel, notifications.c.idempotency_key)).all()
            changes = conn.execute(
                select(alert_transitions.c.rule, alert_transitions.c.agreement, alert_transitions.c.customer,
                       alert_transitions.c.objective, alert_transitions.c.event, alert_transitions.c.firing_since)
            ).all()
        assert len(changes) == len(set(changes)), "an alert episode's transition was recorded twice"
        assert_each_key_once(hook, smtp, outbox)
        assert_each_report_once(smtp)
        sends = [hit for phase, _, hit in worker.kills if "sent" in phase]
        assert sends == ["hit", "hit"], f"a kill missed its send: nothing was proven {worker.kills}"
    finally:
        engine.dispose()
    print(f"seed {seed}: kills {worker.kills}; {len(hook.requests)} webhook requests for {len(set(hook.keys()))} keys")


def report_mail(smtp: SmtpServer) -> list[email.message.Message]:
    parsed = [parse_mail(data) for _, _, data in list(smtp.received.messages)]
    return [m for m in parsed if not m["Message-ID"].startswith("<alert-")]


def parse_mail(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def everything_done(engine, period: str, expected: list[dict]) -> bool:
    with read_only(engine) as conn:
        outbox = conn.execute(select(notifications.c.status)).scalars().all()
        sent_reports = conn.execute(
            select(reports.c.customer).where(reports.c.kind == "customer", reports.c.status == "sent")
        ).scalars().all()
    return bool(outbox) and set(outbox) == {"sent"} and sorted(sent_reports) == sorted(CUSTOMERS) and done_scoring(engine, period, expected)


def done_scoring(engine, period: str, expected: list[dict]) -> bool:
    return same_results([r.as_json() for r in read_results(engine, period)], expected)


def changes_waiting(engine) -> bool:
    with read_only(engine) as conn:
        return conn.execute(select(pending_changes.c.id)).first() is not None


def still_sending(engine, table) -> bool:
    with read_only(engine) as conn:
        return conn.execute(select(table.c.id).where(table.c.status == "sending")).first() is not None


def assert_each_key_once(hook: Receiver, smtp: SmtpServer, outbox: list) -> None:
    """Every outbox row reached its receiver; copies of one key carry one content."""
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for request in hook.requests:
        bodies[request["headers"]["Idempotency-Key"]].add(request["raw"])
    assert {k for c, k in outbox if c == "hook"} == set(bodies)
    assert all(len(b) == 1 for b in bodies.values()), "one Idempotency-Key delivered with two contents"
    alert_mail = [parse_mail(d) for _, _, d in smtp.received.messages if b"Idempotency-Key" in d]
    assert {k for c, k in outbox if c == "ops"} == {str(m["Idempotency-Key"]).strip() for m in alert_mail}


def assert_each_report_once(smtp: SmtpServer) -> None:
    """Each customer's report went out under one Message-ID (a re-send after a kill carries
    the same one), to that customer's report contacts only."""
    ids: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for _, recipients, data in smtp.received.messages:
        message = parse_mail(data)
        if not message["Message-ID"].startswith("<alert-"):
            ids[recipients].add(message["Message-ID"])
    assert len(ids) == len(CUSTOMERS) and all(len(i) == 1 for i in ids.values()), ids

"""No secret leaks (issue 8) from a real `celery worker` at `-l debug`: the worker runs
`sla.collect` (Prometheus with a `token_env` bearer token, answering 401) and
`sla.deliver_notifications` (a webhook with a key in its `url_env` URL and a `secret_env`
signing secret, answering 500; email over SMTP with SLA_SMTP_PASSWORD to a closed port), with
every secret a canary; its whole log output must hold none of them."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

TESTS = Path(__file__).resolve().parents[1]
for folder in ("sources", "alerts", "worker"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from alert_fixtures import catalogue, store_scores  # noqa: E402
from celery_processes import environment, send, start, stop, wait_for  # noqa: E402
from faults_canary import PlayedServer, failing, leaked_lines, leaks  # noqa: E402
from loopback import closed_port  # noqa: E402

from worker.alerts.evaluate import evaluate  # noqa: E402
from worker.scoring.periods import period_of  # noqa: E402
from worker.storage.engine import make_engine, read_only  # noqa: E402
from worker.storage.migrate import upgrade  # noqa: E402
from worker.storage.tables import notifications, watermarks  # noqa: E402

pytestmark = pytest.mark.timeout(60)

MAIL_CHANNEL = "  - {id: mail, kind: email, to: [service.desk@example.org], severities: [page]}\n"
PROMETHEUS = """
sources:
  - {{id: prom, kind: prometheus, url: "{url}", token_env: TEST_PROM_TOKEN, timeout: 5s}}
services:
  - id: lab
    name: Laboratory Results
    signals:
      up: {{source: prom, query: 'min(probe_success{{service="lab"}})'}}
"""


def failed_somewhere(database_url: str) -> set[str]:
    """The sources and channels that have an error recorded."""
    engine = make_engine(database_url)
    try:
        with read_only(engine) as conn:
            sources = conn.execute(select(watermarks.c.source).where(watermarks.c.last_error.is_not(None))).scalars()
            channels = conn.execute(select(notifications.c.channel).where(notifications.c.last_error.is_not(None))).scalars()
            return {*sources, *channels}
    finally:
        engine.dispose()


def test_a_celery_worker_at_debug_level_logs_no_secret_while_outside_calls_fail(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    token = uuid.uuid4().hex
    canaries = {
        "smtp password": f"CANARY-SMTP-{token}",
        "webhook url key": f"CANARY-HOOKKEY-{token}",
        "webhook secret": f"CANARY-HOOKSECRET-{token}",
        "prometheus token": f"CANARY-PROMTOKEN-{token}",
    }
    monkeypatch.setenv("TEST_HOOK_URL", "http://127.0.0.1:9/unused")  # to load the catalogue here
    now = datetime.now(timezone.utc)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:  # firing alerts with due outbox rows for the webhook and the mail channel
        store_scores(engine, now, burn=20.0, period=period_of(now.timestamp(), "Europe/London"))
        assert evaluate(engine, catalogue(tmp_path, MAIL_CHANNEL), now).notifications
    finally:
        engine.dispose()
    log = tmp_path / "worker.log"
    with PlayedServer(failing(401, "Unauthorized")) as prometheus, PlayedServer(failing(500)) as hook:
        (tmp_path / "config" / "prometheus.yaml").write_text(PROMETHEUS.format(url=prometheus.url))
        env = environment(tmp_path / "config", database_url, f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
        env.update(
            SLA_SMTP_HOST="127.0.0.1", SLA_SMTP_PORT=str(closed_port()), SLA_SMTP_STARTTLS="false",
            SLA_SMTP_USER="sla-worker@example.org", SLA_SMTP_PASSWORD=canaries["smtp password"],
            TEST_HOOK_URL=f"{hook.url}/hook/{canaries['webhook url key']}?key={canaries['webhook url key']}",
            TEST_HOOK_SECRET=canaries["webhook secret"], TEST_PROM_TOKEN=canaries["prometheus token"],
            SLA_WORKER_CONCURRENCY="1",
        )
        worker = start("worker", env, log, "--loglevel", "DEBUG")
        try:
            for task in ("sla.collect", "sla.deliver_notifications"):
                send(env, task)
            wait_for(lambda: failed_somewhere(database_url) == {"prom", "hook", "mail"}, 30, "the failures to be recorded")
        finally:
            stop(worker)
    assert {r.headers["Authorization"] for r in prometheus.requests} == {f"Bearer {canaries['prometheus token']}"}
    assert hook.requests and canaries["webhook url key"] in hook.requests[0].path  # the canaries were in play
    assert hook.requests[0].headers["X-SLA-Signature"].startswith("sha256=")
    output = log.read_text(errors="replace")
    assert "DEBUG/ForkPoolWorker" in output and "send_request_headers" in output  # the tasks logged at debug level
    assert "sla.collect" in output and "sla.deliver_notifications" in output
    assert leaks(canaries, {"worker log": output}) == [], leaked_lines(token, {"worker log": output})

"""No secret leaks (issue 8), path by path: the Prometheus source's bearer token (`token_env`)
and the alert channels' addresses (Teams and webhook `url_env` with a key in the path and the
query, Alertmanager credentials in its URL), each against a real loopback server that fails
(401, 500, a timeout, a closed port) so that every error path records something. The canaries
must appear nowhere: logs of every logger at DEBUG, stdout/stderr of the commands, every text
column of every table, the metrics exposition."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from sqlalchemy import Engine

TESTS = Path(__file__).resolve().parents[1]
for folder in ("sources", "alerts"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from alert_fixtures import catalogue as alert_catalogue  # noqa: E402
from alert_fixtures import store_scores  # noqa: E402
from faults_canary import (  # noqa: E402
    HANG,
    PlayedServer,
    Request,
    database_text,
    failing,
    leaked_lines,
    leaks,
    log_everything,
    logs_text,
    scrape_metrics,
)
from loopback import closed_port  # noqa: E402
from source_servers import write_config  # noqa: E402

from worker.alerts import delivery as alert_delivery  # noqa: E402
from worker.alerts.evaluate import evaluate  # noqa: E402
from worker.cli import main  # noqa: E402
from worker.config import load_catalogue  # noqa: E402

pytestmark = pytest.mark.timeout(60)

T_ALERT = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)
TOKEN_ENV = "SLA_TEST_CANARY_PROM_TOKEN"


def play_prometheus(request: Request) -> tuple[int, str]:
    """Prometheus failing in every way a query can: by the query asked."""
    query = parse_qs(request.body.decode()).get("query", [""])[0]
    if query.startswith("refused"):
        return 401, "Unauthorized\n"
    if query.startswith("broken"):
        return 500, '{"status":"error","errorType":"internal","error":"query processing would load too many samples"}'
    if query.startswith("slow"):
        return HANG, ""
    return 400, '{"status":"error","errorType":"bad_data","error":"1:1: parse error: unexpected identifier"}'


def prometheus_config(url: str, gone: str) -> str:
    return f"""
sources:
  - {{id: prom, kind: prometheus, url: "{url}", token_env: {TOKEN_ENV}, timeout: 1s, step: 60s}}
  - {{id: prom-gone, kind: prometheus, url: "{gone}", token_env: {TOKEN_ENV}}}
services:
  - id: epr
    name: Electronic Patient Record
    signals:
      up: {{source: prom, query: 'refused(probe_success)'}}
      latency_ms: {{source: prom, query: 'broken(login_seconds)'}}
      good: {{source: prom, query: 'slow(requests_ok)'}}
      total: {{source: prom, query: 'bad data('}}
  - id: pas
    name: Patient Administration
    signals:
      up: {{source: prom-gone, query: 'min(probe_success)'}}
customers:
  - {{id: acute, name: Acute Services}}
"""


def test_a_prometheus_token_stays_secret_when_prometheus_refuses_fails_or_times_out(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, capsys
):
    token = uuid.uuid4().hex
    canaries = {"prometheus token": f"CANARY-PROMTOKEN-{token}"}
    monkeypatch.setenv(TOKEN_ENV, canaries["prometheus token"])
    log_everything(caplog)
    with PlayedServer(play_prometheus) as prometheus:
        config = write_config(tmp_path / "config", prometheus_config(prometheus.url, f"http://127.0.0.1:{closed_port()}"))
        assert main(["--config", str(config), "--db", database_url, "collect"]) == 1  # partial: streams failed
    sent = {r.headers.get("Authorization") for r in prometheus.requests}
    assert sent == {f"Bearer {canaries['prometheus token']}"}  # the canary really was in play
    out, err = capsys.readouterr()
    produced = {
        "logs": logs_text(caplog),
        "stdout/stderr": out + err,
        "database": database_text(engine),
        "metrics": scrape_metrics(engine, load_catalogue(config)),
    }
    for recorded in ("401", "(internal)", "timed out", "(bad_data)", "cannot be reached"):
        assert recorded in produced["database"], recorded
    assert leaks(canaries, produced) == [], leaked_lines(token, produced)


CHANNELS = """  - {{id: teams, kind: teams, url_env: TEST_TEAMS_URL}}
  - {{id: teams-gone, kind: teams, url_env: TEST_TEAMS_GONE_URL}}
  - {{id: am, kind: alertmanager, url_env: TEST_AM_URL}}
  - {{id: am-gone, kind: alertmanager, url: "{alertmanager_gone}"}}
"""


def test_channel_addresses_stay_secret_when_teams_alertmanager_and_webhooks_fail(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, capsys
):
    token = uuid.uuid4().hex
    canaries = {
        "teams key in the path": f"CANARY-TEAMSPATH-{token}",
        "teams key in the query": f"CANARY-TEAMSQUERY-{token}",
        "webhook key in the path": f"CANARY-HOOKPATH-{token}",
        "webhook secret": f"CANARY-HOOKSECRET-{token}",
        "alertmanager password": f"CANARY-AMPASSWORD-{token}",
    }
    log_everything(caplog)
    gone = f"127.0.0.1:{closed_port()}"  # nothing listens: connection refused
    teams_path = f"/webhookb2/{canaries['teams key in the path']}/IncomingWebhook/x?sig={canaries['teams key in the query']}"
    monkeypatch.setenv("TEST_HOOK_SECRET", canaries["webhook secret"])
    monkeypatch.setenv("TEST_TEAMS_GONE_URL", f"http://{gone}{teams_path}")
    with PlayedServer(failing(500)) as receiver:
        monkeypatch.setenv("TEST_TEAMS_URL", receiver.url + teams_path)
        monkeypatch.setenv("TEST_HOOK_URL", f"{receiver.url}/services/{canaries['webhook key in the path']}")
        with_password = receiver.url.replace("//", f"//sla:{canaries['alertmanager password']}@")
        monkeypatch.setenv("TEST_AM_URL", with_password)
        hooks = alert_catalogue(tmp_path, CHANNELS.format(alertmanager_gone=f"http://sla:{canaries['alertmanager password']}@{gone}"))
        store_scores(engine, T_ALERT, burn=20.0)
        assert evaluate(engine, hooks, T_ALERT).notifications
        policy = alert_delivery.Policy(base_s=60, cap_s=600, max_attempts=5, lease_s=300)
        delivered = alert_delivery.deliver(engine, hooks, T_ALERT, alert_delivery.default_senders(), policy)
    assert len(delivered.retried) == 5 and not delivered.sent  # one failed attempt per channel
    assert {r.path.split("/")[1] for r in receiver.requests} == {"webhookb2", "services", "api"}  # all were sent
    assert main(["--config", str(tmp_path / "config"), "--db", database_url, "notifications", "list"]) == 0
    out, err = capsys.readouterr()
    produced = {
        "logs": logs_text(caplog),
        "stdout/stderr": out + err,
        "database": database_text(engine),
        "metrics": scrape_metrics(engine, hooks),
    }
    assert "500" in produced["database"] and "cannot connect" in produced["database"]  # the errors were recorded
    assert leaks(canaries, produced) == [], leaked_lines(token, produced)

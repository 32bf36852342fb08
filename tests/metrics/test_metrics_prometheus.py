"""A real Prometheus (Debian's package, started here on loopback with its own storage folder)
scrapes `sla-worker metrics serve`; PromQL through its HTTP API returns the stored values, and
every query of the Grafana dashboards is valid PromQL to it.

Skipped, saying why, when `prometheus` is not installed — except in CI
(SLA_TEST_REQUIRE_PROMETHEUS=1), where that is a failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from worker.domain.model import AgreementKind, ObjectiveType, Result, Status
from worker.metrics.collector import STATUS_CODES, ratio
from worker.scoring.periods import period_of
from worker.storage.engine import make_engine
from worker.storage.migrate import upgrade
from worker.storage.results import upsert_results
from worker.storage.task_durations import record_duration
from worker.storage.watermarks import Progress, record_success

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests" / "golden" / "suppliers-2026-10"  # the trust's agreements and two suppliers' contracts
EXPECTED = json.loads((CASE / "expected" / "2026-10.json").read_text())
pytestmark = pytest.mark.timeout(120)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed (Debian: apt-get install prometheus)"
    if os.environ.get("SLA_TEST_REQUIRE_PROMETHEUS"):
        pytest.fail(f"SLA_TEST_REQUIRE_PROMETHEUS is set but {reason}")
    print(f"skipped: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout_s: float, what: str, *processes: subprocess.Popen):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args[0]} exited while waiting for {what}"
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def golden_results_for(period: str) -> list[Result]:
    return [
        Result(**{**{k: v for k, v in r.items() if k not in ("type", "status", "kind")}, "period": period,
                  "type": ObjectiveType(r["type"]), "status": Status(r["status"]), "kind": AgreementKind(r["kind"])})
        for r in EXPECTED
    ]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """The golden results stored as the current period's, the exporter serving them, and a
    Prometheus scraping it every second. Yields the Prometheus API base URL."""
    prometheus = tool("prometheus")
    tmp_path = tmp_path_factory.mktemp("prometheus-stack")
    database_url = f"sqlite:///{tmp_path / 'sla.sqlite'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    now = datetime.now(timezone.utc)
    # The current period in London, and the next one in case the month turns during the test.
    periods = {period_of(now.timestamp(), "Europe/London"), period_of((now + timedelta(minutes=5)).timestamp(), "Europe/London")}
    with engine.begin() as conn:
        for period in periods:
            upsert_results(conn, golden_results_for(period), computed_at=now)
        record_success(conn, "drop", now, [Progress("epr/up", stored=44640, refused=3)])
        record_duration(conn, "sla.score_pending", 1.2)
        record_duration(conn, "sla.score_pending", 0.3)
    engine.dispose()

    exporter_addr = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env.update(SLA_CONFIG_DIR=str(CASE / "config"), SLA_DATABASE_URL=database_url, SLA_METRICS_ADDR=exporter_addr)
    exporter_log = tmp_path / "exporter.log"
    with exporter_log.open("wb") as out:
        exporter = subprocess.Popen([sys.executable, "-m", "worker.cli", "metrics", "serve"], env=env, cwd=tmp_path,
                                    stdout=out, stderr=subprocess.STDOUT)
    prometheus_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: sla-worker\n    static_configs: [{{targets: ['{exporter_addr}']}}]\n"
    )
    prometheus_log = tmp_path / "prometheus.log"
    with prometheus_log.open("wb") as out:
        server = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prometheus_port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{prometheus_port}"
    try:
        wait_for(lambda: "serving http://" in exporter_log.read_text(), 30, "the exporter", exporter)
        wait_for(lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=2).status == 200, 30, "Prometheus", server)
        yield base
    finally:
        stop(server)
        stop(exporter)
        print(prometheus_log.read_text()[-2000:])


def query(base: str, promql: str) -> dict:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_prometheus_scrapes_the_exporter_and_promql_returns_the_stored_compliance(stack: str):
    selector = 'sla_objective_compliance_ratio{agreement="core-2026",customer="acute",objective="epr-availability"}'
    result = wait_for(lambda: query(stack, selector)["data"]["result"], 30, "the first scrape")
    expected = next(r for r in EXPECTED if (r["agreement"], r["customer"], r["objective"]) == ("core-2026", "acute", "epr-availability"))
    (series,) = result
    assert series["metric"] == {
        "__name__": "sla_objective_compliance_ratio", "job": "sla-worker", "instance": series["metric"]["instance"],
        "agreement": "core-2026", "customer": "acute", "service": "epr", "objective": "epr-availability", "type": "availability",
        "kind": "agreement",
    }
    assert float(series["value"][1]) == ratio(expected["value"]) == pytest.approx(expected["value"] / 100, rel=1e-15)
    assert query(stack, 'up{job="sla-worker"}')["data"]["result"][0]["value"][1] == "1"

    statuses = query(stack, "sla_objective_status")["data"]["result"]
    assert len(statuses) == len(EXPECTED)
    for s in statuses:
        stored = next(r for r in EXPECTED if (r["agreement"], r["customer"], r["objective"]) == (
            s["metric"]["agreement"], s["metric"]["customer"], s["metric"]["objective"]))
        assert float(s["value"][1]) == STATUS_CODES[stored["status"]]
    contracts = query(stack, 'sla_objective_status{kind="contract"}')["data"]["result"]
    assert {(c["metric"]["agreement"], c["metric"]["customer"]) for c in contracts} == {
        (r["agreement"], r["customer"]) for r in EXPECTED if r["kind"] == "contract"
    } == {("epr-hosting-2026", "hostco"), ("wifi-2026", "carrier")}
    count = query(stack, 'sla_task_duration_seconds_count{task="sla.score_pending"}')["data"]["result"]
    assert count[0]["value"][1] == "2"
    ingested = query(stack, 'sla_samples_ingested_total{source="drop",signal="up"}')["data"]["result"]
    assert ingested[0]["value"][1] == "44640"


GRAFANA_VARIABLES = {"customer": "acute", "agreement": ".+", "window": "1h|6h", "__rate_interval": "1m", "__range": "1h",
                     "__interval": "15s"}


def dashboard_queries() -> list[tuple[str, str, str]]:
    found = []

    def walk(name: str, panels: list[dict]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((name, panel["title"], target["expr"]))
            walk(name, panel.get("panels", []))

    for path in sorted((ROOT / "dashboards").glob("*.json")):
        walk(path.stem, json.loads(path.read_text())["panels"])
    return found


def grafana_to_promql(expr: str) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: GRAFANA_VARIABLES[m.group(1)], expr)


def test_every_dashboard_query_is_valid_promql_and_the_objective_panels_have_data(stack: str):
    wait_for(lambda: query(stack, "sla_objective_status")["data"]["result"], 30, "the first scrape")
    time.sleep(2.5)  # a few scrapes, so that rate() and increase() have two points
    empty = []
    for dashboard, title, expr in dashboard_queries():
        answer = query(stack, grafana_to_promql(expr))
        assert answer["status"] == "success", (dashboard, title, expr, answer)
        # Families this database has nothing for (burn rates, alerts, notifications,
        # reports) may be empty; everything about objectives, sources and tasks shows data.
        if not answer["data"]["result"] and not re.search(r"sla_(burn_rate|alerts|notifications|reports)", expr):
            empty.append(f"{dashboard}: {title}: {expr}")
    assert not empty

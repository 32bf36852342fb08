"""`promtool check metrics` (Prometheus's own linter: names, units, `_total`, HELP) passes on
the exposition with no warning, and `promtool check config` on the compose stack's config.

promtool comes with Debian's `prometheus` package (.ci/run installs it). Without it these
tests are skipped, saying why — except in CI (SLA_TEST_REQUIRE_PROMETHEUS=1), where that is
a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.metrics.burn_rates import refresh_burn_rates
from worker.metrics.exposition import render
from worker.metrics.server import make_registry
from worker.storage.task_durations import record_duration
from worker.storage.watermarks import Progress, record_failure, record_success
from worker.usecases.ingest import ingest
from worker.usecases.score import score_period

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests" / "golden" / "trust-2026-10"
DURING = datetime(2026, 10, 20, 12, tzinfo=timezone.utc)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed (Debian: apt-get install prometheus)"
    if os.environ.get("SLA_TEST_REQUIRE_PROMETHEUS"):
        pytest.fail(f"SLA_TEST_REQUIRE_PROMETHEUS is set but {reason}")
    print(f"skipped: {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("series", ["per_customer", "per_agreement"])
def test_the_exposition_passes_promtool_check_metrics_with_no_warning(engine: Engine, series: str):
    promtool = tool("promtool")
    catalogue = load_catalogue(CASE / "config")
    for kind in ("incidents", "maintenance", "samples"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), DURING)
    score_period(engine, catalogue, "2026-10", DURING, 6 * 3600.0)
    refresh_burn_rates(engine, catalogue, DURING)
    with engine.begin() as conn:
        record_success(conn, "drop", DURING, [Progress("epr/up", stored=10, refused=1)])
        record_failure(conn, "drop", "incidents", DURING, "unreadable file")
        for seconds in (0.02, 1.5, 45.0):
            record_duration(conn, "sla.score_pending", seconds)
    text = render(make_registry(engine, lambda: catalogue, lambda: DURING, series).collect())
    assert (b"sla_objective_customers{" in text) == (series == "per_agreement")
    assert b"sla_burn_rate{" in text and b"sla_task_duration_seconds_bucket{" in text and b"sla_objective_status{" in text
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b"", done.stdout + done.stderr


def test_the_stack_prometheus_config_passes_promtool_check_config():
    promtool = tool("promtool")
    done = subprocess.run(
        [promtool, "check", "config", str(ROOT / "config" / "prometheus" / "prometheus.yml")],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout and "WARNING" not in (done.stdout + done.stderr).upper()

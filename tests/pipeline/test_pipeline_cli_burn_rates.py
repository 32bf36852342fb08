"""Scoring is one use case, whoever runs it (issue 12 item 3): the real `sla-worker score`
command leaves the burn rates that the worker's scoring leaves, so /metrics serves
`sla_burn_rate` and the alert rules see current windows after a command-line run."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from worker.config import load_catalogue
from worker.metrics.burn_rates import compute_burn_rates
from worker.metrics.collector import StoredStateCollector
from worker.scoring.windows import WINDOWS
from worker.storage.burn_rates import StoredBurnRate, load_burn_rates
from worker.storage.engine import read_only

CONFIG = """
calendars:
  - {id: always, hours: 24x7}
services:
  - {id: epr, name: Electronic Patient Record}
customers:
  - {id: acute, name: Acute Services}
agreements:
  - id: core
    name: Core clinical systems
    customers: [acute]
    objectives:
      - {id: epr-availability, service: epr, type: availability, target: 99.5, calendar: always}
"""


def sla_worker(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def last_two_hours(now: datetime) -> str:
    """One `up` sample a minute for the last two hours, the last ten minutes down."""
    rows = ["timestamp,service,signal,value"]
    for minute in range(120, 0, -1):
        at = now - timedelta(minutes=minute)
        rows.append(f"{at:%Y-%m-%dT%H:%M:00Z},epr,up,{0 if minute <= 10 else 1}")
    return "\n".join(rows) + "\n"


def by_key(b: StoredBurnRate) -> tuple[str, str, str, str]:
    return (b.agreement, b.customer, b.objective, b.window)


def test_the_score_command_stores_the_burn_rates_the_metrics_serve(engine, database_url, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "all.yaml").write_text(CONFIG)
    samples = tmp_path / "samples.csv"
    samples.write_text(last_two_hours(datetime.now(timezone.utc)))
    base = ("--config", str(config), "--db", database_url)

    ingested = sla_worker(*base, "ingest", "samples", str(samples), cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    with read_only(engine) as conn:
        assert load_burn_rates(conn) == [], "ingesting alone scores nothing"

    scored = sla_worker(*base, "score", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr

    with read_only(engine) as conn:
        stored = load_burn_rates(conn)
    assert {(b.agreement, b.customer, b.objective, b.window) for b in stored} == {
        ("core", "acute", "epr-availability", w) for w in WINDOWS
    }
    by_window = {b.window: b for b in stored}
    assert by_window["1h"].bad >= 600.0 and by_window["1h"].burn_rate is not None and by_window["1h"].burn_rate > 0

    # The very figures the worker's path computes at the same instant.
    catalogue = load_catalogue(config)
    (computed_at,) = {b.computed_at for b in stored}
    assert sorted(compute_burn_rates(engine, catalogue, computed_at), key=by_key) == sorted(stored, key=by_key)

    families = {f.name: f for f in StoredStateCollector(engine, lambda: catalogue, lambda: computed_at).collect()}
    served = {s.labels["window"]: s.value for s in families["sla_burn_rate"].samples}
    assert served == {b.window: b.burn_rate for b in stored if b.burn_rate is not None}
    assert served["1h"] == by_window["1h"].burn_rate

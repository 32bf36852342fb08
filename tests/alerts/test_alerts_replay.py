"""Replay a synthetic month through real scoring, burn rates, alert evaluation and delivery
with a frozen clock that advances: a major outage pages once, repeats every
repeat_interval while firing and resolves once; a quiet month sends nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alert_fixtures import Receiver

from worker.alerts import delivery
from worker.alerts.evaluate import evaluate
from worker.config import load_catalogue
from worker.metrics.burn_rates import refresh_burn_rates
from worker.usecases.ingest import ingest
from worker.usecases.score import score_period

CONFIG = """
calendars:
  - {id: always, hours: 24x7}
services:
  - {id: epr, name: Electronic Patient Record}
customers:
  - {id: acute, name: Acute Services}
  - {id: community, name: Community Services}
agreements:
  - id: core
    name: Core clinical systems
    customers: [acute, community]
    effective: {from: 2026-04-01, to: 2027-03-31}
    objectives:
      - {id: epr-availability, service: epr, type: availability, target: 99.5, calendar: always}
channels:
  - {id: pager, kind: webhook, url_env: TEST_PAGER_URL, severities: [page], repeat_interval: 30m}
"""
START = datetime(2026, 10, 1, 0, 0, tzinfo=timezone.utc)
OUTAGE = (datetime(2026, 10, 14, 10, 0, tzinfo=timezone.utc), datetime(2026, 10, 14, 11, 30, tzinfo=timezone.utc))


def samples(until: datetime, outage: tuple[datetime, datetime] | None) -> bytes:
    lines = ["timestamp,service,signal,value"]
    at = START
    while at < until:
        down = outage is not None and outage[0] <= at < outage[1]
        lines.append(f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')},epr,up,{0 if down else 1}")
        at += timedelta(minutes=1)
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def pager(monkeypatch):
    r = Receiver().start()
    monkeypatch.setenv("TEST_PAGER_URL", r.url)
    yield r
    r.stop()


def run_at(engine, catalogue, now):
    score_period(engine, catalogue, "2026-10", now, 6 * 3600)
    refresh_burn_rates(engine, catalogue, now)
    evaluate(engine, catalogue, now)
    delivery.deliver(engine, catalogue, now, delivery.default_senders())


def setup(engine, tmp_path, outage):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "all.yaml").write_text(CONFIG)
    catalogue = load_catalogue(tmp_path / "config")
    ingest(engine, catalogue, "samples", samples(datetime(2026, 10, 15, tzinfo=timezone.utc), outage), START)
    return catalogue


def test_major_outage_pages_once_repeats_and_resolves_once(engine, tmp_path, pager):
    catalogue = setup(engine, tmp_path, OUTAGE)
    now = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)
    while now <= datetime(2026, 10, 14, 13, 0, tzinfo=timezone.utc):
        run_at(engine, catalogue, now)
        now += timedelta(minutes=5)
    seen = [(r["body"]["groupLabels"]["alertname"], r["body"]["status"], r["body"]["alerts"][0]["startsAt"]) for r in pager.requests]
    fast = [s for s in seen if s[0] == "fast-burn"]
    firing = [s for s in fast if s[1] == "firing"]
    resolved = [s for s in fast if s[1] == "resolved"]
    assert len({s[2] for s in fast}) == 1  # one episode
    assert len(resolved) == 1
    # 10:05 first page (the 5m window is all down), repeats at 10:35 and 11:05; at 11:35 the
    # 5m window is clean again and it resolves.
    assert firing[0][2] == "2026-10-14T10:05:00+00:00" and len(firing) == 3
    resolve = next(r for r in pager.requests if r["body"]["status"] == "resolved" and r["body"]["groupLabels"]["alertname"] == "fast-burn")
    assert {a["endsAt"] for a in resolve["body"]["alerts"]} == {"2026-10-14T11:35:00+00:00"}
    assert all(len(r["body"]["alerts"]) == 2 for r in pager.requests if r["body"]["groupLabels"]["alertname"] == "fast-burn")
    assert len(set(pager.keys())) == len(pager.keys())


def test_quiet_month_sends_nothing(engine, tmp_path, pager):
    catalogue = setup(engine, tmp_path, None)
    now = datetime(2026, 10, 1, 6, 0, tzinfo=timezone.utc)
    while now < datetime(2026, 10, 15, tzinfo=timezone.utc):
        run_at(engine, catalogue, now)
        now += timedelta(hours=6)
    assert pager.requests == []

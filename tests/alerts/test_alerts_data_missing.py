"""data-missing (SPEC 7) from real samples: coverage of the last hour of counted time is the
share of it that has data, whatever the objective's missing_data policy — an objective that
counts missing data as down (or up) still needs someone to know the data stopped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alert_fixtures import CONFIG
from sqlalchemy import select

from worker.alerts.evaluate import evaluate
from worker.config import load_catalogue
from worker.metrics.burn_rates import refresh_burn_rates
from worker.storage.tables import alerts
from worker.usecases.ingest import ingest
from worker.usecases.score import score_pending

T0 = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)
SERVICES = """
services:
  - {id: epr, name: Electronic Patient Record, signals: {up: {source: drop}}}
  - {id: pas, name: Patient Administration, signals: {up: {source: drop}}}
sources:
  - {id: drop, kind: file_drop, path: var/incoming}
"""


def catalogue_with_policies(tmp_path):
    """EPR counts missing data as down, PAS as up: both would hide a silent feed."""
    config = tmp_path / "config"
    config.mkdir()
    text = CONFIG.split("services:")[0] + SERVICES + "customers:" + CONFIG.split("customers:", 1)[1]
    text = text.replace("type: availability, target: 99.5, calendar: always}", "type: availability, target: 99.5, calendar: always, missing_data: MODE}")
    text = text.replace("MODE", "down", 1).replace("MODE", "up", 1)
    (config / "all.yaml").write_text(text)
    return load_catalogue(config)


def up_samples(start: datetime, end: datetime) -> bytes:
    lines, at = ["timestamp,service,signal,value"], start
    while at < end:
        lines += [f"{at:%Y-%m-%dT%H:%M:%SZ},{service},up,1" for service in ("epr", "pas")]
        at += timedelta(minutes=1)
    return ("\n".join(lines) + "\n").encode()


def missing(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(alerts.c.customer, alerts.c.objective).where(alerts.c.rule == "data-missing", alerts.c.firing_since.is_not(None))
        ).all()
    return {tuple(r) for r in rows}


def run(engine, cat, now):
    score_pending(engine, cat, now, 6 * 3600.0)
    refresh_burn_rates(engine, cat, now)
    return evaluate(engine, cat, now)


def test_a_feed_that_stops_fires_data_missing_whatever_the_missing_data_policy(engine, tmp_path):
    cat = catalogue_with_policies(tmp_path)
    assert {o.id: o.missing_data.value for a in cat.agreements.values() for o in a.objectives} == {
        "epr-availability": "down", "pas-availability": "up"
    }
    ingest(engine, cat, "samples", up_samples(T0 - timedelta(hours=6), T0 - timedelta(minutes=1)), T0)
    run(engine, cat, T0)
    assert missing(engine) == set(), "a fully covered hour is not data-missing"

    later = T0 + timedelta(minutes=50)  # the feed stopped at 09:00: 10 minutes of the last hour have data
    run(engine, cat, later)
    assert missing(engine) == {(c, o) for c in ("acute", "community") for o in ("epr-availability", "pas-availability")}

    back = later + timedelta(minutes=60)
    ingest(engine, cat, "samples", up_samples(T0, back), back)
    run(engine, cat, back)
    assert missing(engine) == set(), "data back for the last hour: resolved"

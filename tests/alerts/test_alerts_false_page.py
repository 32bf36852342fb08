"""The reported false page (issue 12 item 5): two hours of EPR samples with 15 minutes down,
dropped on the 3rd of the month, paged `breached` ("the 99.5 % target can no longer be met")
and quoted "budget left −1199 %", while the whole month's budget is 3 h 43 min. Through the
real path: samples ingested into a real database, scored by the pipeline, alerts evaluated.

December 2026 in Europe/London is 31 days of UTC: |C| = 2,678,400 s, and at 99.5 % the month
allows 13,392 s (3 h 43 min 12 s) of bad time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alert_fixtures import CONFIG
from sqlalchemy import select

from worker.alerts.channels import lines
from worker.alerts.evaluate import evaluate
from worker.config import load_catalogue
from worker.metrics.burn_rates import refresh_burn_rates
from worker.metrics.collector import StoredStateCollector
from worker.storage import alerts as alert_store
from worker.storage.engine import read_only
from worker.storage.tables import alerts
from worker.usecases.ingest import ingest
from worker.usecases.results import read_results
from worker.usecases.score import score_pending

MONTH_S = 31 * 86_400
START = datetime(2026, 12, 3, 0, 0, tzinfo=timezone.utc)  # the 3rd, midnight (GMT in December)
NOW = START + timedelta(hours=2)


def two_hours_with_15_minutes_down() -> bytes:
    rows = ["timestamp,service,signal,value"]
    for minute in range(120):
        down = minute >= 105  # the last quarter of an hour
        rows.append(f"{START + timedelta(minutes=minute):%Y-%m-%dT%H:%M:%SZ},epr,up,{0 if down else 1}")
    return ("\n".join(rows) + "\n").encode()


def firing_rules(engine) -> set[str]:
    with engine.connect() as conn:
        query = select(alerts.c.rule).where(alerts.c.objective == "epr-availability", alerts.c.firing_since.is_not(None))
        return set(conn.execute(query).scalars())


# missing_data ignore: W = the 7,200 s measured + the counted time still to come (the 1st, the
# 2nd and the first two hours of the 3rd were counted without data and count for nothing).
# missing_data up: W = |C| of the whole month, the 1 − 900 / 13,392.
GONE_S = 2 * 86_400 + 7_200
EXPECTED = {
    "ignore": 1 - 900 / (0.005 * (7_200 + MONTH_S - GONE_S)),
    "up": 1 - 900 / (0.005 * MONTH_S),
}


@pytest.mark.parametrize("policy", ["ignore", "up"])
def test_two_hours_with_15_minutes_down_on_the_3rd_pages_no_breach(engine, tmp_path, monkeypatch, policy):
    monkeypatch.setenv("TEST_HOOK_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("TEST_HOOK_SECRET", "s")
    config = tmp_path / "config"
    config.mkdir()
    plain = "{id: epr-availability, service: epr, type: availability, target: 99.5, calendar: always}"
    (config / "all.yaml").write_text(CONFIG.replace(plain, plain[:-1] + f", missing_data: {policy}}}"))
    cat = load_catalogue(config)
    assert cat.agreements["core"].objectives[0].missing_data.value == policy

    ingest(engine, cat, "samples", two_hours_with_15_minutes_down(), NOW)
    score_pending(engine, cat, NOW, 6 * 3600.0)
    refresh_burn_rates(engine, cat, NOW)  # then the alert evaluation task: burn rates at now, the rules
    evaluate(engine, cat, NOW)

    stored = {r.customer: r for r in read_results(engine, "2026-12") if r.objective == "epr-availability"}
    assert {(r.bad, r.final) for r in stored.values()} == {(900.0, False)}
    assert stored["acute"].error_budget_remaining == pytest.approx(EXPECTED[policy], rel=1e-12)
    assert 0.9 < stored["acute"].error_budget_remaining < 0.95

    fired = firing_rules(engine)
    assert "breached" not in fired and "budget-low" not in fired  # (at-risk, a forecast, may say "at this rate")
    assert "fast-burn" in fired  # the last 15 minutes down: the budget is truly burning fast

    # The page that does go out quotes the same stored budget, as a share of the whole month's.
    with read_only(engine) as conn:
        texts = [line for n in alert_store.unsent(conn) for line in lines(n.payload)]
    left = f"budget left {EXPECTED[policy] * 100:.0f} % of the period's"
    assert texts and all(left in t for t in texts), texts

    # /metrics serves that one stored figure too.
    families = {f.name: f for f in StoredStateCollector(engine, lambda: cat, lambda: NOW).collect()}
    budgets = {s.labels["customer"]: s.value for s in families["sla_error_budget_remaining_ratio"].samples
               if s.labels["objective"] == "epr-availability"}
    assert budgets == {c: r.error_budget_remaining for c, r in stored.items()}

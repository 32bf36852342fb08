"""Alert evaluation by shard (issue 16): the shards of one count, evaluated one after another
at each moment, leave exactly the alert state, transitions and outbox (rows, payloads,
Idempotency-Keys, items) that one whole evaluation leaves — through firing, repeats, a
silence, a source failing and resolves, on shared services and per-customer instances alike,
on every database engine."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alert_fixtures import CONFIG
from sqlalchemy import Engine, delete, select, text

from worker.alerts.evaluate import _hold_evaluation_lock, evaluate
from worker.config import load_catalogue
from worker.domain.model import Catalogue, ObjectiveType, Result, Status
from worker.scoring.shards import Shard, shard_of
from worker.storage import alerts as alert_store
from worker.storage.burn_rates import StoredBurnRate, upsert_burn_rates
from worker.storage.locks import ALERT_EVALUATION_LOCK_ID, ALERT_SLOT_LOCK, is_sqlite
from worker.storage.results import upsert_results
from worker.storage.tables import (
    alert_transitions,
    alerts,
    burn_rates,
    notification_items,
    notifications,
    results,
    silences,
    watermarks,
)

T0 = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)
SHARDS = 3
EXTRA = """
  - id: site-link
    name: Site link
    per_customer: true
"""
LINKS = """
  - id: links
    name: Site links
    customers: [acute, community]
    effective: {from: 2026-04-01, to: 2027-03-31}
    objectives:
      - {id: link-up, service: site-link, type: availability, target: 99.0, calendar: always}
"""
CHANNELS = """
  - {id: acute-only, kind: webhook, url_env: TEST_HOOK_URL, customers: [acute], repeat_interval: 4h}
  - {id: links, kind: webhook, url_env: TEST_HOOK_URL, services: [site-link], repeat_interval: 4h}
"""
# (agreement, customer, objective, service) → (burn rate of every window, bad seconds so far), per moment
STEPS: list[tuple[timedelta, dict[tuple[str, str, str, str], tuple[float, float]], int]] = [
    (timedelta(0), {
        ("core", "acute", "epr-availability", "epr"): (20.0, 0.0),
        ("core", "community", "epr-availability", "epr"): (20.0, 0.0),
        ("core", "acute", "pas-availability", "pas"): (8.0, 0.0),
        ("core", "community", "pas-availability", "pas"): (0.0, 20_000.0),
        ("links", "acute", "link-up", "site-link.acute"): (20.0, 0.0),
        ("links", "community", "link-up", "site-link.community"): (2.0, 30_000.0),
    }, 3),
    (timedelta(hours=5), {}, 3),  # the same again: repeats (silenced ones excepted)
    (timedelta(hours=6), {
        ("core", "acute", "epr-availability", "epr"): (0.0, 0.0),
        ("core", "community", "epr-availability", "epr"): (0.0, 0.0),
        ("links", "acute", "link-up", "site-link.acute"): (0.0, 0.0),
    }, 0),  # EPR and the acute link recover; the source works again
]


@pytest.fixture
def catalogue(tmp_path: Path) -> Catalogue:
    config = tmp_path / "config"
    config.mkdir()
    text = CONFIG.replace("customers:\n", EXTRA.lstrip("\n") + "customers:\n", 1)
    text = text.replace("channels:\n", LINKS.lstrip("\n") + "channels:\n", 1) + CHANNELS.lstrip("\n")
    (config / "all.yaml").write_text(text)
    return load_catalogue(config)


def store(engine: Engine, now: datetime, scores: dict[tuple[str, str, str, str], tuple[float, float]], failures: int) -> None:
    """Period-to-date results, fully counted burn-rate windows, and a source's failures in a row."""
    total = 1_000_000.0
    lengths = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 21600, "3d": 259200}
    scored, rates = [], []
    for (agreement, customer, objective, service), (burn, bad) in scores.items():
        target = 99.0 if agreement == "links" else 99.5
        budget = (100 - target) / 100 * total
        scored.append(Result(
            "2026-10", agreement, customer, service, objective, ObjectiveType.AVAILABILITY, target, None,
            100 * (total - bad) / total, Status.GREEN, total - bad, bad, total, "seconds", 1.0, 1 - bad / budget, False,
        ))
        rates += [StoredBurnRate(agreement, customer, objective, w, 0.0, 0.0, float(n), burn, now) for w, n in lengths.items()]
    with engine.begin() as conn:
        if scored:
            upsert_results(conn, scored, computed_at=now)
            upsert_burn_rates(conn, rates)
        conn.execute(delete(watermarks))
        conn.execute(watermarks.insert().values(source="drop", stream="epr/up", failures_in_row=failures))


def replay(engine: Engine, catalogue: Catalogue, evaluate_at) -> dict[str, list]:
    """Every step stored and evaluated by `evaluate_at(now)`; what the alert tables hold after."""
    for offset, scores, failures in STEPS:
        now = T0 + offset
        store(engine, now, scores, failures)
        if offset == timedelta(hours=5):
            with engine.begin() as conn:  # PAS for the community silenced from here on
                alert_store.add_silence(conn, "pas", now - timedelta(minutes=1), now + timedelta(days=1), "vendor work", now, "community")
        evaluate_at(now)
    return snapshot(engine)


def snapshot(engine: Engine) -> dict[str, list]:
    with engine.connect() as conn:
        keys = dict(conn.execute(select(notifications.c.id, notifications.c.idempotency_key)).all())
        outbox = [
            (r.channel, r.kind, r.event, r.idempotency_key, json.loads(r.payload), r.status, r.created_at)
            for r in conn.execute(select(notifications))
        ]
        items = [
            (r.rule, r.agreement, r.customer, r.objective, r.firing_since, r.event, r.sequence, r.channel, keys[r.notification_id])
            for r in conn.execute(select(notification_items))
        ]
        state = [tuple(r) for r in conn.execute(select(alerts))]
        changes = [tuple(r)[1:] for r in conn.execute(select(alert_transitions))]
    return {
        "alerts": sorted(state, key=repr), "transitions": sorted(changes, key=repr),
        "outbox": sorted(outbox, key=repr), "items": sorted(items, key=repr),
    }


def start_again(engine: Engine) -> None:
    """An empty database again (burn rates are kept only when newer than the stored ones)."""
    with engine.begin() as conn:
        for table in (notification_items, notifications, alert_transitions, alerts, silences, results, burn_rates):
            conn.execute(delete(table))


def test_the_shards_together_evaluate_exactly_what_one_whole_evaluation_does(engine: Engine, catalogue: Catalogue):
    whole = replay(engine, catalogue, lambda now: evaluate(engine, catalogue, now))
    start_again(engine)
    sharded = replay(
        engine, catalogue, lambda now: [evaluate(engine, catalogue, now, shard=Shard(n, SHARDS)) for n in range(SHARDS)]
    )

    assert sharded == whole
    rules = {(item[0], item[5]) for item in whole["items"]}
    assert {("fast-burn", "firing"), ("fast-burn", "repeat"), ("fast-burn", "resolved"), ("breached", "firing"),
            ("data-missing", "firing"), ("data-missing", "resolved")} <= rules, "the replay covers firing, repeats and resolves"
    services = {payload["service"] for _, _, _, _, payload, _, _ in whole["outbox"]}
    assert len({shard_of(s, SHARDS) for s in services}) == SHARDS, "every shard had messages of its own to write"


def test_a_message_groups_the_alerts_of_one_service_so_a_shard_holds_every_alert_of_its_messages(engine: Engine, catalogue: Catalogue):
    replay(engine, catalogue, lambda now: [evaluate(engine, catalogue, now, shard=Shard(n, SHARDS)) for n in range(SHARDS)])
    with engine.connect() as conn:
        payloads = [json.loads(p) for p in conn.execute(select(notifications.c.payload)).scalars()]
    epr_firing = [p for p in payloads if p["service"] == "epr" and p["rule"] == "fast-burn" and p["event"] == "firing"]
    assert sorted(sorted(a["customer"] for a in p["alerts"]) for p in epr_firing) == [["acute"], ["acute", "community"]]


def test_a_shard_evaluated_twice_at_once_notifies_nothing_twice(engine: Engine, catalogue: Catalogue):
    _, scores, failures = STEPS[0]
    store(engine, T0, scores, failures)
    for n in range(SHARDS):
        evaluate(engine, catalogue, T0, shard=Shard(n, SHARDS))
    first = snapshot(engine)
    for n in range(SHARDS):
        evaluate(engine, catalogue, T0, shard=Shard(n, SHARDS))
    assert snapshot(engine) == first


def test_a_shard_keeps_out_the_same_shard_and_a_whole_evaluation_but_not_another_shard(engine: Engine):
    if is_sqlite(engine):
        pytest.skip("SQLite takes no advisory lock: BEGIN IMMEDIATE already lets one writer in")
    exclusive, shared = text("SELECT pg_try_advisory_xact_lock(:id)"), text("SELECT pg_try_advisory_xact_lock_shared(:id)")
    slot = text("SELECT pg_try_advisory_xact_lock(:c, :s)")
    with engine.begin() as holder:
        _hold_evaluation_lock(holder, Shard(1, SHARDS))
        with engine.connect() as other:
            same, another = Shard(1, SHARDS).slots[0], Shard(2, SHARDS).slots[0]
            assert other.execute(slot, {"c": ALERT_SLOT_LOCK, "s": same}).scalar_one() is False, "the same shard waits"
            assert other.execute(exclusive, {"id": ALERT_EVALUATION_LOCK_ID}).scalar_one() is False, "a whole evaluation waits"
            assert other.execute(shared, {"id": ALERT_EVALUATION_LOCK_ID}).scalar_one() is True
            assert other.execute(slot, {"c": ALERT_SLOT_LOCK, "s": another}).scalar_one() is True, "another shard goes ahead"
            other.rollback()

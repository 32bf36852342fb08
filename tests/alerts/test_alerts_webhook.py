"""Evaluation → outbox → delivery to a real webhook receiver on loopback, on every engine:
one transaction for state and outbox, grouped messages, signatures, retries with back-off,
order after an outage, and one delivery per idempotency key across a crash."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest
from alert_fixtures import CONFIG, Receiver, catalogue, store_scores
from sqlalchemy import func, select

from worker.alerts import delivery
from worker.alerts.evaluate import evaluate
from worker.config import load_catalogue
from worker.domain.model import Incident, ObjectiveType, Result, Status
from worker.storage import alerts as store
from worker.storage.incidents import store_incidents
from worker.storage.results import upsert_results
from worker.storage.tables import alert_transitions, alerts, notifications, watermarks

T0 = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)
SECRET = "s3cret"
POLICY = delivery.Policy(base_s=60, cap_s=600, max_attempts=5, lease_s=300)


@pytest.fixture
def receiver(monkeypatch):
    r = Receiver().start()
    monkeypatch.setenv("TEST_HOOK_URL", r.url)
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    yield r
    r.stop()


def deliver(engine, cat, now, **kw):
    return delivery.deliver(engine, cat, now, delivery.default_senders(), POLICY, **kw)


def test_fast_burn_for_a_shared_service_is_one_signed_message_listing_both_customers(engine, tmp_path, receiver):
    cat = catalogue(tmp_path)
    store_scores(engine, T0, burn=20.0)
    result = evaluate(engine, cat, T0)
    assert {t.key.rule for t in result.transitions} == {"fast-burn", "slow-burn", "at-risk"}
    assert result.notifications == 3  # one message per rule, each listing both customers
    report = deliver(engine, cat, T0)
    assert len(report.sent) == 3 and not report.failed
    fast = next(r for r in receiver.requests if r["body"]["groupLabels"]["alertname"] == "fast-burn")
    body = fast["body"]
    assert body["version"] == "4" and body["status"] == "firing"
    assert [a["labels"]["customer"] for a in body["alerts"]] == ["acute", "community"]
    assert {a["labels"]["severity"] for a in body["alerts"]} == {"page"}
    assert all(a["startsAt"] == T0.isoformat() and a["fingerprint"] for a in body["alerts"])
    assert "99.5 %" in body["alerts"][0]["annotations"]["description"]
    expected = "sha256=" + hmac.new(SECRET.encode(), fast["raw"], hashlib.sha256).hexdigest()
    assert fast["headers"]["X-SLA-Signature"] == expected
    assert fast["headers"]["Idempotency-Key"]


def test_evaluating_twice_notifies_once_then_repeats_and_resolves_once(engine, tmp_path, receiver):
    cat = catalogue(tmp_path)
    store_scores(engine, T0, burn=20.0)
    for minutes in (0, 5, 10):
        evaluate(engine, cat, T0 + timedelta(minutes=minutes))
    deliver(engine, cat, T0 + timedelta(minutes=10))
    assert len(receiver.requests) == 3
    evaluate(engine, cat, T0 + timedelta(hours=4))  # repeat_interval 4h
    resolved_at = T0 + timedelta(hours=5)
    store_scores(engine, resolved_at, burn=0.0)
    evaluate(engine, cat, resolved_at)
    evaluate(engine, cat, resolved_at + timedelta(minutes=5))
    deliver(engine, cat, resolved_at + timedelta(minutes=5))
    events = [(r["body"]["groupLabels"]["alertname"], r["body"]["status"]) for r in receiver.requests]
    assert events.count(("fast-burn", "firing")) == 2  # start + one repeat
    assert events.count(("fast-burn", "resolved")) == 1
    assert len(set(receiver.keys())) == len(receiver.keys())
    with engine.connect() as conn:
        history = conn.execute(select(alert_transitions.c.rule, alert_transitions.c.event).order_by(alert_transitions.c.id)).all()
        assert [tuple(h) for h in history].count(("fast-burn", "firing")) == 2  # one per customer
        assert [tuple(h) for h in history].count(("fast-burn", "resolved")) == 2
        row = conn.execute(select(alerts).where(alerts.c.rule == "fast-burn", alerts.c.customer == "acute")).one()
        assert row.firing_since is None and row.resolved_at == resolved_at


def test_silence_mutes_notifications_but_resolve_of_a_notified_alert_is_sent(engine, tmp_path, receiver):
    cat = catalogue(tmp_path)
    store_scores(engine, T0, burn=20.0)
    evaluate(engine, cat, T0)
    with engine.begin() as conn:
        store.add_silence(conn, "epr", T0, T0 + timedelta(hours=12), "known outage", T0)
    evaluate(engine, cat, T0 + timedelta(hours=4))  # a repeat would be due: silenced
    store_scores(engine, T0 + timedelta(hours=5), burn=0.0)
    evaluate(engine, cat, T0 + timedelta(hours=5))
    deliver(engine, cat, T0 + timedelta(hours=5))
    statuses = [r["body"]["status"] for r in receiver.requests]
    assert statuses.count("firing") == 3 and statuses.count("resolved") == 3  # fast, slow burn, at risk


def test_alert_starting_under_silence_is_not_notified(engine, tmp_path, receiver):
    cat = catalogue(tmp_path)
    with engine.begin() as conn:
        store.add_silence(conn, "epr", T0, T0 + timedelta(hours=2), "planned", T0)
    store_scores(engine, T0, burn=20.0)
    result = evaluate(engine, cat, T0)
    assert result.transitions and result.notifications == 0  # state changes, nobody is told
    store_scores(engine, T0 + timedelta(hours=1), burn=0.0)
    assert evaluate(engine, cat, T0 + timedelta(hours=1)).notifications == 0  # never notified: no resolve


def test_channel_down_for_an_hour_then_up_gets_everything_once_in_order(engine, tmp_path, receiver):
    cat = catalogue(tmp_path)
    receiver.down = True
    store_scores(engine, T0, burn=20.0)
    evaluate(engine, cat, T0)
    store_scores(engine, T0 + timedelta(minutes=30), burn=20.0, objective="pas-availability")
    evaluate(engine, cat, T0 + timedelta(minutes=30))
    with engine.connect() as conn:
        expected_order = [n.idempotency_key for n in sorted(store.unsent(conn), key=lambda n: n.id)]
    assert len(expected_order) == 6
    now = T0
    policy = delivery.Policy()  # the defaults keep trying for hours
    while now <= T0 + timedelta(hours=1):
        delivery.deliver(engine, cat, now, delivery.default_senders(), policy)
        now += timedelta(minutes=1)
    assert receiver.requests == []
    with engine.connect() as conn:
        first = conn.execute(select(notifications).order_by(notifications.c.id)).first()
        assert first.status == "pending" and first.retries >= 2 and first.last_error
    receiver.down = False
    while now <= T0 + timedelta(hours=2):
        delivery.deliver(engine, cat, now, delivery.default_senders(), policy)
        now += timedelta(minutes=1)
    assert receiver.keys() == expected_order
    with engine.connect() as conn:
        assert store.notification_counts(conn)[("hook", "sent")] == 6


def test_back_off_grows_exponentially_to_a_cap_then_fails(engine, tmp_path, receiver):
    cat = catalogue(tmp_path)
    receiver.down = True
    store_scores(engine, T0, burn=20.0, objective="pas-availability", customers=("acute",))
    evaluate(engine, cat, T0)
    waits, now = [], T0
    for _ in range(POLICY.max_attempts):
        deliver(engine, cat, now)
        with engine.connect() as conn:
            row = conn.execute(select(notifications).order_by(notifications.c.id)).first()
        if row.status == "failed":
            break
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert waits == [60, 120, 240, 480]  # then capped at 600 — but the fifth attempt gives up
    assert row.status == "failed" and row.attempts == POLICY.max_attempts
    with engine.connect() as conn:
        counts = store.notification_counts(conn)
        assert counts[("hook", "failed")] >= 1 and counts[("hook", "retry")] >= 4
        assert [n.status for n in store.list_notifications(conn, status="failed")]


def test_worker_dying_between_send_and_commit_gives_one_delivery_per_key(engine, tmp_path, receiver):
    cat = catalogue(tmp_path)
    store_scores(engine, T0, burn=20.0)
    evaluate(engine, cat, T0)

    class Killed(BaseException):
        pass

    def die(_row):
        raise Killed

    with pytest.raises(Killed):
        deliver(engine, cat, T0, after_send=die)
    assert len(receiver.requests) == 1
    deliver(engine, cat, T0 + timedelta(minutes=1))  # the claim is still fresh: nothing again
    assert len(receiver.requests) == 1
    deliver(engine, cat, T0 + timedelta(minutes=6))  # the dead worker's claim has expired
    deliver(engine, cat, T0 + timedelta(minutes=7))
    keys = receiver.keys()
    assert len(keys) == 4  # the first row once more (same key), then the other two
    assert keys[0] == keys[1] and len(set(keys)) == 3
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notifications).where(notifications.c.status == "sent")).scalar_one() == 3


def test_outbox_rows_exist_only_with_the_alert_change(engine, tmp_path, receiver, monkeypatch):
    cat = catalogue(tmp_path)
    store_scores(engine, T0, burn=20.0)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "record_transitions", broken)
    with pytest.raises(RuntimeError):
        evaluate(engine, cat, T0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notifications)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 0


def test_failing_source_and_incident_near_breach_are_evaluated_from_stored_state(engine, tmp_path, receiver):
    cat = catalogue(tmp_path)
    with engine.begin() as conn:
        conn.execute(watermarks.insert().values(source="prom", stream="epr/up", failures_in_row=3))
    store_scores(engine, T0, burn=0.0)
    result = evaluate(engine, cat, T0)
    assert [(t.key.rule, t.key.objective) for t in result.transitions] == [("data-missing", "prom")]
    with engine.connect() as conn:
        assert store.firing_counts(conn) == {("data-missing", "ticket"): 1}
    with engine.begin() as conn:
        conn.execute(watermarks.update().values(failures_in_row=0))
    assert [t.event.value for t in evaluate(engine, cat, T0 + timedelta(minutes=5)).transitions] == ["resolved"]


def test_open_incident_at_80_percent_of_within_fires_near_breach(engine, tmp_path, receiver):
    config = tmp_path / "config"
    config.mkdir()
    (config / "all.yaml").write_text(
        CONFIG.replace(
            "      - {id: pas-availability",
            "      - {id: desk-p2, service: epr, type: incident_resolution, priority: P2, within: 8h, target: 90, calendar: always}\n"
            "      - {id: pas-availability",
        )
    )
    cat = load_catalogue(config)
    opened = T0 - timedelta(hours=7)  # 7h of 8h used: 87.5 %
    with engine.begin() as conn:
        store_incidents(conn, [Incident("INC001", "epr", "P2", opened, customer="acute")], updated_at=T0)
        upsert_results(
            conn,
            [
                Result("2026-10", "core", c, "epr", "desk-p2", ObjectiveType.INCIDENT_RESOLUTION, 90.0, None, None,
                       Status.NO_DATA, 0.0, 0.0, 0.0, "incidents", None, None, False)
                for c in ("acute", "community")
            ],
            computed_at=T0,
        )
    result = evaluate(engine, cat, T0)
    assert [(t.key.rule, t.key.customer) for t in result.transitions] == [("incident-near-breach", "acute")]

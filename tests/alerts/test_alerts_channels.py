"""Teams and Alertmanager channels against a real HTTP receiver on loopback, and against a
real Alertmanager (Debian's prometheus-alertmanager) when installed (skipped otherwise)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from alert_fixtures import Receiver, catalogue, store_scores

from worker.alerts import delivery
from worker.alerts.evaluate import evaluate
from worker.scoring.periods import period_of

T0 = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def test_teams_card_lists_the_customers_in_plain_words(engine, tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("TEST_TEAMS_URL", receiver.url)
    cat = catalogue(tmp_path, "  - {id: teams, kind: teams, url_env: TEST_TEAMS_URL, severities: [page]}\n")
    store_scores(engine, T0, burn=20.0)
    evaluate(engine, cat, T0)
    delivery.deliver(engine, cat, T0, {"teams": delivery.default_senders()["teams"]})
    assert len(receiver.requests) == 1
    card = receiver.requests[0]["body"]["attachments"][0]["content"]
    texts = [block["text"] for block in card["body"]]
    assert card["type"] == "AdaptiveCard" and texts[0].startswith("[FIRING page] fast-burn: Electronic Patient Record")
    assert any("Acute Services" in t for t in texts) and any("Community Services" in t for t in texts)


def test_alertmanager_gets_labels_reposts_while_firing_and_ends_on_resolve(engine, tmp_path, receiver):
    base = receiver.url.removesuffix("/hook")
    cat = catalogue(tmp_path, f"  - {{id: am, kind: alertmanager, url: '{base}', severities: [page], repeat_interval: 1h}}\n")
    send = {"alertmanager": delivery.default_senders()["alertmanager"]}
    store_scores(engine, T0, burn=20.0)
    evaluate(engine, cat, T0)
    evaluate(engine, cat, T0 + timedelta(hours=1))
    store_scores(engine, T0 + timedelta(hours=2), burn=0.0)
    evaluate(engine, cat, T0 + timedelta(hours=2))
    delivery.deliver(engine, cat, T0 + timedelta(hours=2), send)
    assert [r["path"] for r in receiver.requests] == ["/api/v2/alerts"] * 3
    first, repeat, resolved = (r["body"] for r in receiver.requests)
    assert first[0]["labels"] == {
        "alertname": "fast-burn", "severity": "page", "agreement": "core", "customer": "acute", "service": "epr",
        "objective": "epr-availability",
    }
    assert "endsAt" not in first[0] and "endsAt" not in repeat[0]
    assert all(a["endsAt"] == (T0 + timedelta(hours=2)).isoformat() for a in resolved)


ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@pytest.fixture
def alertmanager_url(tmp_path):
    if ALERTMANAGER is None:
        reason = "prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager)"
        if os.environ.get("SLA_TEST_REQUIRE_PROMETHEUS"):
            pytest.fail(reason + "; CI (SLA_TEST_REQUIRE_PROMETHEUS) needs it")
        pytest.skip(reason)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    process = subprocess.Popen(
        [
            ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("alertmanager did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_real_alertmanager_shows_the_alert_while_firing_and_drops_it_on_resolve(engine, tmp_path, alertmanager_url):
    cat = catalogue(tmp_path, f"  - {{id: am, kind: alertmanager, url: '{alertmanager_url}', severities: [page]}}\n")
    send = {"alertmanager": delivery.default_senders()["alertmanager"]}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    period = period_of(now.timestamp(), "Europe/London")
    store_scores(engine, now, burn=20.0, period=period)
    evaluate(engine, cat, now)
    assert len(delivery.deliver(engine, cat, now, send).sent) == 1
    active = httpx.get(f"{alertmanager_url}/api/v2/alerts", timeout=5).json()
    assert sorted(a["labels"]["customer"] for a in active) == ["acute", "community"]
    assert {a["labels"]["alertname"] for a in active} == {"fast-burn"}
    later = now + timedelta(seconds=1)
    store_scores(engine, later, burn=0.0, period=period)
    evaluate(engine, cat, later)
    assert len(delivery.deliver(engine, cat, later, send).sent) == 1
    time.sleep(1.5)  # endsAt must be in Alertmanager's past
    assert httpx.get(f"{alertmanager_url}/api/v2/alerts", timeout=5).json() == []

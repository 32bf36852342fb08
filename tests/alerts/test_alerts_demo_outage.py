"""The demo's major outage (issue 6 "done when"): the bad month of `sla-worker demo` for the
example trust, replayed through real scoring, burn rates, alert evaluation and delivery with a
frozen clock that advances every 10 minutes across the outage day, gives the same expected
page sequence on every channel kind — email (a real SMTP server), webhook, Teams and
Alertmanager (real HTTP receivers on loopback)."""

from __future__ import annotations

import email
import email.policy
import shutil
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alert_fixtures import Receiver
from smtp_server import SmtpServer

from worker.alerts import delivery
from worker.alerts.evaluate import evaluate
from worker.config import load_catalogue
from worker.demo import bad_month
from worker.metrics.burn_rates import refresh_burn_rates
from worker.reports.mailer import SmtpMailer
from worker.usecases.ingest import ingest
from worker.usecases.score import score_period

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example"
NOW = datetime(2026, 11, 15, 10, 0, tzinfo=timezone.utc)  # the demo run whose bad month is replayed
STEP = timedelta(minutes=10)
CHANNELS = """
channels:
  - {id: mail, kind: email, to: [it.operations@example.nhs.uk], severities: [page], services: [epr], repeat_interval: 2h}
  - {id: hook, kind: webhook, url_env: DEMO_HOOK_URL, secret_env: DEMO_HOOK_SECRET, severities: [page], services: [epr], repeat_interval: 2h}
  - {id: teams, kind: teams, url_env: DEMO_TEAMS_URL, severities: [page], services: [epr], repeat_interval: 2h}
  - {id: am, kind: alertmanager, url_env: DEMO_AM_URL, severities: [page], services: [epr], repeat_interval: 2h}
"""
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def receivers(monkeypatch):
    hook, teams, am, smtp = Receiver().start(), Receiver().start(), Receiver().start(), SmtpServer()
    smtp.start()
    monkeypatch.setenv("DEMO_HOOK_URL", hook.url)
    monkeypatch.setenv("DEMO_HOOK_SECRET", "demo-secret")
    monkeypatch.setenv("DEMO_TEAMS_URL", teams.url)
    monkeypatch.setenv("DEMO_AM_URL", am.url.removesuffix("/hook"))
    yield {"hook": hook, "teams": teams, "am": am, "mail": smtp}
    for server in (hook, teams, am, smtp):
        server.stop()


def example_catalogue(folder: Path):
    """The example trust with its channels replaced by the four loopback ones."""
    folder.mkdir()
    for path in EXAMPLE.glob("*.yaml"):
        if path.name != "channels.yaml":
            shutil.copy(path, folder / path.name)
    (folder / "channels.yaml").write_text(CHANNELS)
    return load_catalogue(folder)


# Each channel's messages in plain terms: (rule, event), event one of firing / repeat / resolved.
_EVENTS = {"FIRING": "firing", "STILL FIRING": "repeat", "RESOLVED": "resolved"}


def _from_title(title: str) -> tuple[str, str]:
    """`[STILL FIRING page] fast-burn: Electronic Patient Record — 2 customers`"""
    head, rest = title[1:].split("] ", 1)
    return rest.split(":", 1)[0], _EVENTS[head.rsplit(" ", 1)[0]]


def messages(channel: str, server) -> list[tuple[str, str]]:
    if channel == "mail":
        return [_from_title(str(email.message_from_bytes(d, policy=email.policy.default)["Subject"])) for _, _, d in server.received.messages]
    if channel == "teams":
        return [_from_title(r["body"]["attachments"][0]["content"]["body"][0]["text"]) for r in server.requests]
    if channel == "hook":
        return [_from_title(r["body"]["commonAnnotations"]["summary"]) for r in server.requests]
    return [  # Alertmanager: posted alerts; endsAt marks the resolve, a re-post while firing a repeat
        (r["body"][0]["labels"]["alertname"], "resolved" if "endsAt" in r["body"][0] else "posted") for r in server.requests
    ]


def test_the_demo_outage_pages_the_same_sequence_on_every_channel_kind(engine, tmp_path, receivers):
    catalogue = example_catalogue(tmp_path / "config")
    period, month, outages = bad_month(catalogue, NOW)
    (start, end), = outages["epr"]
    for kind, data in (("maintenance", month.maintenance), ("incidents", month.incidents), ("samples", month.samples)):
        assert ingest(engine, catalogue, kind, data, NOW).refused == 0
    senders = delivery.default_senders(SmtpMailer("127.0.0.1", receivers["mail"].port, starttls=False), "sla@example.nhs.uk")
    timeline: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    seen = {name: 0 for name in receivers}
    now = start - 3 * STEP
    while now <= end + 6 * STEP:
        score_period(engine, catalogue, period, now, 6 * 3600.0)
        refresh_burn_rates(engine, catalogue, now)
        evaluate(engine, catalogue, now)
        delivery.deliver(engine, catalogue, now, senders)
        for name, server in receivers.items():
            got = messages(name, server)
            timeline[name] += [(now, *m) for m in got[seen[name]:]]
            seen[name] = len(got)
        now += STEP

    # EPR down 09:30-15:30 London on the bad month's second Tuesday (SPEC 7, target 99.5 %):
    first = start + STEP  # the first evaluation whose 5m window lies wholly in the outage
    fast_burn = [(first, "firing"), (first + timedelta(hours=2), "repeat"), (first + timedelta(hours=4), "repeat"),
                 (end + STEP, "resolved")]  # the first evaluation whose 5m window is clean again
    for name in ("mail", "hook", "teams"):
        assert [(t, e) for t, rule, e in timeline[name] if rule == "fast-burn"] == fast_burn, name
    assert [(t, e) for t, rule, e in timeline["am"] if rule == "fast-burn"] == [
        (t, "resolved" if e == "resolved" else "posted") for t, e in fast_burn
    ]
    # Six hours down is more than the month's whole budget (0.5 % of July is 3 h 43 min): the
    # objective is breached once, pages once, and does not resolve while the month runs.
    for name, events in timeline.items():
        breached = [(t, e) for t, rule, e in events if rule == "breached"]
        assert breached and breached[0][1] in ("firing", "posted") and start < breached[0][0] < end, name
        assert all(e != "resolved" for _, e in breached), name
    assert {rule for events in timeline.values() for _, rule, _ in events} == {"fast-burn", "breached"}

"""Alert email through a real SMTP server (aiosmtpd on loopback): multipart plain + HTML,
to the channel's recipients and the customers' alert contacts, one message per group."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import datetime, timezone

import pytest
from alert_fixtures import catalogue, store_scores

from worker.alerts import delivery
from worker.alerts.evaluate import evaluate
from worker.reports.mailer import OutboxMailer, SmtpMailer

T0 = datetime(2026, 10, 14, 9, 0, tzinfo=timezone.utc)
CHANNEL = """
  - {id: ops-mail, kind: email, to: [itops@nhs.net], include_customer_contacts: true, severities: [page]}
"""


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    received: list[tuple[list[str], bytes]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            received.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            return "250 OK"

    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_page_alert_email_is_multipart_and_reaches_customer_contacts(engine, tmp_path, smtp):
    port, received = smtp
    cat = catalogue(tmp_path, CHANNEL)
    store_scores(engine, T0, burn=20.0)
    evaluate(engine, cat, T0, grafana_url="https://grafana.example.nhs.uk/")
    mailer = SmtpMailer("127.0.0.1", port, starttls=False)
    report = delivery.deliver(engine, cat, T0, delivery.default_senders(mailer, "sla@nhs.net"))
    # Only page alerts route to this channel (fast-burn). The webhook channel's URL is unset
    # here: its rows fail permanently, without holding up the email channel.
    mails = received
    assert len(mails) == 1
    rcpt, raw = mails[0]
    assert sorted(rcpt) == ["acute.it@nhs.net", "itops@nhs.net"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert "fast-burn" in message["Subject"] and "2 customers" in message["Subject"]
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Acute Services" in plain and "Community Services" in plain
    assert "target 99.5 %" in plain and "budget left" in plain
    assert "https://grafana.example.nhs.uk/d/sla-customer?var-customer=acute" in plain
    assert "<li>" in html
    assert len(report.sent) == 1 and report.failed


def test_without_smtp_host_alert_mail_is_written_to_the_outbox_folder(engine, tmp_path):
    cat = catalogue(tmp_path, CHANNEL)
    store_scores(engine, T0, burn=20.0)
    evaluate(engine, cat, T0)
    mailer = OutboxMailer(tmp_path / "outbox")
    delivery.deliver(engine, cat, T0, delivery.default_senders(mailer, "sla@nhs.net"))
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and b"multipart/alternative" in files[0].read_bytes()

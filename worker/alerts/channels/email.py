"""Email channel: a multipart message (plain text and HTML) to the channel's `to` and, with
`include_customer_contacts: true`, each listed customer's `contacts.alerts` (never for
data-missing, which is for operations only). Sent through the
one SMTP chokepoint, `worker.reports.mailer` (SMTP from SLA_SMTP_*, or `.eml` files in
var/outbox/ when SLA_SMTP_HOST is unset). The Message-ID is derived from the idempotency key,
so a re-send after a crash is recognisable as the same message (and the outbox writes one file)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate

from worker.alerts.channels import lines, title
from worker.domain.errors import PermanentError
from worker.domain.model import Channel
from worker.reports.mailer import Mailer
from worker.storage.alerts import Notification


def recipients(channel: Channel, notification: Notification) -> list[str]:
    found = list(channel.options.get("to") or ())  # type: ignore[call-overload]
    if channel.options.get("include_customer_contacts") and notification.payload.get("rule") != "data-missing":
        for a in notification.payload["alerts"]:
            found += [c for c in a.get("customer_contacts", []) if c not in found]
    return found


def message(channel: Channel, notification: Notification, sender: str) -> EmailMessage:
    to = recipients(channel, notification)
    if not to:
        raise PermanentError(f"channel {channel.id}: no recipients for notification {notification.id}")
    p = notification.payload
    msg = EmailMessage()
    msg["Subject"] = title(p)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(notification.created_at.timestamp(), usegmt=True)
    msg["Message-ID"] = f"<alert-{notification.idempotency_key[:32]}@sla-worker>"
    msg["Idempotency-Key"] = notification.idempotency_key
    text = lines(p)
    msg.set_content(title(p) + "\n\n" + "\n".join(f"- {t}" for t in text) + "\n")
    items = "".join(f"<li>{html.escape(t)}</li>" for t in text)
    msg.add_alternative(f"<html><body><h2>{html.escape(title(p))}</h2><ul>{items}</ul></body></html>", subtype="html")
    return msg


def send(channel: Channel, notification: Notification, mailer: Mailer, sender: str, env: Mapping[str, str] | None = None) -> None:
    mailer.send(message(channel, notification, sender))

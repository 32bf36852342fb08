"""Email channel: a multipart message (plain text and HTML) to the channel's `to` and, with
`include_customer_contacts: true`, each listed customer's `contacts.alerts` (never for
data-missing, which is for operations only). Sent through the
one SMTP chokepoint, `worker.reports.mailer` (SMTP from SLA_SMTP_*, or `.eml` files in
var/outbox/ when SLA_SMTP_HOST is unset). The Message-ID is derived from the idempotency key,
so a re-send after a crash is recognisable as the same message (and the outbox writes one file)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from worker.alerts.channels import ChannelPlugin, Outlet, lines, title
from worker.config import fields as read
from worker.config.places import Fields
from worker.domain.errors import PermanentError
from worker.domain.model import Channel, ChannelKind
from worker.storage.alerts import Notification

KIND = ChannelKind.EMAIL


@dataclass(frozen=True, kw_only=True)
class Options:
    to: tuple[str, ...] = read.option(read.list_of(read.email, non_empty=True, unique=True), ())
    include_customer_contacts: bool = read.option(read.boolean, False)


def check(fields: Fields, values: Mapping[str, object]) -> None:
    """An email channel with nobody to write to is a mistake."""
    if not fields.present("to") and not values.get("include_customer_contacts"):
        fields.refuse("to", "is required: list the addresses, or set include_customer_contacts: true")


def recipients(channel: Channel[Options], notification: Notification) -> list[str]:
    found = list(channel.options.to)
    if channel.options.include_customer_contacts and notification.payload.get("rule") != "data-missing":
        for a in notification.payload["alerts"]:
            found += [c for c in a.get("customer_contacts", []) if c not in found]
    return found


def message(channel: Channel[Options], notification: Notification, sender: str) -> EmailMessage:
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


def send(channel: Channel[Options], notification: Notification, outlet: Outlet) -> None:
    if outlet.mailer is None:
        raise PermanentError(f"no sender for channel kind {KIND}")
    outlet.mailer.send(message(channel, notification, outlet.sender))


PLUGIN = ChannelPlugin(KIND, Options, send, check=check, needs_mailer=True)

"""Alertmanager channel: POST `/api/v2/alerts` with labels alertname, severity, agreement,
customer, service, objective. Alertmanager itself deduplicates by labels, groups and
repeats; we re-post while firing (each repeat) and post once with `endsAt` on resolve."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from worker.alerts.channels import ChannelPlugin, Outlet, lines
from worker.alerts.channels.webhook import channel_url, labels, post_json
from worker.config import fields as read
from worker.domain.model import Channel, ChannelKind
from worker.http import address
from worker.storage.alerts import Notification

KIND = ChannelKind.ALERTMANAGER


@dataclass(frozen=True, kw_only=True)
class Options:
    url: str | None = read.option(read.url, None)
    url_env: str | None = read.option(read.env_name, None)


def alerts(notification: Notification) -> list[dict[str, Any]]:
    p = notification.payload
    found = []
    for a, text in zip(p["alerts"], lines(p)):
        alert: dict[str, Any] = {
            "labels": labels(a),
            "annotations": {"summary": a["summary"] or p["rule"], "description": text},
            "startsAt": a["firing_since"],
        }
        if a.get("dashboard"):
            alert["generatorURL"] = a["dashboard"]
        if p["event"] == "resolved" and a.get("resolved_at"):
            alert["endsAt"] = a["resolved_at"]
        found.append(alert)
    return found


def send(channel: Channel[Options], notification: Notification, outlet: Outlet) -> None:
    url = channel_url(channel, outlet.environ).rstrip("/") + "/api/v2/alerts"
    data = json.dumps(alerts(notification)).encode()
    post_json(url, data, {"Idempotency-Key": notification.idempotency_key}, f"alertmanager {channel.id} ({address(url)})")


PLUGIN = ChannelPlugin(KIND, Options, send, check=read.check_one_url)

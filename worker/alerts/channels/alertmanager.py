"""Alertmanager channel: POST `/api/v2/alerts` with labels alertname, severity, agreement,
customer, service, objective. Alertmanager itself deduplicates by labels, groups and
repeats; we re-post while firing (each repeat) and post once with `endsAt` on resolve."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from worker import http
from worker.alerts.channels import lines
from worker.alerts.channels.webhook import labels, post_json
from worker.domain.model import Channel
from worker.storage.alerts import Notification


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


def send(channel: Channel, notification: Notification, env: Mapping[str, str] | None = None) -> None:
    url = str(channel.options["url"]).rstrip("/") + "/api/v2/alerts"
    data = json.dumps(alerts(notification)).encode()
    post_json(url, data, {"Idempotency-Key": notification.idempotency_key}, f"alertmanager {channel.id} ({http.safe_url(url)})")

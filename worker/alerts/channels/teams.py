"""Teams channel: an Adaptive Card message for a Teams incoming webhook or a Workflows
(Power Automate) "post to a channel when a webhook request is received" trigger."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from worker.alerts.channels import lines, title
from worker.alerts.channels.webhook import channel_url, post_json
from worker.domain.model import Channel
from worker.http import address
from worker.storage.alerts import Notification


def card(notification: Notification) -> dict[str, Any]:
    p = notification.payload
    colour = "Good" if p["event"] == "resolved" else ("Attention" if p["severity"] == "page" else "Warning")
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": title(p), "weight": "Bolder", "wrap": True, "color": colour}]
    body += [{"type": "TextBlock", "text": line, "wrap": True, "spacing": "Small"} for line in lines(p)]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }
        ],
    }


def send(channel: Channel, notification: Notification, env: Mapping[str, str] | None = None) -> None:
    url = channel_url(channel, os.environ if env is None else env)
    data = json.dumps(card(notification)).encode()
    post_json(url, data, {"Idempotency-Key": notification.idempotency_key}, f"teams {channel.id} ({address(url)})")

"""Teams channel: an Adaptive Card message for a Teams incoming webhook or a Workflows
(Power Automate) "post to a channel when a webhook request is received" trigger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from worker.alerts.channels import ChannelPlugin, Outlet, lines, title
from worker.alerts.channels.webhook import channel_url, post_json
from worker.config import fields as read
from worker.domain.model import Channel, ChannelKind
from worker.http import address
from worker.storage.alerts import Notification

KIND = ChannelKind.TEAMS


@dataclass(frozen=True, kw_only=True)
class Options:
    url: str | None = read.option(read.url, None)
    url_env: str | None = read.option(read.env_name, None)


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


def send(channel: Channel[Options], notification: Notification, outlet: Outlet) -> None:
    url = channel_url(channel, outlet.environ)
    data = json.dumps(card(notification)).encode()
    post_json(url, data, {"Idempotency-Key": notification.idempotency_key}, f"teams {channel.id} ({address(url)})")


PLUGIN = ChannelPlugin(KIND, Options, send, check=read.check_one_url)

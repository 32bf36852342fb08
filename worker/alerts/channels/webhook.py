"""Webhook channel: a JSON body in the shape of Alertmanager's webhook payload (version 4:
groupKey, status, alerts[] with labels, annotations, startsAt, endsAt, fingerprint), with
`Idempotency-Key` and, when `secret_env` names a secret, `X-SLA-Signature: sha256=<hex
HMAC-SHA256 of the body>`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from worker import http
from worker.alerts.channels import ChannelPlugin, Outlet, lines, title
from worker.config import fields as read
from worker.domain.errors import PermanentError, TransientError
from worker.domain.model import Channel, ChannelKind
from worker.storage.alerts import Notification

KIND = ChannelKind.WEBHOOK


@dataclass(frozen=True, kw_only=True)
class Options:
    url: str | None = read.option(read.url, None)
    url_env: str | None = read.option(read.env_name, None)
    secret_env: str | None = read.option(read.env_name, None)


class HasUrl(Protocol):
    """The options of a channel that posts to one URL, given or named in the environment."""

    @property
    def url(self) -> str | None: ...

    @property
    def url_env(self) -> str | None: ...


def channel_url(channel: Channel[HasUrl], env: Mapping[str, str]) -> str:
    if channel.options.url:
        return channel.options.url
    name = channel.options.url_env or ""
    value = env.get(name)
    if not value:
        raise PermanentError(f"channel {channel.id}: environment variable {name} is not set (it should hold the URL)")
    return value


def fingerprint(alert: Mapping[str, Any]) -> str:
    key = "|".join(str(alert[k]) for k in ("rule", "agreement", "customer", "objective"))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def labels(alert: Mapping[str, Any]) -> dict[str, str]:
    return {
        "alertname": alert["rule"],
        "severity": alert["severity"],
        "agreement": alert["agreement"],
        "customer": alert["customer"],
        "service": alert["service"],
        "objective": alert["objective"],
    }


def body(notification: Notification) -> dict[str, Any]:
    p = notification.payload
    status = "resolved" if p["event"] == "resolved" else "firing"
    texts = lines(p)
    return {
        "version": "4",
        "groupKey": f"{notification.channel}:{p['rule']}:{p['service']}",
        "status": status,
        "receiver": notification.channel,
        "groupLabels": {"alertname": p["rule"], "service": p["service"]},
        "commonLabels": {"alertname": p["rule"], "severity": p["severity"], "service": p["service"]},
        "commonAnnotations": {"summary": title(p)},
        "externalURL": "",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": labels(a),
                "annotations": {"summary": a["summary"], "description": text, **({"dashboard": a["dashboard"]} if a.get("dashboard") else {})},
                "startsAt": a["firing_since"],
                "endsAt": a["resolved_at"] or "0001-01-01T00:00:00Z",
                "generatorURL": a.get("dashboard") or "",
                "fingerprint": fingerprint(a),
            }
            for a, text in zip(p["alerts"], texts)
        ],
    }


def sign(secret: str, data: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def post_json(url: str, data: bytes, headers: dict[str, str], service: str) -> None:
    """One POST through the HTTP chokepoint; errors by kind."""
    try:
        with http.client(timeout_s=15.0) as c:
            response = c.post(url, content=data, headers={"Content-Type": "application/json", **headers})
    except httpx.HTTPError as error:
        raise TransientError(f"{service}: {http.describe_error(error)}") from None
    if response.status_code >= 300:
        raise http.error_for_status(response, service)


def send(channel: Channel[Options], notification: Notification, outlet: Outlet) -> None:
    env = outlet.environ
    url = channel_url(channel, env)
    data = json.dumps(body(notification), sort_keys=True).encode()
    headers = {"Idempotency-Key": notification.idempotency_key}
    secret_env = channel.options.secret_env
    if secret_env:
        secret = env.get(secret_env)
        if not secret:
            raise PermanentError(f"channel {channel.id}: environment variable {secret_env} is not set (the signing secret)")
        headers["X-SLA-Signature"] = sign(secret, data)
    post_json(url, data, headers, f"webhook {channel.id} ({http.address(url)})")


PLUGIN = ChannelPlugin(KIND, Options, send, check=read.check_one_url)

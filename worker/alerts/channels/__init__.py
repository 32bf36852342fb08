"""One module per channel kind (email, webhook, teams, alertmanager), listed in
`worker.alerts.channels.registry`. Each declares its `KIND`, its frozen `Options` (read by the
config loader) and `send(channel, notification, outlet)`: one attempt, raising
`TransientError` (try again later) or `PermanentError` (never); `worker.alerts.delivery` owns
retries.

Shared here: what a kind declares (`ChannelPlugin`), what a send may use (`Outlet`), and the
plain words every channel uses for a grouped notification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from worker.domain.model import Channel, ChannelKind

if TYPE_CHECKING:
    from worker.config.places import Fields
    from worker.reports.mailer import Mailer
    from worker.storage.alerts import Notification


@dataclass(frozen=True)
class Outlet:
    """What sending may need besides the channel: the environment (URLs and secrets named by
    `*_env` options, read at send time) and, for email, the mailer and the From address."""

    environ: Mapping[str, str]
    mailer: Mailer | None = None
    sender: str = "sla-worker@localhost"


Send = Callable[[Channel[Any], "Notification", Outlet], None]
Check = Callable[["Fields", Mapping[str, object]], None]  # refuses fields that do not go together


@dataclass(frozen=True)
class ChannelPlugin:
    """What one kind of channel declares in its own module for the registry: its kind, its
    frozen `Options` (fields declared with `worker.config.fields.option`), cross-field checks
    of its entry, and how to send. `needs_mailer`: it can only send when a mailer is given."""

    kind: ChannelKind
    options: type[Any]
    send: Send
    check: Check | None = None
    needs_mailer: bool = False

_EVENT_WORDS = {"firing": "FIRING", "repeat": "STILL FIRING", "resolved": "RESOLVED"}


def event_words(payload: dict[str, Any]) -> str:
    """FIRING, STILL FIRING, RESOLVED — except that a `breached` alert never reads plain
    "resolved" (it was a certainty): FIGURES CORRECTED, or PERIOD ENDED."""
    if payload["event"] == "resolved":
        closings = {a.get("resolution") or "resolved" for a in payload["alerts"]}
        return " / ".join(sorted(closings)).upper()
    event = str(payload["event"])
    return _EVENT_WORDS.get(event, event.upper())


def title(payload: dict[str, Any]) -> str:
    """`[FIRING page] fast-burn: Electronic Patient Record — 2 customers`"""
    count = len(payload["alerts"])
    who = "operations" if not payload["alerts"][0]["customer"] else f"{count} customer{'s' if count != 1 else ''}"
    return f"[{event_words(payload)} {payload['severity']}] {payload['rule']}: {payload['service_name'] or 'data sources'} — {who}"


def lines(payload: dict[str, Any]) -> list[str]:
    """One line per customer: what is wrong, under which terms, the budget left, a link."""
    out = []
    for a in payload["alerts"]:
        who = a["customer_name"] or a["customer"] or "operations"
        parts = [f"{who} ({a['agreement']}/{a['objective']})" if a["customer"] else f"{a['objective']}"]
        if payload["event"] == "resolved":
            closing = a.get("resolution") or "resolved"
            summary = a["summary"] or ""
            # A breached alert's closing summary already starts with its closing words.
            parts.append(summary if summary.startswith(closing) else f"{closing}: {summary}" if summary else closing)
        elif a["summary"]:
            parts.append(a["summary"])
        if a.get("target") is not None:
            parts.append(f"target {a['target']:g} % over {a['hours']} hours")
        if a.get("value") is not None:
            parts.append(f"now {a['value']:.2f} %")
        if a.get("budget_remaining") is not None:
            parts.append(f"budget left {a['budget_remaining'] * 100:.0f} % of the period's")
        if a.get("dashboard"):
            parts.append(a["dashboard"])
        out.append(" — ".join(parts))
    return out

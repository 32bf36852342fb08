"""One module per channel kind (email, webhook, teams, alertmanager). Each exposes
`send(channel, notification, environ)`, one attempt, raising `TransientError` (try again
later) or `PermanentError` (never); `worker.alerts.delivery` owns retries.

Shared here: the plain words every channel uses for a grouped notification.
"""

from __future__ import annotations

from typing import Any

_EVENT_WORDS = {"firing": "FIRING", "repeat": "STILL FIRING", "resolved": "RESOLVED"}


def event_words(payload: dict[str, Any]) -> str:
    """FIRING, STILL FIRING, RESOLVED — except that a `breached` alert never reads plain
    "resolved" (it was a certainty): FIGURES CORRECTED, or PERIOD ENDED."""
    if payload["event"] == "resolved":
        closings = {a.get("resolution") or "resolved" for a in payload["alerts"]}
        return " / ".join(sorted(closings)).upper()
    return _EVENT_WORDS.get(payload["event"], payload["event"].upper())


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

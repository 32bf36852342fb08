"""Alert state, transitions, silences and the notification outbox (SPEC 7).

Writes take the caller's connection: the evaluation writes state, transitions and outbox rows
in one transaction. Delivery claims a row (`UPDATE … WHERE status …`, acting only when one
row changed), sends, then marks it; a row claimed by a worker that died stays `sending` until
its claim is older than the lease, then is claimed again and re-sent with the same
idempotency key (the receiver drops the duplicate).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from worker.alerts.rules import AlertKey, AlertState, Due, Event, Transition
from worker.domain.model import Severity
from worker.storage.tables import alert_transitions, alerts, dialect_insert, notification_items, notifications, silences

_KEY = ("rule", "agreement", "customer", "objective")


def _key(row: Any) -> AlertKey:
    return AlertKey(row.rule, row.agreement, row.customer, row.objective)


# ---------------------------------------------------------------- state


def load_states(conn: Connection) -> dict[AlertKey, AlertState]:
    return {
        _key(r): AlertState(_key(r), Severity(r.severity), r.service, r.firing_since, r.last_notified_at, r.resolved_at, r.summary)
        for r in conn.execute(select(alerts))
    }


def save_states(conn: Connection, states: Iterable[AlertState], now: datetime) -> None:
    rows = [
        {
            "rule": s.key.rule, "agreement": s.key.agreement, "customer": s.key.customer, "objective": s.key.objective,
            "severity": s.severity, "service": s.service, "summary": s.summary, "firing_since": s.firing_since,
            "last_notified_at": s.last_notified_at, "resolved_at": s.resolved_at, "updated_at": now,
        }
        for s in states
    ]
    if not rows:
        return
    stmt = dialect_insert(conn)(alerts)
    stmt = stmt.on_conflict_do_update(index_elements=list(_KEY), set_={c: stmt.excluded[c] for c in rows[0] if c not in _KEY})
    conn.execute(stmt, rows)


def record_transitions(conn: Connection, changes: Iterable[Transition]) -> None:
    rows = [
        {
            "rule": t.key.rule, "agreement": t.key.agreement, "customer": t.key.customer, "objective": t.key.objective,
            "event": t.event.value, "firing_since": t.firing_since, "at": t.at,
        }
        for t in changes
    ]
    if rows:
        conn.execute(alert_transitions.insert(), rows)


def list_transitions(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    t = alert_transitions
    query = select(t).order_by(t.c.at.desc(), t.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]


# ---------------------------------------------------------------- silences


def add_silence(
    conn: Connection, service: str, starts_at: datetime, ends_at: datetime, reason: str, now: datetime, customer: str | None = None
) -> int:
    result = conn.execute(
        silences.insert().values(
            service=service, customer=customer, starts_at=starts_at, ends_at=ends_at, reason=reason, created_at=now
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def active_silences(conn: Connection, now: datetime) -> list[tuple[str, str | None]]:
    """(service, customer or None) of every silence in force at `now`."""
    s = silences
    query = select(s.c.service, s.c.customer).where(s.c.starts_at <= now, s.c.ends_at > now)
    return [(r.service, r.customer) for r in conn.execute(query)]


# ---------------------------------------------------------------- outbox: writing


def notified(conn: Connection, states: Mapping[AlertKey, AlertState]) -> dict[tuple[AlertKey, str], tuple[datetime, int]]:
    """Per (alert, channel): the last firing/repeat notification written for the alert's
    episode in `states` (pass the states from before this evaluation's transitions, so a
    resolving alert still names its episode), and its sequence number."""
    i, a = notification_items, alerts
    found: dict[tuple[AlertKey, str], tuple[datetime, int]] = {}
    # Only items of episodes still stored as firing (not the whole history).
    current = and_(*(i.c[c] == a.c[c] for c in _KEY), i.c.firing_since == a.c.firing_since)
    query = select(i).join(a, current).where(i.c.event != Event.RESOLVED.value).order_by(i.c.sequence)
    for r in conn.execute(query):
        key = _key(r)
        state = states.get(key)
        if state is None:
            continue
        if state.firing_since is None or r.firing_since != state.firing_since:
            continue
        found[(key, r.channel)] = (r.created_at, r.sequence)
    return found


def write_notification(
    conn: Connection, channel: str, kind: str, event: str, items: list[Due], payload: Mapping[str, Any], now: datetime
) -> int | None:
    """One outbox row for a group of due notifications, with an item per alert. Items already
    written (same alert, episode, event, sequence, channel) are dropped first; nothing is
    written when none is left. Returns the row id."""
    i = notification_items
    fresh = [
        d for d in items
        if conn.execute(
            select(func.count()).select_from(i).where(
                i.c.rule == d.key.rule, i.c.agreement == d.key.agreement, i.c.customer == d.key.customer,
                i.c.objective == d.key.objective, i.c.firing_since == d.firing_since, i.c.event == d.event.value,
                i.c.sequence == d.sequence, i.c.channel == d.channel,
            )
        ).scalar_one() == 0
    ]
    if not fresh:
        return None

    key = hashlib.sha256(("\n".join(sorted(d.idempotency_part for d in fresh)) + "\n" + channel).encode()).hexdigest()
    result = conn.execute(
        notifications.insert().values(
            channel=channel, kind=kind, event=event, idempotency_key=key, payload=json.dumps(payload, sort_keys=True),
            status="pending", attempts=0, retries=0, next_attempt_at=now, created_at=now,
        )
    )
    row_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    conn.execute(
        i.insert(),
        [
            {
                "rule": d.key.rule, "agreement": d.key.agreement, "customer": d.key.customer, "objective": d.key.objective,
                "firing_since": d.firing_since, "event": d.event.value, "sequence": d.sequence, "channel": d.channel,
                "notification_id": row_id, "created_at": now,
            }
            for d in fresh
        ],
    )
    return row_id


# ---------------------------------------------------------------- outbox: delivering


@dataclass(frozen=True)
class Notification:
    id: int
    channel: str
    kind: str
    event: str
    idempotency_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    retries: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def _notification(r: Any) -> Notification:
    return Notification(
        r.id, r.channel, r.kind, r.event, r.idempotency_key, json.loads(r.payload), r.status, r.attempts, r.retries,
        r.next_attempt_at, r.last_error, r.created_at, r.sent_at,
    )


def _claimable(now: datetime, lease_s: float) -> Any:
    n = notifications
    return or_(
        and_(n.c.status == "pending", n.c.next_attempt_at <= now),
        and_(n.c.status == "sending", n.c.claimed_at < now - timedelta(seconds=lease_s)),
    )


def unsent(conn: Connection) -> list[Notification]:
    """Rows not sent nor failed, oldest first (per channel, messages go out in this order)."""
    n = notifications
    query = select(n).where(n.c.status.in_(("pending", "sending"))).order_by(n.c.id)
    return [_notification(r) for r in conn.execute(query)]


def claim(conn: Connection, row_id: int, now: datetime, lease_s: float) -> bool:
    """Take one row for sending; True when this caller got it."""
    n = notifications
    result = conn.execute(
        update(n)
        .where(n.c.id == row_id, _claimable(now, lease_s))
        .values(status="sending", claimed_at=now, attempts=n.c.attempts + 1)
    )
    return result.rowcount == 1


def mark_sent(conn: Connection, row_id: int, now: datetime) -> None:
    n = notifications
    conn.execute(update(n).where(n.c.id == row_id).values(status="sent", sent_at=now, last_error=None))


def mark_retry(conn: Connection, row_id: int, error: str, next_attempt_at: datetime) -> None:
    n = notifications
    conn.execute(
        update(n).where(n.c.id == row_id).values(
            status="pending", retries=n.c.retries + 1, next_attempt_at=next_attempt_at, last_error=error[:1000]
        )
    )


def mark_failed(conn: Connection, row_id: int, error: str) -> None:
    n = notifications
    conn.execute(update(n).where(n.c.id == row_id).values(status="failed", last_error=error[:1000]))


def list_notifications(conn: Connection, status: str | None = None, limit: int = 100) -> list[Notification]:
    n = notifications
    query = select(n).order_by(n.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(n.c.status == status)
    return [_notification(r) for r in conn.execute(query)]


def firing_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(rule, severity) → alerts firing now, for sla_alerts_firing."""
    query = select(alerts.c.rule, alerts.c.severity, func.count()).where(alerts.c.firing_since.is_not(None))
    return {(rule, severity): int(n) for rule, severity, n in conn.execute(query.group_by(alerts.c.rule, alerts.c.severity))}


def notification_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(channel, outcome) → count for sla_notifications_total: sent rows, retries made, failed rows."""
    n = notifications
    found: dict[tuple[str, str], int] = {}
    query = select(
        n.c.channel, func.sum(n.c.retries), func.count().filter(n.c.status == "sent"), func.count().filter(n.c.status == "failed")
    ).group_by(n.c.channel)
    for channel, retries, sent, failed in conn.execute(query):
        found[(channel, "sent")] = int(sent or 0)
        found[(channel, "retry")] = int(retries or 0)
        found[(channel, "failed")] = int(failed or 0)
    return found

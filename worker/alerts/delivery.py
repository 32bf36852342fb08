"""Deliver the notification outbox (SPEC 7): claim a row, send it, mark it sent.

- Order: per channel, rows go out oldest first; a row waiting for its retry holds back the
  later rows of its channel (a channel down for an hour then up receives everything, once,
  in order). Other channels are not held up.
- Retries: a transient failure waits `base_s × 2^(attempt−1)`, capped at `cap_s`; after
  `max_attempts` attempts (or at once on a permanent error) the row is `failed` and the
  channel moves on.
- Exactly once for the receiver: every request carries the row's `Idempotency-Key`. If the
  worker dies after sending and before marking the row sent, the row stays `sending`; once
  its claim is older than `lease_s` it is claimed and sent again with the same key, which
  the receiver recognises as a duplicate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from worker.alerts.channels import ChannelPlugin, Outlet
from worker.alerts.channels.registry import CHANNELS
from worker.domain.errors import PermanentError, TransientError
from worker.domain.model import Catalogue, Channel
from worker.storage import alerts as store
from worker.storage.alerts import Notification

if TYPE_CHECKING:
    from worker.reports.mailer import Mailer

Sender = Callable[[Channel[Any], Notification], None]


@dataclass(frozen=True)
class Policy:
    base_s: float = 30.0
    cap_s: float = 3600.0
    max_attempts: int = 12  # with the defaults: about 6 hours of trying
    lease_s: float = 300.0  # a `sending` claim older than this belongs to a dead worker

    def backoff_s(self, attempts: int) -> float:
        return min(self.cap_s, self.base_s * 2.0 ** max(0, attempts - 1))


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def default_senders(mailer: Mailer | None = None, sender: str = "sla-worker@localhost") -> dict[str, Sender]:
    """A sender per channel kind of the registry; email only with a mailer. URLs and secrets
    named by `*_env` options are read from the environment at each send."""
    outlet = Outlet(os.environ, mailer, sender)
    return {
        kind: partial(_send, plugin, outlet)
        for kind, plugin in CHANNELS.items()
        if mailer is not None or not plugin.needs_mailer
    }


def _send(plugin: ChannelPlugin, outlet: Outlet, channel: Channel[Any], notification: Notification) -> None:
    plugin.send(channel, notification, outlet)


def deliver(
    engine: Engine,
    catalogue: Catalogue,
    now: datetime,
    senders: Mapping[str, Sender],
    policy: Policy | None = None,
    after_send: Callable[[Notification], None] | None = None,
) -> DeliveryReport:
    """Send every due outbox row once. `after_send` runs between a send and its commit (the
    window a crash test aims at)."""
    policy = policy or Policy()
    report = DeliveryReport()
    with engine.connect() as conn:
        rows = store.unsent(conn)
        conn.rollback()
    blocked: set[str] = set()
    for row in rows:
        if row.channel in blocked:
            continue
        with engine.begin() as conn:
            claimed = store.claim(conn, row.id, now, policy.lease_s)
        if not claimed:
            blocked.add(row.channel)  # waiting for a retry, or another worker has it: keep order
            continue
        attempts = row.attempts + 1
        channel = catalogue.channels.get(row.channel)
        try:
            if channel is None:
                raise PermanentError(f"channel {row.channel} is no longer configured")
            send = senders.get(channel.kind)
            if send is None:
                raise PermanentError(f"no sender for channel kind {channel.kind}")
            send(channel, row)
        except PermanentError as error:
            with engine.begin() as conn:
                store.mark_failed(conn, row.id, str(error))
            report.failed.append(row.id)
            continue
        except (TransientError, OSError) as error:
            with engine.begin() as conn:
                if attempts >= policy.max_attempts:
                    store.mark_failed(conn, row.id, f"{error} (gave up after {attempts} attempts)")
                    report.failed.append(row.id)
                    continue
                store.mark_retry(conn, row.id, str(error), now + timedelta(seconds=policy.backoff_s(attempts)))
            report.retried.append(row.id)
            blocked.add(row.channel)
            continue
        if after_send is not None:
            after_send(row)
        with engine.begin() as conn:
            store.mark_sent(conn, row.id, now)
        report.sent.append(row.id)
    return report

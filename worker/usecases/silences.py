"""Silences (SPEC 7): muting a service's alert notifications for a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from worker.domain.errors import InvalidValue
from worker.domain.model import Catalogue
from worker.storage import alerts as alert_store


@dataclass(frozen=True)
class Silence:
    service: str
    customer: str | None  # None: every customer's alerts of the service
    starts_at: datetime
    ends_at: datetime
    reason: str


def silence(
    engine: Engine, catalogue: Catalogue, service: str, customer: str | None, for_s: float, reason: str, now: datetime
) -> Silence:
    """Mute the notifications of `service` (of one customer's alerts only, when given) from
    `now` for `for_s` seconds. Alerts are still evaluated and recorded meanwhile. Raises
    InvalidValue for a service or customer that is not configured."""
    if service not in catalogue.services:
        raise InvalidValue(f"unknown service {service!r}")
    if customer and customer not in catalogue.customers:
        raise InvalidValue(f"unknown customer {customer!r}")
    muted = Silence(service, customer, now, now + timedelta(seconds=for_s), reason)
    with engine.begin() as conn:
        alert_store.add_silence(conn, muted.service, muted.starts_at, muted.ends_at, muted.reason, now, muted.customer)
    return muted

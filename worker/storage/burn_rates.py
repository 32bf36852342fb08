"""Burn rates per (agreement, customer, objective, window), computed after each scoring run
(`worker.metrics.burn_rates.refresh_burn_rates`) and read by the metrics endpoint and, later,
the alert rules — so a scrape never recomputes 5,000 objectives' windows from samples.

Writes keep the newest computation: a slow refresh that finishes after a newer one does not
overwrite it (`computed_at` decides).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from worker.storage.tables import burn_rates, upsert

_KEYS = ["agreement", "customer", "objective", "window"]


@dataclass(frozen=True)
class StoredBurnRate:
    agreement: str
    customer: str
    objective: str
    window: str
    good: float
    bad: float
    total: float
    burn_rate: float | None  # None: no counted data in the window
    computed_at: datetime
    coverage: float | None = None  # availability: share of the window's counted time with data


def upsert_burn_rates(conn: Connection, rows: Sequence[StoredBurnRate]) -> int:
    """Store `rows`, replacing stored rows with the same key unless those were computed later."""
    if not rows:
        return 0
    values = [
        {
            "agreement": r.agreement,
            "customer": r.customer,
            "objective": r.objective,
            "window": r.window,
            "good": float(r.good),
            "bad": float(r.bad),
            "total": float(r.total),
            "burn_rate": None if r.burn_rate is None else float(r.burn_rate),
            "computed_at": r.computed_at,
            "coverage": None if r.coverage is None else float(r.coverage),
        }
        for r in rows
    ]
    return upsert(conn, burn_rates, values, _KEYS, only_if=lambda new: burn_rates.c.computed_at <= new.computed_at)


def load_burn_rates(conn: Connection, agreements: Collection[str] | None = None) -> list[StoredBurnRate]:
    """Stored burn rates (of these agreements, when given), sorted by key."""
    t = burn_rates
    query = select(t)
    if agreements is not None:
        wanted = sorted(set(agreements))
        if not wanted:
            return []
        query = query.where(t.c.agreement.in_(wanted))
    query = query.order_by(t.c.agreement, t.c.customer, t.c.objective, t.c.window)
    return [
        StoredBurnRate(
            row.agreement, row.customer, row.objective, row.window, row.good, row.bad, row.total, row.burn_rate,
            row.computed_at, row.coverage,
        )
        for row in conn.execute(query)
    ]


def burn_rate_values(conn: Connection, computed_since: datetime | None = None) -> list[tuple[str, str, str, str, float]]:
    """(agreement, customer, objective, window, burn rate) of every stored row that has a burn
    rate (computed at or after `computed_since`, when given): the lean read of the metrics
    endpoint (no dataclass per row)."""
    t = burn_rates
    query = select(t.c.agreement, t.c.customer, t.c.objective, t.c.window, t.c.burn_rate).where(t.c.burn_rate.is_not(None))
    if computed_since is not None:
        query = query.where(t.c.computed_at >= computed_since)
    return [tuple(row) for row in conn.execute(query)]

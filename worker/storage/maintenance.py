"""Maintenance windows, one row per (service, start, end): re-ingesting a window updates its
announcement, reason and emergency flag instead of adding a second copy."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.engine import Connection

from worker.domain.model import MaintenanceWindow
from worker.storage.tables import maintenance as maintenance_table
from worker.storage.tables import upsert


def store_maintenance(conn: Connection, windows: list[MaintenanceWindow]) -> int:
    """Insert or update windows keyed by (service, start_at, end_at); a later element with the
    same key wins. Returns the number of distinct windows written."""
    rows = [
        {
            "service": w.service,
            "start_at": w.start_at,
            "end_at": w.end_at,
            "announced_at": w.announced_at,
            "reason": w.reason or "",
            "emergency": bool(w.emergency),
        }
        for w in windows
    ]
    return upsert(conn, maintenance_table, rows, keys=["service", "start_at", "end_at"])


def load_maintenance(conn: Connection, services: Collection[str] | None = None) -> list[MaintenanceWindow]:
    """Stored windows (of `services` only, when given), sorted by service, start, end."""
    t = maintenance_table
    query = select(t.c.service, t.c.start_at, t.c.end_at, t.c.announced_at, t.c.reason, t.c.emergency)
    if services is not None:
        wanted = sorted(set(services))
        if not wanted:
            return []
        query = query.where(t.c.service.in_(wanted))
    query = query.order_by(t.c.service, t.c.start_at, t.c.end_at)
    return [
        MaintenanceWindow(
            service=row.service,
            start_at=row.start_at,
            end_at=row.end_at,
            announced_at=row.announced_at,
            reason=row.reason,
            emergency=bool(row.emergency),
        )
        for row in conn.execute(query)
    ]

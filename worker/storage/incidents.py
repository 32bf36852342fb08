"""Incidents, stored by id: a later version of an incident replaces the stored one (SPEC 5)."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection, Row

from worker.domain.model import Incident
from worker.storage.tables import incidents as incidents_table
from worker.storage.tables import upsert


def store_incidents(conn: Connection, incidents: list[Incident], *, updated_at: datetime | None = None) -> int:
    """Insert or update incidents by id (a later element with the same id wins).

    `updated_at` records when this version was stored; it defaults to the current time (the
    only clock read in storage, kept here so that ingest commands need not pass it).
    Returns the number of distinct incidents written."""
    if not incidents:
        return 0
    stamp = updated_at or datetime.now(timezone.utc)
    rows = [
        {
            "id": item.id,
            "service": item.service,
            "customer": item.customer or None,
            "priority": item.priority,
            "opened_at": item.opened_at,
            "responded_at": item.responded_at,
            "resolved_at": item.resolved_at,
            "on_hold": _on_hold_json(item.on_hold),
            "updated_at": stamp,
        }
        for item in incidents
    ]
    return upsert(conn, incidents_table, rows, keys=["id"])


def load_incidents(
    conn: Connection,
    *,
    services: Collection[str] | None = None,
    opened_before: datetime | None = None,
    open_or_stopped_after: datetime | None = None,
    for_customer: str | None = None,
) -> list[Incident]:
    """Stored incidents, sorted by opened_at then id.

    - `services`: only these services (None: all).
    - `opened_before`: only incidents opened strictly before this instant.
    - `open_or_stopped_after`: only incidents one of whose clocks may still matter at or after
      this instant — resolved_at or responded_at missing or ≥ it. An incident with both clocks
      stopped earlier was decided earlier, so callers use this to fetch a period's candidates.
    - `for_customer`: only incidents for this customer or for every customer (a report needs no
      other: on a regional service's shared systems those are most of the month's incidents).
    """
    query = select(incidents_table)
    if services is not None:
        wanted = sorted(set(services))
        if not wanted:
            return []
        query = query.where(incidents_table.c.service.in_(wanted))
    if opened_before is not None:
        query = query.where(incidents_table.c.opened_at < opened_before)
    if open_or_stopped_after is not None:
        after = open_or_stopped_after
        query = query.where(
            or_(
                incidents_table.c.resolved_at.is_(None),
                incidents_table.c.resolved_at >= after,
                incidents_table.c.responded_at.is_(None),
                incidents_table.c.responded_at >= after,
            )
        )
    if for_customer is not None:
        query = query.where(or_(incidents_table.c.customer.is_(None), incidents_table.c.customer == for_customer))
    query = query.order_by(incidents_table.c.opened_at, incidents_table.c.id)
    return [_incident(row) for row in conn.execute(query)]


def first_opened_s(conn: Connection) -> float | None:
    """Epoch seconds of the earliest opened_at of any stored incident; None when there is none."""
    first = conn.execute(select(func.min(incidents_table.c.opened_at))).scalar()
    if first is None:
        return None
    return float(first.timestamp())


def get_incident(conn: Connection, incident_id: str) -> Incident | None:
    row = conn.execute(select(incidents_table).where(incidents_table.c.id == incident_id)).first()
    return _incident(row) if row else None


def get_incidents(conn: Connection, ids: Collection[str]) -> dict[str, Incident]:
    """The stored versions of these incidents, by id (ids not stored are left out).

    Read before a new version is stored: a replaced incident may have moved to another
    service, priority or month, and the results it used to count in must be scored again."""
    wanted = sorted(set(ids))
    found: dict[str, Incident] = {}
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        for row in conn.execute(select(incidents_table).where(incidents_table.c.id.in_(chunk))):
            found[row.id] = _incident(row)
    return found


_IDS_PER_QUERY = 500


def _on_hold_json(on_hold: tuple[tuple[datetime, datetime], ...]) -> str:
    return json.dumps([[_iso_utc(start), _iso_utc(end)] for start, end in on_hold])


def _iso_utc(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()} refused: instants must be aware (UTC)")
    return at.astimezone(timezone.utc).isoformat()


def _incident(row: Row[Any]) -> Incident:
    holds = tuple(
        (datetime.fromisoformat(start).astimezone(timezone.utc), datetime.fromisoformat(end).astimezone(timezone.utc))
        for start, end in json.loads(row.on_hold or "[]")
    )
    return Incident(
        id=row.id,
        service=row.service,
        priority=row.priority,
        opened_at=row.opened_at,
        customer=row.customer,
        responded_at=row.responded_at,
        resolved_at=row.resolved_at,
        on_hold=holds,
    )

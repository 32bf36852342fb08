"""Work that must survive a lost message or a killed worker, kept in the database.

- Pending changes: ingestion records what its rows touched in the same transaction as the
  rows; scoring consumes them in the same transaction as the results. A scoring task that
  dies, or whose message is lost (the embedded SQLite broker forgets a message once a worker
  has taken it), leaves them in place for the next run: work is delayed, never lost.
- Leases: a named lock with an expiry (one beat at a time). A holder renews it; when it dies
  the lease runs out and another process may take it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from worker.storage.locks import is_postgresql
from worker.storage.tables import dialect_insert, leases, pending_changes


@dataclass(frozen=True)
class PendingChange:
    id: int
    kind: str  # samples | incidents | maintenance
    service: str
    first_s: float
    last_s: float


def record_changes(conn: Connection, changes: list[tuple[str, str, float, float]], at: datetime) -> None:
    """Store (kind, service, first_s, last_s) spans that new input touched."""
    if changes:
        conn.execute(
            pending_changes.insert(),
            [{"kind": k, "service": s, "first_s": lo, "last_s": hi, "created_at": at} for k, s, lo, hi in changes],
        )


def claim_changes(conn: Connection, services: Callable[[str], bool] | None = None) -> list[PendingChange]:
    """The pending changes of the services `services` says yes to (a shard's; every pending
    change when None; they merge into a few spans, so all are taken at once), locked for this
    transaction on PostgreSQL: a concurrent claim skips them (`FOR UPDATE SKIP LOCKED`) rather
    than waiting or taking them twice. Delete them with `forget_changes` in the same
    transaction once acted on; a transaction that dies leaves them for the next run.

    The services are picked by id in Python (the shard function is crc32, which SQL does not
    share across engines): first the distinct services pending, then the rows of those wanted."""
    query = select(pending_changes)
    if is_postgresql(conn):
        query = query.with_for_update(skip_locked=True)
    if services is None:
        rows = list(conn.execute(query))
    else:
        wanted = sorted(s for s in pending_services(conn) if services(s))
        rows = [
            row
            for start in range(0, len(wanted), 1000)  # bound the bound parameters (SQLite's limit)
            for row in conn.execute(query.where(pending_changes.c.service.in_(wanted[start : start + 1000])))
        ]
    return sorted((PendingChange(r.id, r.kind, r.service, r.first_s, r.last_s) for r in rows), key=lambda c: c.id)


def forget_changes(conn: Connection, ids: list[int]) -> None:
    for start in range(0, len(ids), 1000):
        conn.execute(delete(pending_changes).where(pending_changes.c.id.in_(ids[start : start + 1000])))


def pending_services(conn: Connection) -> set[str]:
    """The services that have pending changes (one cheap look before claiming shard by shard)."""
    return set(conn.execute(select(pending_changes.c.service).distinct()).scalars())


def pending_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(pending_changes)).scalar_one())


def acquire_lease(conn: Connection, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
    """Take or renew lease `name` for `holder` until now + ttl; True when `holder` has it.
    Taken over only once the previous holder's lease has expired."""
    insert = dialect_insert(conn)(leases).values(name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_s))
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
            where=(leases.c.holder == insert.excluded.holder) | (leases.c.expires_at < now),
        )
    )
    return bool(conn.execute(select(leases.c.holder).where(leases.c.name == name)).scalar_one() == holder)


def release_lease(conn: Connection, name: str, holder: str) -> None:
    conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

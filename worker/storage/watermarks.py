"""How far each source got, per stream, and which dropped files are already ingested.

A watermark is keyed by (source, stream): stream is "<service>/<signal>" for samples
("epr/up") or a name such as "incidents". `position` is where the next run starts (an ISO
instant or an opaque cursor). `samples_stored` and `rows_refused` are running totals (the
Prometheus counters `sla_samples_ingested_total` and `sla_rows_refused_total` are read from
them, so they are right whatever the number of processes), and so is `failures_total`
(`sla_source_failures_total`); `failures_in_row` feeds the
`data-missing` alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Row

from worker.storage.tables import dialect_insert, ingested_files, watermarks

_MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Watermark:
    source: str
    stream: str
    position: str | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failures_in_row: int
    samples_stored: int
    rows_refused: int
    last_error: str | None
    failures_total: int = 0


@dataclass(frozen=True)
class IngestedFile:
    sha256: str
    name: str
    kind: str
    accepted: int
    refused: int
    ingested_at: datetime


def get_watermark(conn: Connection, source: str, stream: str) -> Watermark | None:
    row = conn.execute(select(watermarks).where(watermarks.c.source == source, watermarks.c.stream == stream)).first()
    return _watermark(row) if row else None


def list_watermarks(conn: Connection, source: str | None = None) -> list[Watermark]:
    """Every watermark (of one source, when given), sorted by source then stream."""
    query = select(watermarks)
    if source is not None:
        query = query.where(watermarks.c.source == source)
    query = query.order_by(watermarks.c.source, watermarks.c.stream)
    return [_watermark(row) for row in conn.execute(query)]


@dataclass(frozen=True)
class Progress:
    """One stream's share of a successful run: where the next run starts (None: keep the
    stored position) and what this run stored and refused."""

    stream: str
    position: str | None = None
    stored: int = 0
    refused: int = 0


def record_success(conn: Connection, source: str, at: datetime, progress: Sequence[Progress]) -> None:
    """A run of `source` succeeded at `at` for each stream in `progress`: adds the counts to
    the running totals and clears the failure streaks; `last_error` and `last_failure_at` stay
    as a record of the last failure. One statement for all the streams (a dropped file holds
    hundreds), in stream order so concurrent runs take row locks in the same order."""
    if not progress:
        return
    insert = dialect_insert(conn)(watermarks)
    stmt = insert.on_conflict_do_update(
        index_elements=["source", "stream"],
        set_={
            "position": func.coalesce(insert.excluded.position, watermarks.c.position),
            "last_success_at": insert.excluded.last_success_at,
            "failures_in_row": 0,
            "samples_stored": watermarks.c.samples_stored + insert.excluded.samples_stored,
            "rows_refused": watermarks.c.rows_refused + insert.excluded.rows_refused,
        },
    )
    rows = [
        {
            "source": source, "stream": p.stream, "position": p.position, "last_success_at": at, "failures_in_row": 0,
            "samples_stored": int(p.stored), "rows_refused": int(p.refused),
        }
        for p in sorted(progress, key=lambda p: p.stream)
    ]
    conn.execute(stmt, rows)


def record_failure(conn: Connection, source: str, stream: str, at: datetime, error: str) -> None:
    """A run of `source` for `stream` failed at `at` with `error` (kept, truncated, without
    secrets — the caller's message is stored as given). The position is unchanged."""
    message = str(error)[:_MAX_ERROR_CHARS]
    insert = dialect_insert(conn)(watermarks)
    stmt = insert.values(
        source=source,
        stream=stream,
        last_failure_at=at,
        failures_in_row=1,
        failures_total=1,
        last_error=message,
    ).on_conflict_do_update(
        index_elements=["source", "stream"],
        set_={
            "last_failure_at": insert.excluded.last_failure_at,
            "failures_in_row": watermarks.c.failures_in_row + 1,
            "failures_total": watermarks.c.failures_total + 1,
            "last_error": insert.excluded.last_error,
        },
    )
    conn.execute(stmt)


def _watermark(row: Row[Any]) -> Watermark:
    return Watermark(
        source=row.source,
        stream=row.stream,
        position=row.position,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
        failures_in_row=int(row.failures_in_row),
        samples_stored=int(row.samples_stored),
        rows_refused=int(row.rows_refused),
        last_error=row.last_error,
        failures_total=int(row.failures_total),
    )


# --- dropped files -----------------------------------------------------------------------------


def claim_file(
    conn: Connection,
    sha256: str,
    name: str,
    kind: str,
    accepted: int,
    refused: int,
    at: datetime,
) -> bool:
    """Record that the file with content hash `sha256` is ingested, in the same transaction
    as its rows. True if this call recorded it; False if it was recorded before (the caller
    then skips it: its rows are already stored, so nothing is counted twice)."""
    stmt = (
        dialect_insert(conn)(ingested_files)
        .values(sha256=sha256, name=name, kind=kind, accepted=int(accepted), refused=int(refused), ingested_at=at)
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(ingested_files.c.sha256)
    )
    return conn.execute(stmt).first() is not None


def get_ingested_file(conn: Connection, sha256: str) -> IngestedFile | None:
    row = conn.execute(select(ingested_files).where(ingested_files.c.sha256 == sha256)).first()
    if row is None:
        return None
    return IngestedFile(
        sha256=row.sha256,
        name=row.name,
        kind=row.kind,
        accepted=int(row.accepted),
        refused=int(row.refused),
        ingested_at=row.ingested_at,
    )

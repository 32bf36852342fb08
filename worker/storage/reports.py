"""Reports: one row per (kind, customer, period) — generated once, sent by claim (SPEC 8).
`customer` is the customer id of a customer report, '' for the board report and the supplier
id of a supplier's scorecard (SPEC 9.2; supplier and customer ids never clash).

The row is the delivery state of one report: where its files are (relative to
SLA_REPORTS_DIR), their content hash, and the send state machine

    pending ──claim──► sending ──► sent
       ▲                  │
       └──── failed ◄─────┘        (a failed send is claimed again by the next run)

`filed` is a report with nothing to send (the board report, a customer or supplier without
`contacts.reports`). A claim is an `UPDATE … WHERE status IN (…)` that acts only when it
changed one row, so two runs racing for the same report cannot both send it. A claim left
behind by a process that died mid-send (`sending` for longer than `stale_after_s`) may be
claimed again; the resend carries the same Message-ID (see delivery.py).

Repository functions take the caller's Connection and never read the clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection, Row

from worker.storage.tables import dialect_insert
from worker.storage.tables import reports as reports_table
from worker.storage.tables import results as results_table

PENDING, SENDING, SENT, FAILED, FILED = "pending", "sending", "sent", "failed", "filed"
FINISHED = (SENT, FAILED, FILED)  # nothing in progress: the board report need not wait for it
KINDS = ("customer", "board", "supplier")  # supplier: the scorecard, `customer` = the supplier id


@dataclass(frozen=True)
class StoredReport:
    id: int
    kind: str
    customer: str
    period: str
    final: bool
    content_sha256: str
    directory: str
    files: tuple[str, ...]
    status: str
    generation: int
    attempts: int
    sends: int
    recipients: tuple[str, ...]
    message_id: str | None
    last_error: str | None
    created_at: datetime
    claimed_at: datetime | None
    sent_at: datetime | None


def _stored(row: Row[Any]) -> StoredReport:
    return StoredReport(
        id=row.id,
        kind=row.kind,
        customer=row.customer,
        period=row.period,
        final=bool(row.final),
        content_sha256=row.content_sha256,
        directory=row.directory,
        files=tuple(json.loads(row.files)),
        status=row.status,
        generation=row.generation,
        attempts=row.attempts,
        sends=row.sends,
        recipients=tuple(json.loads(row.recipients or "[]")),
        message_id=row.message_id,
        last_error=row.last_error,
        created_at=row.created_at,
        claimed_at=row.claimed_at,
        sent_at=row.sent_at,
    )


def find_report(conn: Connection, kind: str, customer: str, period: str) -> StoredReport | None:
    t = reports_table
    row = conn.execute(select(t).where(t.c.kind == kind, t.c.customer == customer, t.c.period == period)).first()
    return _stored(row) if row else None


def get_report(conn: Connection, report_id: int) -> StoredReport | None:
    row = conn.execute(select(reports_table).where(reports_table.c.id == report_id)).first()
    return _stored(row) if row else None


def list_reports(conn: Connection, period: str | None = None, statuses: Sequence[str] | None = None) -> list[StoredReport]:
    """Rows (of one period, in some statuses, when given), by period, kind, customer."""
    t = reports_table
    query = select(t)
    if period is not None:
        query = query.where(t.c.period == period)
    if statuses is not None:
        query = query.where(t.c.status.in_(list(statuses)))
    query = query.order_by(t.c.period, t.c.kind, t.c.customer)
    return [_stored(row) for row in conn.execute(query)]


def scored_customers(conn: Connection, period: str) -> set[str]:
    """The customers with an agreement result (not a supplier's contract result) in `period`:
    the reports due are theirs. One indexed DISTINCT, not the period's results."""
    t = results_table
    query = select(t.c.customer).where(t.c.period == period, t.c.kind == "agreement").distinct()
    return set(conn.execute(query).scalars())


def customers_in(conn: Connection, kind: str, period: str, statuses: Sequence[str]) -> set[str]:
    """The customers (supplier ids for scorecards) of `kind`'s rows of `period` in `statuses`."""
    t = reports_table
    query = select(t.c.customer).where(t.c.kind == kind, t.c.period == period, t.c.status.in_(list(statuses)))
    return set(conn.execute(query).scalars())


def insert_report(
    conn: Connection,
    *,
    kind: str,
    customer: str,
    period: str,
    final: bool,
    content_sha256: str,
    directory: str,
    files: Sequence[str],
    status: str,
    created_at: datetime,
) -> tuple[StoredReport, bool]:
    """Store a newly generated report unless one with the same (kind, customer, period)
    exists. Returns the stored row and whether it is the one given (False: another process
    stored its own first, and that one wins)."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}")
    stmt = (
        dialect_insert(conn)(reports_table)
        .values(
            kind=kind,
            customer=customer,
            period=period,
            final=final,
            content_sha256=content_sha256,
            directory=directory,
            files=json.dumps(list(files)),
            status=status,
            created_at=created_at,
        )
        .on_conflict_do_nothing(index_elements=["kind", "customer", "period"])
    )
    inserted = conn.execute(stmt).rowcount == 1
    found = find_report(conn, kind, customer, period)
    assert found is not None
    return found, inserted


def replace_content(
    conn: Connection,
    report_id: int,
    *,
    final: bool,
    content_sha256: str,
    directory: str,
    files: Sequence[str],
    created_at: datetime,
) -> None:
    """Replace the files of a report made from period-to-date results (only final reports
    are sent, so a draft was never sent) or whose files went missing. The send state is
    left as it is."""
    t = reports_table
    conn.execute(
        update(t)
        .where(t.c.id == report_id)
        .values(
            final=final,
            content_sha256=content_sha256,
            directory=directory,
            files=json.dumps(list(files)),
            created_at=created_at,
        )
    )


def set_filed(conn: Connection, report_id: int, filed: bool) -> None:
    """Turn a report with nothing to send into one to send (contacts were added) or back."""
    t = reports_table
    if filed:
        conn.execute(update(t).where(t.c.id == report_id, t.c.status == PENDING).values(status=FILED))
    else:
        conn.execute(update(t).where(t.c.id == report_id, t.c.status == FILED).values(status=PENDING))


def claim_send(conn: Connection, report_id: int, now: datetime, stale_after_s: float) -> StoredReport | None:
    """Take the right to send: pending or failed, or a `sending` claim older than
    `stale_after_s` (its process died). Returns the claimed row, or None when another run
    holds it or it is sent already."""
    t = reports_table
    stale_before = now - timedelta(seconds=stale_after_s)
    claimable = or_(
        t.c.status.in_([PENDING, FAILED]),
        and_(t.c.status == SENDING, t.c.claimed_at < stale_before),
    )
    done = conn.execute(
        update(t)
        .where(t.c.id == report_id, claimable)
        .values(status=SENDING, claimed_at=now, attempts=t.c.attempts + 1)
    )
    if done.rowcount != 1:
        return None
    return get_report(conn, report_id)


def record_attempt(conn: Connection, report_id: int, message_id: str, recipients: Sequence[str]) -> None:
    t = reports_table
    conn.execute(update(t).where(t.c.id == report_id).values(message_id=message_id, recipients=json.dumps(list(recipients))))


def mark_sent(conn: Connection, report_id: int, generation: int, now: datetime) -> bool:
    t = reports_table
    done = conn.execute(
        update(t)
        .where(t.c.id == report_id, t.c.status == SENDING, t.c.generation == generation)
        .values(status=SENT, sent_at=now, sends=t.c.sends + 1, last_error=None)
    )
    return done.rowcount == 1


def mark_failed(conn: Connection, report_id: int, generation: int, error: str) -> bool:
    t = reports_table
    done = conn.execute(
        update(t)
        .where(t.c.id == report_id, t.c.status == SENDING, t.c.generation == generation)
        .values(status=FAILED, last_error=error[:2000])
    )
    return done.rowcount == 1


def new_generation(conn: Connection, report_id: int) -> bool:
    """`--resend`: a new send generation (a new Message-ID), pending again. Refused while a
    send is in progress."""
    t = reports_table
    done = conn.execute(
        update(t)
        .where(t.c.id == report_id, t.c.status.in_([SENT, FAILED, PENDING]))
        .values(status=PENDING, generation=t.c.generation + 1, last_error=None)
    )
    return done.rowcount == 1


def sent_totals(conn: Connection) -> dict[str, int]:
    """Successful sends so far by kind (the counter sla_reports_sent_total), every kind
    served from 0 so that a rate() over it starts at the first send."""
    t = reports_table
    rows = conn.execute(select(t.c.kind, func.coalesce(func.sum(t.c.sends), 0)).group_by(t.c.kind))
    totals = {kind: 0 for kind in KINDS}
    totals.update({kind: int(total) for kind, total in rows})
    return totals

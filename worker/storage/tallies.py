"""Tallies: additive partial scores per objective and local day, so that a month is scored by
summing days and only days whose inputs changed are recomputed.

`basis` fingerprints the configuration that produced a row (target-independent settings such
as calendar, staleness, threshold): a reader ignores rows whose basis is not the current one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from worker.storage.tables import tallies as tallies_table
from worker.storage.tables import upsert

_KEYS = ["agreement", "objective", "day"]
_BATCH = 20_000


@dataclass(frozen=True)
class TallyRow:
    agreement: str
    objective: str
    day: date
    basis: str
    up_s: float = 0.0
    down_s: float = 0.0
    counted_s: float = 0.0
    good: float = 0.0
    total: float = 0.0


def upsert_tallies(conn: Connection, rows: Sequence[TallyRow], computed_at: datetime) -> int:
    """Store `rows`, replacing stored rows with the same (agreement, objective, day); a later
    element with the same key wins. Returns the number of distinct rows written."""
    written = 0
    for start in range(0, len(rows), _BATCH):
        batch = [
            {
                "agreement": r.agreement,
                "objective": r.objective,
                "day": r.day,
                "basis": r.basis,
                "up_s": float(r.up_s),
                "down_s": float(r.down_s),
                "counted_s": float(r.counted_s),
                "good": float(r.good),
                "total": float(r.total),
                "computed_at": computed_at,
            }
            for r in rows[start : start + _BATCH]
        ]
        written += upsert(conn, tallies_table, batch, keys=_KEYS)
    return written


def load_tallies(
    conn: Connection,
    agreement: str,
    objective_ids: Collection[str] | None,
    first_day: date,
    last_day: date,
) -> list[TallyRow]:
    """Stored tallies of one agreement (of `objective_ids` only, when given) for
    first_day ≤ day ≤ last_day, sorted by objective then day."""
    t = tallies_table
    query = select(
        t.c.agreement, t.c.objective, t.c.day, t.c.basis, t.c.up_s, t.c.down_s, t.c.counted_s, t.c.good, t.c.total
    ).where(t.c.agreement == agreement, t.c.day >= first_day, t.c.day <= last_day)
    if objective_ids is not None:
        wanted = sorted(set(objective_ids))
        if not wanted:
            return []
        query = query.where(t.c.objective.in_(wanted))
    query = query.order_by(t.c.objective, t.c.day)
    return [
        TallyRow(
            agreement=row.agreement,
            objective=row.objective,
            day=row.day,
            basis=row.basis,
            up_s=row.up_s,
            down_s=row.down_s,
            counted_s=row.counted_s,
            good=row.good,
            total=row.total,
        )
        for row in conn.execute(query)
    ]


def delete_tallies(conn: Connection, agreement: str, objective: str | None, first_day: date, last_day: date) -> int:
    """Forget tallies of one agreement's objective (None: all its objectives) for
    first_day ≤ day ≤ last_day. Returns the number of rows deleted."""
    t = tallies_table
    stmt = delete(t).where(t.c.agreement == agreement, t.c.day >= first_day, t.c.day <= last_day)
    if objective is not None:
        stmt = stmt.where(t.c.objective == objective)
    return conn.execute(stmt).rowcount

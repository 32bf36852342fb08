"""Tally sheets: one row per (agreement, objective, period) holding the additive partial
scores of every local day, so a period is scored by summing days and new data re-tallies only
the days it touches.

`basis` fingerprints the configuration that produced a sheet (calendar, staleness, threshold,
excluded maintenance …, not target): a sheet under another basis is started afresh.
Days are packed as float64 bytes: reading or writing a month for 2,500 objectives is 2,500 rows,
not 80,000.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Connection

from worker.scoring.plan import Stored
from worker.storage.tables import among, upsert
from worker.storage.tables import tallies as tallies_table

FIELDS = ("up_s", "down_s", "counted_s", "good", "total")


@dataclass(eq=False)
class TallySheet:
    """Per-day sums of one objective for one period. `sums[i]` is the row for FIELDS[i]."""

    agreement: str
    objective: str
    period: str
    basis: str
    tallied: np.ndarray  # bool [days]
    sums: np.ndarray  # float64 [5, days]

    @staticmethod
    def blank(agreement: str, objective: str, period: str, basis: str, days: int) -> TallySheet:
        return TallySheet(agreement, objective, period, basis, np.zeros(days, dtype=bool), np.zeros((len(FIELDS), days)))

    @property
    def key(self) -> tuple[str, str]:
        return self.agreement, self.objective


def upsert_sheets(conn: Connection, sheets: Sequence[TallySheet], computed_at: datetime) -> int:
    """Store `sheets`, replacing stored ones with the same (agreement, objective, period)."""
    rows = [
        {
            "agreement": s.agreement,
            "objective": s.objective,
            "period": s.period,
            "basis": s.basis,
            "days": int(s.tallied.shape[0]),
            "tallied": s.tallied.astype(np.uint8).tobytes(),
            "sums": np.ascontiguousarray(s.sums, dtype="<f8").tobytes(),
            "computed_at": computed_at,
        }
        for s in sheets
    ]
    return upsert(conn, tallies_table, rows, keys=["agreement", "objective", "period"])


def load_stored(conn: Connection, period: str, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], Stored]:
    """What planning needs of the stored sheets of `keys` in one period, by (agreement,
    objective): basis, days tallied for good, when written. Without the sums, which only the
    sheets a run re-tallies need (`load_sheets`): most of a five-minute run's are left alone."""
    if not keys:
        return {}
    t = tallies_table
    query = select(t.c.agreement, t.c.objective, t.c.basis, t.c.tallied, t.c.computed_at).where(t.c.period == period)
    rows = conn.execute(query.where(among(conn, [t.c.agreement, t.c.objective], sorted(set(keys))))).all()
    return {(agreement, objective): Stored(basis, tallied, _written_s(at)) for agreement, objective, basis, tallied, at in rows}


def load_sheets(
    conn: Connection, period: str, keys: Collection[tuple[str, str]] | None = None
) -> dict[tuple[str, str], TallySheet]:
    """Stored sheets of one period by (agreement, objective); only `keys` when given."""
    t = tallies_table
    query = select(t.c.agreement, t.c.objective, t.c.basis, t.c.days, t.c.tallied, t.c.sums).where(t.c.period == period)
    if keys is not None:
        if not keys:
            return {}
        query = query.where(among(conn, [t.c.agreement, t.c.objective], sorted(set(keys))))
    rows = conn.execute(query).all()
    if not rows:
        return {}
    # Decoded in one go (a numpy call per sheet is most of the time for thousands of sheets):
    # every sheet's bytes joined, read as one array, then cut into views of their own copy.
    _, _, _, days, tallied_bytes, sums_bytes = zip(*rows)
    ends = np.cumsum(days).tolist()
    tallied = np.split(np.frombuffer(b"".join(tallied_bytes), dtype=np.uint8).astype(bool), ends[:-1])
    sums = np.split(np.frombuffer(b"".join(sums_bytes), dtype="<f8").copy(), [len(FIELDS) * end for end in ends[:-1]])
    return {
        (row.agreement, row.objective): TallySheet(row.agreement, row.objective, period, row.basis, done, figures.reshape(len(FIELDS), row.days))
        for row, done, figures in zip(rows, tallied, sums)
    }


def _written_s(computed_at: datetime) -> float:
    """A microsecond before the stored instant, which was rounded to the microsecond: never
    later than the moment the sheet was tallied up to."""
    return computed_at.timestamp() - 1e-6

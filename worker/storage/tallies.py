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
from sqlalchemy import ColumnElement, Text, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from worker.storage.locks import is_postgresql
from worker.storage.tables import tallies as tallies_table
from worker.storage.tables import upsert

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


def load_sheets(
    conn: Connection, period: str, keys: Collection[tuple[str, str]] | None = None
) -> dict[tuple[str, str], TallySheet]:
    """Stored sheets of one period by (agreement, objective); only `keys` when given."""
    t = tallies_table
    query = select(t.c.agreement, t.c.objective, t.c.basis, t.c.days, t.c.tallied, t.c.sums).where(t.c.period == period)
    if keys is not None:
        if not keys:
            return {}
        query = query.where(_among(conn, sorted(set(keys))))
    sheets = {}
    for row in conn.execute(query):
        tallied = np.frombuffer(row.tallied, dtype=np.uint8).astype(bool)
        sums = np.frombuffer(row.sums, dtype="<f8").reshape(len(FIELDS), row.days).copy()
        sheets[(row.agreement, row.objective)] = TallySheet(row.agreement, row.objective, period, row.basis, tallied, sums)
    return sheets


def _among(conn: Connection, keys: list[tuple[str, str]]) -> ColumnElement[bool]:
    """(agreement, objective) is one of `keys`. On PostgreSQL the keys travel as two arrays
    (a thousand keys are two parameters, not two thousand the driver must splice in)."""
    t = tallies_table
    if not is_postgresql(conn):
        return tuple_(t.c.agreement, t.c.objective).in_(keys)
    agreements, objectives = (bindparam(name, [key[i] for key in keys], ARRAY(Text)) for i, name in enumerate(("a", "o")))
    wanted = select(func.unnest(agreements).label("a"), func.unnest(objectives).label("o")).subquery()
    return tuple_(t.c.agreement, t.c.objective).in_(select(wanted.c.a, wanted.c.o))

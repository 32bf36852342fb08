"""Tally sheets: one row per (agreement, objective, period) holding the additive partial
scores of every local day, so a period is scored by summing days and new data re-tallies only
the days it touches.

`basis` fingerprints the configuration that produced a sheet (calendar, staleness, threshold,
excluded maintenance …, not target): a sheet under another basis is started afresh.
`computed_at` is when a sheet was written: its days not tallied for good hold their tallies up
to then (a run re-tallies them only when counted time has gone by since, see
`worker.scoring.plan`). Days are packed as float64 bytes: reading or writing a month for 2,500
objectives is 2,500 rows, not 80,000.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from worker.scoring.plan import Stored
from worker.storage.locks import is_postgresql
from worker.storage.tables import driver_connection, text_array, upsert
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
    rows = _read(conn, period, keys, sums=False)
    # A microsecond early: `computed_at` was rounded to the microsecond when stored, and the
    # moment a sheet's days were tallied up to must never be read as later than it was.
    return {(agreement, objective): Stored(basis, tallied, written_s - 1e-6) for agreement, objective, basis, _, tallied, _, written_s in rows}


def load_sheets(conn: Connection, period: str, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], TallySheet]:
    """The stored sheets of `keys` in one period, by (agreement, objective)."""
    rows = _read(conn, period, keys, sums=True)
    if not rows:
        return {}
    # Decoded in one go (a numpy call per sheet is most of the time for thousands of sheets):
    # every sheet's bytes joined, read as one array, then cut into views of their own copy.
    agreements, objectives, bases, days, tallied_bytes, sums_bytes, _ = zip(*rows)
    ends = np.cumsum(days).tolist()
    tallied = np.split(np.frombuffer(b"".join(tallied_bytes), dtype=np.uint8).astype(bool), ends[:-1])
    sums = np.split(np.frombuffer(b"".join(sums_bytes), dtype="<f8").copy(), [len(FIELDS) * end for end in ends[:-1]])
    return {
        (agreement, objective): TallySheet(agreement, objective, period, basis, done, figures.reshape(len(FIELDS), count))
        for agreement, objective, basis, count, done, figures in zip(agreements, objectives, bases, days, tallied, sums)
    }


def _read(conn: Connection, period: str, keys: Collection[tuple[str, str]], *, sums: bool) -> list[tuple[Any, ...]]:
    """(agreement, objective, basis, days, tallied, sums or None, written_s) of the stored
    sheets of `keys` in `period`, through the driver: thousands of rows a run, where the
    SQL layer's row objects and type conversions cost more than the query. `written_s` is
    `computed_at` in epoch seconds, to the microsecond."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    raw = driver_connection(conn)
    if is_postgresql(conn):
        with raw.cursor(binary=True) as cursor:
            agreements, objectives = (text_array([key[i] for key in wanted]) for i in (0, 1))
            cursor.execute(_PG_READ, (sums, agreements, objectives, period))
            return [(a, o, b, d, bytes(t), None if s is None else bytes(s), w) for a, o, b, d, t, s, w in cursor.fetchall()]
    cursor = raw.cursor()
    try:
        return list(cursor.execute(_SQLITE_READ, (sums, period, json.dumps([list(key) for key in wanted]))).fetchall())
    finally:
        cursor.close()


_PG_READ = (
    "SELECT t.agreement, t.objective, t.basis, t.days, t.tallied, CASE WHEN %s THEN t.sums END,"
    " extract(epoch FROM t.computed_at)::float8"
    " FROM tallies t JOIN unnest(%s::text[], %s::text[]) AS k(agreement, objective) USING (agreement, objective)"
    " WHERE t.period = %s"
)
_SQLITE_READ = (  # computed_at is stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
    "SELECT agreement, objective, basis, days, tallied, CASE WHEN ? THEN sums END,"
    " CAST(strftime('%s', computed_at) AS REAL) + CAST(substr(computed_at, 20) AS REAL)"
    " FROM tallies WHERE period = ? AND (agreement, objective) IN"
    " (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"
)

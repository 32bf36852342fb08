"""Samples: the bulk data path (tens of millions of samples), kept in numpy end to end.

A sample is (service_key, signal, at_ms, value): the service's small integer key
(`service_keys`), the signal's code (`SIGNAL_CODES`), epoch milliseconds UTC and a float.
Samples are stored as one compact block per series and UTC day (`sample_days`, encoded by
`sample_codec`): about a byte a sample, and a month of one series is 31 rows to read.
`store_sample_arrays` is where every source's samples end up (CSV files, collectors): it turns
service ids and signal names into keys and codes and adds the spans stored to the pending
changes that tell scoring what to redo.

Write rule (SPEC section 5): the same (service, signal, timestamp) is stored once; the later
value wins — the later element of a batch, and a new batch over a stored value. A batch is
deduplicated and sorted in numpy, split by (series, day), and each day is merged with the
block already stored (read, merge, re-encode, write back; a block that comes out identical
is not rewritten).

Concurrent writers (two workers, a collector and a file drop) never lose each other's
samples. PostgreSQL: the stored blocks a batch touches are read `FOR UPDATE`, so a second
writer of the same day waits for the first to commit and then merges into its block; a day
that is new to both is inserted by both, the second insert fails on the primary key, is
rolled back to a savepoint and the batch is merged again into what the first wrote. SQLite:
every write transaction is `BEGIN IMMEDIATE` (one writer at a time).

Repository functions take the caller's `Connection`; the caller owns the transaction, so one
file is one transaction and a crash mid-file stores nothing of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from worker.domain.changes import Changes
from worker.domain.errors import InvalidValue
from worker.domain.model import InputKind, Signal
from worker.storage import sample_codec as codec
from worker.storage.locks import is_postgresql, is_sqlite
from worker.storage.tables import dialect_insert, driver_connection, sample_days, services

SIGNAL_CODES: dict[str, int] = {Signal.UP.value: 0, Signal.LATENCY_MS.value: 1, Signal.GOOD.value: 2, Signal.TOTAL.value: 3}
SIGNAL_NAMES: dict[int, str] = {code: name for name, code in SIGNAL_CODES.items()}

_INT32_MAX = 2**31 - 1
_WRITE_CHUNK = 2_000  # blocks per statement

Day = tuple[int, int, int]
"""A block's key: (service_key, signal, UTC day)."""
Series = tuple[np.ndarray, np.ndarray]
"""(at_ms int64 ascending, value float64)."""
Row = tuple[int, int, int, int, int, int, bytes]
"""A sample_days row: service_key, signal, day, samples, first_ms, last_ms, block."""

_PG_LOCK_STORED = (
    "SELECT d.service_key, d.signal, d.day, d.block FROM sample_days d "
    "JOIN unnest(%s::int4[], %s::int2[], %s::int4[]) AS g(service_key, signal, day) "
    "USING (service_key, signal, day) ORDER BY d.service_key, d.signal, d.day FOR UPDATE OF d"
)
_PG_INSERT = (
    "INSERT INTO sample_days (service_key, signal, day, samples, first_ms, last_ms, block) "
    "SELECT * FROM unnest(%s::int4[], %s::int2[], %s::int4[], %s::int4[], %s::int8[], %s::int8[], %s::bytea[])"
)
_PG_UPDATE = (
    "UPDATE sample_days d SET samples = u.samples, first_ms = u.first_ms, last_ms = u.last_ms, block = u.block "
    "FROM unnest(%s::int4[], %s::int2[], %s::int4[], %s::int4[], %s::int8[], %s::int8[], %s::bytea[]) "
    "AS u(service_key, signal, day, samples, first_ms, last_ms, block) "
    "WHERE d.service_key = u.service_key AND d.signal = u.signal AND d.day = u.day"
)
_PG_LOAD_BLOCKS = (
    "SELECT service_key, signal, block FROM sample_days WHERE service_key = ANY(%s::int4[]) "
    "AND signal = ANY(%s::int2[]) AND day >= %s AND day <= %s ORDER BY service_key, signal, day"
)
_SQLITE_STORED = "SELECT block FROM sample_days WHERE service_key = ? AND signal = ? AND day = ?"
_SQLITE_UPSERT = (
    "INSERT INTO sample_days (service_key, signal, day, samples, first_ms, last_ms, block) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (service_key, signal, day) DO UPDATE SET samples = excluded.samples, "
    "first_ms = excluded.first_ms, last_ms = excluded.last_ms, block = excluded.block"
)
_SQLITE_LOAD_BLOCKS = (
    "SELECT service_key, signal, block FROM sample_days WHERE service_key IN ({keys}) AND signal IN ({codes}) "
    "AND day >= ? AND day <= ? ORDER BY service_key, signal, day"
)


# --- services ----------------------------------------------------------------------------------


def service_keys(conn: Connection, ids: Iterable[str]) -> dict[str, int]:
    """The small integer key of each service id, registering ids not seen before.

    Race-safe: missing ids are inserted with "on conflict do nothing" and everything is read
    back afterwards, so two processes registering the same new service agree on its key."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    known = _select_keys(conn, wanted)
    missing = [i for i in wanted if i not in known]
    if missing:
        stmt = dialect_insert(conn)(services).on_conflict_do_nothing(index_elements=["id"])
        conn.execute(stmt, [{"id": i} for i in missing])
        known.update(_select_keys(conn, missing))
    return known


def service_ids(conn: Connection) -> dict[int, str]:
    """Every registered service: key → id."""
    return {row.key: row.id for row in conn.execute(select(services.c.key, services.c.id))}


def _select_keys(conn: Connection, ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = conn.execute(select(services.c.id, services.c.key).where(services.c.id.in_(chunk)))
        out.update({row.id: row.key for row in rows})
    return out


# --- writing -----------------------------------------------------------------------------------


def store_sample_arrays(
    conn: Connection,
    service: np.ndarray,
    signal: np.ndarray,
    at_ms: np.ndarray,
    value: np.ndarray,
    changes: Changes,
    streams: Counter[str] | None = None,
) -> int:
    """Store validated samples (service ids and signal names as strings, epoch ms, values) and
    add the spans they touch to `changes` (and the rows per "<service>/<signal>" to
    `streams`). Any source's samples end up here. Returns the number stored; within the
    arrays the later element wins."""
    if len(at_ms) == 0:
        return 0
    names, service_index = _categories(service)
    keys = service_keys(conn, names)
    service_key = np.array([keys[name] for name in names], dtype=np.int32)[service_index]
    signal_names, signal_index = _categories(signal)
    codes = np.array([SIGNAL_CODES[s] for s in signal_names], dtype=np.int16)[signal_index]
    stored = store_samples(conn, service_key, codes, at_ms, value)
    first = np.full(len(names), np.iinfo(np.int64).max)
    last = np.full(len(names), np.iinfo(np.int64).min)
    np.minimum.at(first, service_index, at_ms)
    np.maximum.at(last, service_index, at_ms)
    for name, lo, hi in zip(names, first.tolist(), last.tolist()):
        changes.add(InputKind.SAMPLES, name, lo / 1000.0, hi / 1000.0)
    if streams is not None:
        pairs, counts = np.unique(service_index.astype(np.int64) * 16 + signal_index, return_counts=True)
        for pair, count in zip(pairs.tolist(), counts.tolist()):
            streams[f"{names[pair // 16]}/{signal_names[pair % 16]}"] += count
    return stored


def _categories(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct strings (first-seen order) and each element's index among them. Rows come in
    runs of one service or signal, so only the first element of each run is looked up."""
    n = len(values)
    heads = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if n > 1 else np.arange(n)
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values[heads]), dtype=np.int32, count=len(heads))
    return list(index), np.repeat(codes, np.diff(np.r_[heads, n]))


def store_samples(
    conn: Connection,
    service_key: Any,
    signal: Any,
    at_ms: Any,
    value: Any,
) -> int:
    """Upsert samples given as four equally long arrays (anything `np.asarray` accepts).

    Within the batch the later element of a repeated (service_key, signal, at_ms) wins; a
    sample stored before is overwritten. Returns the number of distinct samples in the batch —
    all of them are now stored with these values."""
    keys, signals, ats, values = _validated(service_key, signal, at_ms, value)
    if len(keys) == 0:
        return 0
    keys, signals, ats, values = _dedupe_sorted(keys, signals, ats, values)
    batch = dict(_by_day(keys, signals, ats, values))
    raw = driver_connection(conn)
    if is_postgresql(conn):
        _store_postgresql(raw, batch)
    elif is_sqlite(conn):
        _store_sqlite(raw, batch)
    else:
        raise NotImplementedError(f"samples are not implemented for {conn.dialect.name}")
    return len(keys)


def _by_day(keys: np.ndarray, signals: np.ndarray, ats: np.ndarray, values: np.ndarray) -> Iterator[tuple[Day, Series]]:
    """The sorted, deduplicated batch cut into (series, UTC day) pieces."""
    days = codec.day_of(ats)
    cut = np.flatnonzero((keys[1:] != keys[:-1]) | (signals[1:] != signals[:-1]) | (days[1:] != days[:-1])) + 1
    starts = np.r_[0, cut].tolist()
    ends = np.r_[cut, len(keys)].tolist()
    for start, end in zip(starts, ends):
        yield (int(keys[start]), int(signals[start]), int(days[start])), (ats[start:end], values[start:end])


def _merged(new: Series, stored: bytes | None) -> tuple[bytes, Series] | None:
    """The block to write for one day: the batch merged into the stored block (the batch wins
    at an instant in both); None when that is exactly what is stored already."""
    if stored is None:
        return codec.encode(*new), new
    merged = codec.merge(codec.decode(stored), new)
    block = codec.encode(*merged)
    return None if block == stored else (block, merged)


def _rows(day: Day, block: bytes, series: Series) -> Row:
    return (*day, len(series[0]), int(series[0][0]), int(series[0][-1]), block)


def _store_postgresql(raw: Any, batch: dict[Day, Series]) -> None:
    import psycopg

    days = list(batch)
    for start in range(0, len(days), _WRITE_CHUNK):
        chunk = days[start : start + _WRITE_CHUNK]
        with raw.cursor(binary=True) as cur:
            while True:  # again only when a concurrent writer inserted one of our new days first
                stored = _lock_stored(cur, chunk)
                inserts: list[Row] = []
                updates: list[Row] = []
                for day in chunk:
                    written = _merged(batch[day], stored.get(day))
                    if written is not None:
                        (updates if day in stored else inserts).append(_rows(day, *written))
                cur.execute("SAVEPOINT sla_sample_days")
                try:
                    _execute_columns(cur, _PG_INSERT, inserts)
                except psycopg.errors.UniqueViolation:
                    cur.execute("ROLLBACK TO SAVEPOINT sla_sample_days")
                    continue
                cur.execute("RELEASE SAVEPOINT sla_sample_days")
                _execute_columns(cur, _PG_UPDATE, updates)
                break


def _lock_stored(cur: Any, chunk: Sequence[Day]) -> dict[Day, bytes]:
    """The stored blocks of these days, locked until the transaction ends."""
    columns = [list(c) for c in zip(*chunk)]
    cur.execute(_PG_LOCK_STORED, columns)
    return {(k, s, d): bytes(block) for k, s, d, block in cur.fetchall()}


def _execute_columns(cur: Any, statement: str, rows: list[Row]) -> None:
    if rows:
        cur.execute(statement, [list(c) for c in zip(*rows)])


def _store_sqlite(raw: Any, batch: dict[Day, Series]) -> None:
    cur = raw.cursor()
    try:
        rows = []
        for day, series in batch.items():
            found = cur.execute(_SQLITE_STORED, day).fetchone()
            written = _merged(series, None if found is None else bytes(found[0]))
            if written is not None:
                rows.append(_rows(day, *written))
        cur.executemany(_SQLITE_UPSERT, rows)
    finally:
        cur.close()


def _validated(service_key: Any, signal: Any, at_ms: Any, value: Any) -> tuple[np.ndarray, ...]:
    keys = np.asarray(service_key)
    signals = np.asarray(signal)
    ats = np.asarray(at_ms)
    values = np.asarray(value, dtype=np.float64)
    n = len(keys)
    if not (len(signals) == len(ats) == len(values) == n) or keys.ndim != 1:
        raise ValueError(
            f"service_key, signal, at_ms and value must be 1-D arrays of one length, got "
            f"{keys.shape}, {signals.shape}, {ats.shape}, {values.shape}"
        )
    if n == 0:
        return keys, signals, ats, values
    for name, array in (("service_key", keys), ("signal", signals), ("at_ms", ats)):
        if array.dtype.kind not in "iu":
            raise ValueError(f"{name} must be an integer array, got {array.dtype}")
    if keys.min() < 1 or keys.max() > _INT32_MAX:
        raise InvalidValue("service_key out of range: use the keys given by service_keys()")
    if signals.min() < 0 or signals.max() > max(SIGNAL_NAMES):
        raise InvalidValue(f"signal code out of range: codes are {SIGNAL_CODES}")
    if not np.isfinite(values).all():
        raise InvalidValue("sample values must be finite numbers")
    return keys.astype(np.int32), signals.astype(np.int16), ats.astype(np.int64), values


def _dedupe_sorted(
    keys: np.ndarray, signals: np.ndarray, ats: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Sorted by (service_key, signal, at_ms), one element per key: the last one given."""
    if len(keys) > 1:
        ascending = (keys[1:] > keys[:-1]) | (
            (keys[1:] == keys[:-1])
            & ((signals[1:] > signals[:-1]) | ((signals[1:] == signals[:-1]) & (ats[1:] > ats[:-1])))
        )
        if ascending.all():  # already sorted and unique: the collectors' usual output
            return keys, signals, ats, values
    order = np.lexsort((ats, signals, keys))  # stable: equal keys keep their input order
    keys, signals, ats, values = keys[order], signals[order], ats[order], values[order]
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = (keys[1:] != keys[:-1]) | (signals[1:] != signals[:-1]) | (ats[1:] != ats[:-1])
    return keys[last], signals[last], ats[last], values[last]


# --- reading -----------------------------------------------------------------------------------


def load_samples(conn: Connection, service_key: int, signal: int, start_ms: int, end_ms: int) -> Series:
    """One series over start_ms ≤ at_ms < end_ms: (at_ms int64 ascending, value float64)."""
    return load_service_samples(conn, [service_key], [signal], start_ms, end_ms)[(int(service_key), int(signal))]


def load_service_samples(
    conn: Connection,
    service_keys: Sequence[int],
    signals: Sequence[int],
    start_ms: int,
    end_ms: int,
) -> dict[tuple[int, int], Series]:
    """Every (service_key, signal) pair asked for → its series over [start_ms, end_ms), as
    `load_samples` returns it (empty arrays when nothing is stored). One query for all of
    them; only the days that meet the span are read and decoded."""
    keys = list(dict.fromkeys(int(k) for k in service_keys))
    codes = list(dict.fromkeys(int(s) for s in signals))
    start_ms, end_ms = int(start_ms), int(end_ms)
    blocks: dict[tuple[int, int], list[bytes]] = {(k, s): [] for k in keys for s in codes}
    if keys and codes and end_ms > start_ms:
        days = (start_ms // codec.DAY_MS, (end_ms - 1) // codec.DAY_MS)
        for key, code, block in _fetch_blocks(conn, keys, codes, days):
            blocks[(key, code)].append(block)
    return {pair: _span(found, start_ms, end_ms) for pair, found in blocks.items()}


def _fetch_blocks(conn: Connection, keys: list[int], codes: list[int], days: tuple[int, int]) -> list[tuple[int, int, bytes]]:
    """(service_key, signal, block) in key, signal, day order; PostgreSQL sends the blocks as
    raw bytes (binary protocol), not hex text."""
    raw = driver_connection(conn)
    if is_postgresql(conn):
        with raw.cursor(binary=True) as cur:
            cur.execute(_PG_LOAD_BLOCKS, (keys, codes, *days))
            return [(k, s, bytes(b)) for k, s, b in cur.fetchall()]
    if is_sqlite(conn):
        statement = _SQLITE_LOAD_BLOCKS.format(keys=",".join("?" * len(keys)), codes=",".join("?" * len(codes)))
        cur = raw.cursor()
        try:
            return list(cur.execute(statement, (*keys, *codes, *days)).fetchall())
        finally:
            cur.close()
    raise NotImplementedError(f"samples are not implemented for {conn.dialect.name}")


def _span(blocks: list[bytes], start_ms: int, end_ms: int) -> Series:
    """The decoded blocks (in day order) cut to [start_ms, end_ms)."""
    if not blocks:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    decoded = [codec.decode(block) for block in blocks]
    ats = np.concatenate([d[0] for d in decoded]) if len(decoded) > 1 else decoded[0][0]
    values = np.concatenate([d[1] for d in decoded]) if len(decoded) > 1 else decoded[0][1]
    lo, hi = np.searchsorted(ats, [start_ms, end_ms])
    return ats[lo:hi], values[lo:hi]


def first_sample_s(conn: Connection) -> float | None:
    """Epoch seconds of the oldest stored sample of any series; None when there is none (read
    from the oldest day's rows, found through the day index)."""
    oldest_day = select(func.min(sample_days.c.day)).scalar_subquery()
    first = conn.execute(select(func.min(sample_days.c.first_ms)).where(sample_days.c.day == oldest_day)).scalar()
    return None if first is None else int(first) / 1000.0


def sample_count(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(sample_days.c.samples), 0))).scalar_one())

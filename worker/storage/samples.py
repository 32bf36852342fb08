"""Samples: the bulk data path (tens of millions of rows), kept in numpy end to end.

A sample is stored as (service_key, signal, at_ms, value): the service's small integer key
(`service_keys`), the signal's code (`SIGNAL_CODES`), epoch milliseconds UTC and a float.
The primary key is (service_key, signal, at_ms): one sample per series and instant.
`store_sample_arrays` is where every source's samples end up (CSV files, collectors): it turns
service ids and signal names into keys and codes and adds the spans stored to the pending
changes that tell scoring what to redo.

Write rule (SPEC section 5): the same (service, signal, timestamp) is stored once; the later
value wins — the later element of a batch, and a new batch over a stored value.

PostgreSQL, write: the batch is deduplicated and sorted in numpy and sent with a binary COPY
built from a numpy structured array (no Python object per row). When no stored sample lies in
the batch's time span for any of its series (fresh data, the common case) it is copied straight
into `samples`; otherwise it goes through a temporary staging table and
`INSERT … ON CONFLICT DO UPDATE`, about twice as slow. A concurrent writer racing the first
path makes the COPY fail on the primary key; it is then rolled back to a savepoint and the
batch takes the second path, so the result is the same either way.

PostgreSQL, read: each series is returned by one query as two `bytea` values (big-endian
int8 and float8 concatenated server-side), turned into arrays with `np.frombuffer`. This is
several times faster than fetching rows or reading `COPY … TO STDOUT` (libpq hands COPY out
one row at a time).

SQLite: `executemany` of an upsert, rows fetched with the raw driver cursor.

Repository functions take the caller's `Connection`; the caller owns the transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from worker.domain.changes import Changes
from worker.domain.errors import InvalidValue
from worker.domain.model import InputKind, Signal
from worker.storage.locks import is_postgresql, is_sqlite
from worker.storage.tables import dialect_insert, samples, services

SIGNAL_CODES: dict[str, int] = {Signal.UP.value: 0, Signal.LATENCY_MS.value: 1, Signal.GOOD.value: 2, Signal.TOTAL.value: 3}
SIGNAL_NAMES: dict[int, str] = {code: name for name, code in SIGNAL_CODES.items()}

_INT32_MAX = 2**31 - 1
_SQLITE_CHUNK = 100_000

# One row of a binary COPY into samples: field count, then (length, value) per column.
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("key_len", ">i4"),
        ("service_key", ">i4"),
        ("signal_len", ">i4"),
        ("signal", ">i2"),
        ("at_len", ">i4"),
        ("at_ms", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
_COPY_WRITE_BYTES = 8 << 20

_STAGING = "sla_samples_staging"
_PG_CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} "
    "(service_key int4 NOT NULL, signal int2 NOT NULL, at_ms int8 NOT NULL, value float8 NOT NULL) "
    "ON COMMIT DELETE ROWS"
)
# The batch is already free of duplicates (numpy), so no DISTINCT ON is needed. Rewriting a
# row with an identical value would only leave a dead tuple behind: skip those.
_PG_MERGE_STAGING = (
    f"INSERT INTO samples (service_key, signal, at_ms, value) "
    f"SELECT service_key, signal, at_ms, value FROM {_STAGING} "
    "ON CONFLICT (service_key, signal, at_ms) DO UPDATE SET value = EXCLUDED.value "
    "WHERE samples.value IS DISTINCT FROM EXCLUDED.value"
)
_PG_ANY_STORED = (
    "SELECT EXISTS (SELECT 1 FROM unnest(%s::int4[], %s::int2[], %s::int8[], %s::int8[]) "
    "AS g(service_key, signal, first_ms, last_ms) WHERE EXISTS (SELECT 1 FROM samples s "
    "WHERE s.service_key = g.service_key AND s.signal = g.signal "
    "AND s.at_ms BETWEEN g.first_ms AND g.last_ms))"
)
# Aggregating a sorted subquery keeps its order in practice; load() checks it anyway.
_PG_LOAD_SERIES = (
    "SELECT string_agg(int8send(at_ms), ''::bytea), string_agg(float8send(value), ''::bytea) "
    "FROM (SELECT at_ms, value FROM samples WHERE service_key = %s AND signal = %s "
    "AND at_ms >= %s AND at_ms < %s ORDER BY at_ms) AS series"
)

_SQLITE_UPSERT = (
    "INSERT INTO samples (service_key, signal, at_ms, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (service_key, signal, at_ms) DO UPDATE SET value = excluded.value "
    "WHERE samples.value IS NOT excluded.value"
)
_SQLITE_LOAD_SERIES = (
    "SELECT at_ms, value FROM samples WHERE service_key = ? AND signal = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms"
)
_SERIES_ROW = np.dtype([("at_ms", np.int64), ("value", np.float64)])


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
    """Distinct strings (first-seen order) and each element's index among them, in one pass."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32, count=len(values))
    return list(index), codes


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
    all of them are now stored with these values (including those already stored with the very
    same value, which are left untouched on disk)."""
    keys, signals, ats, values = _validated(service_key, signal, at_ms, value)
    if len(keys) == 0:
        return 0
    keys, signals, ats, values = _dedupe_sorted(keys, signals, ats, values)
    raw = _driver_connection(conn)
    if is_postgresql(conn):
        _store_postgresql(raw, keys, signals, ats, values)
    elif is_sqlite(conn):
        _store_sqlite(raw, keys, signals, ats, values)
    else:
        raise NotImplementedError(f"samples are not implemented for {conn.dialect.name}")
    return len(keys)


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


def _store_postgresql(raw: Any, keys: np.ndarray, signals: np.ndarray, ats: np.ndarray, values: np.ndarray) -> None:
    import psycopg

    payload = _copy_payload(keys, signals, ats, values)
    with raw.cursor() as cur:
        if not _any_stored_in_span(cur, keys, signals, ats):
            cur.execute("SAVEPOINT sla_samples_copy")
            try:
                _copy_in(cur, "samples", payload)
            except psycopg.errors.UniqueViolation:
                # Another transaction stored some of these samples since we looked.
                cur.execute("ROLLBACK TO SAVEPOINT sla_samples_copy")
                cur.execute("RELEASE SAVEPOINT sla_samples_copy")
            else:
                cur.execute("RELEASE SAVEPOINT sla_samples_copy")
                return
        cur.execute(_PG_CREATE_STAGING)
        _copy_in(cur, _STAGING, payload)
        cur.execute(_PG_MERGE_STAGING)
        cur.execute(f"TRUNCATE {_STAGING}")


def _copy_payload(keys: np.ndarray, signals: np.ndarray, ats: np.ndarray, values: np.ndarray) -> memoryview:
    rows = np.empty(len(keys), dtype=_COPY_ROW)
    rows["fields"] = 4
    rows["key_len"] = 4
    rows["signal_len"] = 2
    rows["at_len"] = 8
    rows["value_len"] = 8
    rows["service_key"] = keys
    rows["signal"] = signals
    rows["at_ms"] = ats
    rows["value"] = values
    return memoryview(rows.view(np.uint8))  # type: ignore[arg-type]


def _copy_in(cur: Any, table: str, payload: memoryview) -> None:
    with cur.copy(f"COPY {table} (service_key, signal, at_ms, value) FROM STDIN (FORMAT binary)") as copy:
        copy.write(_COPY_HEADER)
        for start in range(0, len(payload), _COPY_WRITE_BYTES):
            copy.write(payload[start : start + _COPY_WRITE_BYTES])
        copy.write(_COPY_TRAILER)


def _any_stored_in_span(cur: Any, keys: np.ndarray, signals: np.ndarray, ats: np.ndarray) -> bool:
    """Whether any stored sample of the batch's series lies between that series' first and
    last instant in the batch (input sorted by series, then time)."""
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]) | (signals[1:] != signals[:-1])])
    ends = np.r_[starts[1:], len(keys)] - 1
    cur.execute(
        _PG_ANY_STORED,
        (keys[starts].tolist(), signals[starts].tolist(), ats[starts].tolist(), ats[ends].tolist()),
    )
    return bool(cur.fetchone()[0])


def _store_sqlite(raw: Any, keys: np.ndarray, signals: np.ndarray, ats: np.ndarray, values: np.ndarray) -> None:
    cur = raw.cursor()
    try:
        for start in range(0, len(keys), _SQLITE_CHUNK):
            stop = start + _SQLITE_CHUNK
            cur.executemany(
                _SQLITE_UPSERT,
                zip(
                    keys[start:stop].tolist(),
                    signals[start:stop].tolist(),
                    ats[start:stop].tolist(),
                    values[start:stop].tolist(),
                ),
            )
    finally:
        cur.close()


# --- reading -----------------------------------------------------------------------------------


def load_samples(
    conn: Connection, service_key: int, signal: int, start_ms: int, end_ms: int
) -> tuple[np.ndarray, np.ndarray]:
    """One series over start_ms ≤ at_ms < end_ms: (at_ms int64 ascending, value float64)."""
    raw = _driver_connection(conn)
    args = (int(service_key), int(signal), int(start_ms), int(end_ms))
    if is_postgresql(conn):
        with raw.cursor(binary=True) as cur:
            return _load_postgresql(cur, *args)
    if is_sqlite(conn):
        cur = raw.cursor()
        try:
            return _load_sqlite(cur, *args)
        finally:
            cur.close()
    raise NotImplementedError(f"samples are not implemented for {conn.dialect.name}")


def load_service_samples(
    conn: Connection,
    service_keys: Sequence[int],
    signals: Sequence[int],
    start_ms: int,
    end_ms: int,
) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    """Every (service_key, signal) pair asked for → its series over [start_ms, end_ms), as
    `load_samples` returns it (empty arrays when nothing is stored)."""
    pairs = [(int(k), int(s)) for k in dict.fromkeys(service_keys) for s in dict.fromkeys(signals)]
    raw = _driver_connection(conn)
    out: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    if is_postgresql(conn):
        with raw.cursor(binary=True) as cur:
            for key, sig in pairs:
                out[(key, sig)] = _load_postgresql(cur, key, sig, int(start_ms), int(end_ms))
        return out
    if is_sqlite(conn):
        cur = raw.cursor()
        try:
            for key, sig in pairs:
                out[(key, sig)] = _load_sqlite(cur, key, sig, int(start_ms), int(end_ms))
        finally:
            cur.close()
        return out
    raise NotImplementedError(f"samples are not implemented for {conn.dialect.name}")


def _load_postgresql(cur: Any, key: int, sig: int, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
    cur.execute(_PG_LOAD_SERIES, (key, sig, start_ms, end_ms))
    packed_at, packed_value = cur.fetchone()
    if packed_at is None:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    ats = np.frombuffer(packed_at, dtype=">i8").astype(np.int64)
    values = np.frombuffer(packed_value, dtype=">f8").astype(np.float64)
    if len(ats) > 1 and not (ats[1:] > ats[:-1]).all():
        order = np.argsort(ats, kind="stable")
        ats, values = ats[order], values[order]
    return ats, values


def _load_sqlite(cur: Any, key: int, sig: int, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
    rows = cur.execute(_SQLITE_LOAD_SERIES, (key, sig, start_ms, end_ms)).fetchall()
    series = np.fromiter(rows, dtype=_SERIES_ROW, count=len(rows))
    return series["at_ms"].copy(), series["value"].copy()


def first_sample_s(conn: Connection) -> float | None:
    """Epoch seconds of the oldest stored sample of any series; None when there is none.

    Asked per series so that each answer is the first entry of a primary-key range (a plain
    `min(at_ms)` would read the whole table: at_ms is not the leading key column)."""
    firsts = []
    for code in SIGNAL_NAMES:
        first_of_series = (
            select(func.min(samples.c.at_ms))
            .where(samples.c.service_key == services.c.key, samples.c.signal == code)
            .scalar_subquery()
        )
        firsts.append(conn.execute(select(func.min(first_of_series)).select_from(services)).scalar())
    known = [int(ms) for ms in firsts if ms is not None]
    return min(known) / 1000.0 if known else None


def sample_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(samples)).scalar_one())


# --- helpers -----------------------------------------------------------------------------------


def _driver_connection(conn: Connection) -> Any:
    """The DBAPI connection under `conn`, inside `conn`'s transaction.

    Touching the driver directly skips SQLAlchemy's transaction start, so begin one first if
    the caller has not (what SQLAlchemy's autobegin would have done: the caller commits)."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.driver_connection

"""The database schema, defined once, and the one upsert helper every repository module uses.

The schema is created and changed only by Alembic migrations (`worker/storage/migrations`);
`metadata` here is what the code reads and writes, and a test checks that the migrated database
matches it on every engine.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    cast,
    false,
    func,
    select,
    tuple_,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from worker.storage.locks import is_postgresql, is_sqlite

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant stored so that it always comes back as an aware UTC datetime.

    PostgreSQL keeps `timestamptz` (returned in the session's zone: converted to UTC here).
    SQLite has no zone support: values are stored as naive UTC text in a fixed-width format, so
    string comparison in SQL orders them correctly, and UTC is attached on the way out.
    A naive datetime is refused on the way in: guessing its zone would shift it silently."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected an aware datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: instants must be aware (UTC)")
        value = value.astimezone(timezone.utc)
        if is_sqlite(dialect):
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


services = Table(
    "services",
    metadata,
    # The small key samples carry instead of the service id (4 bytes instead of a text per row).
    Column("key", Integer, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False),
    UniqueConstraint("id"),
)

sample_days = Table(
    "sample_days",
    metadata,
    # One row per series and UTC day: the day's samples as one compact block
    # (worker/storage/sample_codec.py), about 1 byte a sample instead of ~80 for a row each.
    # No foreign key to services: keys only ever come from `samples.service_keys`.
    Column("service_key", Integer, nullable=False),
    Column("signal", SmallInteger, nullable=False),  # samples.SIGNAL_CODES
    Column("day", Integer, nullable=False),  # days since 1970-01-01, UTC
    Column("samples", Integer, nullable=False),  # how many the block holds
    Column("first_ms", BigInteger, nullable=False),  # its first and last instant, epoch ms UTC
    Column("last_ms", BigInteger, nullable=False),
    Column("block", LargeBinary, nullable=False),
    PrimaryKeyConstraint("service_key", "signal", "day"),
    # Retention deletes by day, and the oldest sample is found from the oldest day.
    Index("ix_sample_days_day", "day"),
)

retention = Table(
    "retention",
    metadata,
    # What retention has deleted: data older than `before` is gone for good (issue 15), so a
    # period that starts before it can no longer be scored from its samples.
    Column("data", Text, primary_key=True),  # "samples"
    Column("before", UtcDateTime, nullable=False),
    Column("ran_at", UtcDateTime, nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("service", Text, nullable=False),
    Column("customer", Text, nullable=True),  # NULL: every customer covered for the service
    Column("priority", Text, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("responded_at", UtcDateTime, nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("on_hold", Text, nullable=False, server_default="[]"),  # JSON [[start_iso, end_iso], …]
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "service", "opened_at"),
)

maintenance = Table(
    "maintenance",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", Text, nullable=False),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    Column("announced_at", UtcDateTime, nullable=True),
    Column("reason", Text, nullable=False, server_default=""),
    Column("emergency", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("service", "start_at", "end_at"),
)

UPDATED_IN_PLACE = {"fillfactor": "70"}
"""Results and tally sheets are updated every few minutes: room on each page keeps an updated
row on its page with no index work (migration 0005)."""

results = Table(
    "results",
    metadata,
    Column("agreement", Text, nullable=False),
    Column("customer", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("period", Text, nullable=False),  # YYYY-MM
    Column("service", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("target", Double, nullable=False),
    Column("warning", Double, nullable=True),
    Column("value", Double, nullable=True),
    Column("status", Text, nullable=False),
    Column("good", Double, nullable=False),
    Column("bad", Double, nullable=False),
    Column("total", Double, nullable=False),
    Column("unit", Text, nullable=False),
    Column("coverage", Double, nullable=True),
    Column("error_budget_remaining", Double, nullable=True),
    Column("final", Boolean, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    # agreement | contract (SPEC 9.2): for a contract, `agreement` is the contract id and
    # `customer` the supplier id
    Column("kind", Text, nullable=False, server_default="agreement"),
    PrimaryKeyConstraint("agreement", "customer", "objective", "period"),
    Index(None, "period", "customer"),
    postgresql_with=UPDATED_IN_PLACE,
)

tallies = Table(
    "tallies",
    metadata,
    Column("agreement", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("period", Text, nullable=False),  # YYYY-MM
    Column("basis", Text, nullable=False),  # fingerprint of the configuration that produced it
    Column("days", Integer, nullable=False),
    Column("tallied", LargeBinary, nullable=False),  # one byte per local day: 1 = computed
    Column("sums", LargeBinary, nullable=False),  # float64 [5 × days]: up_s, down_s, counted_s, good, total
    Column("computed_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("agreement", "objective", "period"),
    postgresql_with=UPDATED_IN_PLACE,
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("source", Text, nullable=False),
    Column("stream", Text, nullable=False),  # "epr/up", "incidents", …
    Column("position", Text, nullable=True),  # ISO instant or an opaque cursor
    Column("last_success_at", UtcDateTime, nullable=True),
    Column("last_failure_at", UtcDateTime, nullable=True),
    Column("failures_in_row", Integer, nullable=False, server_default="0"),
    Column("failures_total", BigInteger, nullable=False, server_default="0"),  # running total
    Column("samples_stored", BigInteger, nullable=False, server_default="0"),
    Column("rows_refused", BigInteger, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    PrimaryKeyConstraint("source", "stream"),
)

ingested_files = Table(
    "ingested_files",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),  # samples | incidents | maintenance
    Column("accepted", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("ingested_at", UtcDateTime, nullable=False),
)


pending_changes = Table(
    "pending_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),  # samples | incidents | maintenance
    Column("service", Text, nullable=False),
    Column("first_s", Double, nullable=False),  # span of instants the new input touched
    Column("last_s", Double, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True),  # e.g. "beat"
    Column("holder", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

burn_rates = Table(
    "burn_rates",
    metadata,
    # Burn rates over the short windows of SPEC 7, computed after each scoring run from the
    # stored samples and incidents (worker/metrics/burn_rates.py), read by the metrics endpoint.
    Column("agreement", Text, nullable=False),
    Column("customer", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("window", Text, nullable=False),  # 5m, 30m, 1h, 6h, 3d
    Column("good", Double, nullable=False),
    Column("bad", Double, nullable=False),
    Column("total", Double, nullable=False),
    Column("burn_rate", Double, nullable=True),  # NULL: no counted data in the window
    Column("coverage", Double, nullable=True),  # availability: (up + down) / counted seconds; else NULL
    Column("computed_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("agreement", "customer", "objective", "window"),
)

task_durations = Table(
    "task_durations",
    metadata,
    # The histogram sla_task_duration_seconds, kept here so that every worker process adds to
    # the same figures (worker/metrics/tasks_timing.py): one row per task and bucket.
    Column("task", Text, nullable=False),  # Celery task name, e.g. sla.collect
    Column("le", Text, nullable=False),  # the bucket's upper bound in seconds ("+Inf" for the last)
    Column("observations", BigInteger, nullable=False),  # runs that fell in this bucket (not cumulative)
    Column("seconds", Double, nullable=False),  # their durations added up
    PrimaryKeyConstraint("task", "le"),
)

reports = Table(
    "reports",
    metadata,
    # Monthly governance reports (SPEC 8): one row per (kind, customer, period), generated once
    # (files under SLA_REPORTS_DIR) and sent by claim: worker/reports/delivery.py.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),  # customer | board | supplier
    Column("customer", Text, nullable=False),  # '' for the board report
    Column("period", Text, nullable=False),  # YYYY-MM
    Column("final", Boolean, nullable=False),  # made from final results (kept) or period-to-date
    Column("content_sha256", Text, nullable=False),  # over the files, names included
    Column("directory", Text, nullable=False),  # relative to SLA_REPORTS_DIR
    Column("files", Text, nullable=False),  # JSON list of file names in the directory
    Column("status", Text, nullable=False),  # pending | sending | sent | failed | filed (nothing to send)
    Column("generation", Integer, nullable=False, server_default="1"),  # send generation (--resend adds one)
    Column("attempts", Integer, nullable=False, server_default="0"),  # send attempts, all generations
    Column("sends", Integer, nullable=False, server_default="0"),  # successful sends (sla_reports_sent_total)
    Column("recipients", Text, nullable=False, server_default="[]"),  # JSON, as last addressed
    Column("message_id", Text, nullable=True),  # of the last attempt
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("kind", "customer", "period"),
)


alerts = Table(
    "alerts",
    metadata,
    # Alert state (SPEC 7): one row per key (rule, agreement, customer, objective); a source's
    # data-missing alert has agreement and customer '' and the source id as objective.
    Column("rule", Text, nullable=False),
    Column("agreement", Text, nullable=False),
    Column("customer", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("severity", Text, nullable=False),  # page | ticket
    Column("service", Text, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
    Column("firing_since", UtcDateTime, nullable=True),  # NULL: not firing
    Column("last_notified_at", UtcDateTime, nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("rule", "agreement", "customer", "objective"),
)

alert_transitions = Table(
    "alert_transitions",
    metadata,
    # History of alert changes, kept (`sla-worker alerts list --history`).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", Text, nullable=False),
    Column("agreement", Text, nullable=False),
    Column("customer", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("event", Text, nullable=False),  # firing | resolved
    Column("firing_since", UtcDateTime, nullable=False),  # the episode
    Column("at", UtcDateTime, nullable=False),
    Index(None, "at"),
)

silences = Table(
    "silences",
    metadata,
    # Mutes notifications (not state) of a service's alerts (of one customer, when given).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", Text, nullable=False),
    Column("customer", Text, nullable=True),  # NULL: every customer
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    # The alert outbox: one row per message (a group of alerts) to one channel, written in the
    # same transaction as the alert change; worker/alerts/delivery.py sends it. The items it
    # covers are in `notification_items`, whose key makes (alert, episode, event, sequence,
    # channel) unique: never notified twice. sla_notifications_total reads status/attempts.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", Text, nullable=False),
    Column("kind", Text, nullable=False),  # email | webhook | teams | alertmanager
    Column("event", Text, nullable=False),  # firing | repeat | resolved
    Column("idempotency_key", Text, nullable=False),  # sent as Idempotency-Key
    Column("payload", Text, nullable=False),  # JSON: the grouped alerts and their terms
    Column("status", Text, nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("retries", Integer, nullable=False, server_default="0"),  # failed attempts retried later
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("idempotency_key"),
    Index(None, "status", "next_attempt_at"),
)

notification_items = Table(
    "notification_items",
    metadata,
    Column("rule", Text, nullable=False),
    Column("agreement", Text, nullable=False),
    Column("customer", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("firing_since", UtcDateTime, nullable=False),
    Column("event", Text, nullable=False),
    Column("sequence", Integer, nullable=False),  # 0 firing, n-th repeat, -1 resolved
    Column("channel", Text, nullable=False),
    Column("notification_id", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("rule", "agreement", "customer", "objective", "firing_since", "event", "sequence", "channel"),
)


# --- the one way to upsert ---------------------------------------------------------------------


def dialect_insert(conn: Connection) -> Callable[[Table], Any]:
    """`insert` of the connection's dialect, the one that has `on_conflict_do_update`.

    Every upsert goes through here (or through `upsert` below) so that supporting another
    engine means changing one function."""
    if is_postgresql(conn):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if is_sqlite(conn):
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise NotImplementedError(f"upsert is not implemented for {conn.dialect.name}")


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    update: Sequence[str] | None = None,
    only_if: Callable[[Any], Any] | None = None,
    unless_same: Sequence[str] = (),
) -> int:
    """Insert `rows`; where a row with the same `keys` exists, overwrite its `update` columns
    (default: every column the rows carry except the keys; none → keep the stored row).

    Rows repeating a key within the batch are collapsed first, the later one winning — that is
    the product's rule, and PostgreSQL refuses to touch one row twice in one statement anyway.
    All rows must carry the same columns. `only_if(excluded)` may add a condition on the stored
    row and the new one (`excluded`) for overwriting. A row whose stored row already holds the
    same `unless_same` values is left out (read first in the caller's transaction: the caller
    must hold whatever keeps others from writing those rows meanwhile). Returns the number of
    distinct keys written."""
    if not rows:
        return 0
    key_of = _values_of(keys)
    last = {key_of(row): row for row in rows}
    if unless_same:
        for key in _stored_same(conn, table, keys, unless_same, last):
            del last[key]
        if not last:
            return 0
    distinct = list(last.values())
    columns = list(distinct[0].keys())
    update_columns = [c for c in columns if c not in keys] if update is None else list(update)

    if is_postgresql(conn):
        conn.execute(_on_conflict(_pg_insert_from_staging(conn, table, columns, distinct), keys, update_columns, only_if))
    else:
        conn.execute(_on_conflict(dialect_insert(conn)(table), keys, update_columns, only_if), distinct)
    return len(distinct)


def _values_of(columns: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values of `columns`, as a tuple (also of one column)."""
    if len(columns) == 1:
        only = columns[0]
        return lambda row: (row[only],)
    return itemgetter(*columns)


def _stored_same(
    conn: Connection, table: Table, keys: Sequence[str], compared: Sequence[str], rows: Mapping[tuple[Any, ...], Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """The keys of `rows` whose stored row holds the same `compared` values."""
    width = len(keys)
    query = select(*(table.c[k] for k in keys), *(table.c[c] for c in compared))
    values_of = _values_of(compared)
    stored = conn.execute(query.where(among(conn, [table.c[k] for k in keys], list(rows)))).all()
    return [row[:width] for row in stored if values_of(rows[row[:width]]) == tuple(row[width:])]


def driver_connection(conn: Connection) -> Any:
    """The DBAPI connection under `conn`, inside `conn`'s transaction.

    Touching the driver directly skips SQLAlchemy's transaction start, so begin one first if
    the caller has not (what SQLAlchemy's autobegin would have done: the caller commits)."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.driver_connection


def among(conn: Connection, columns: Sequence[ColumnElement[Any]], keys: Sequence[tuple[str, ...]]) -> ColumnElement[bool]:
    """(columns) is one of `keys`, of text. The keys travel as one parameter or a few, not
    thousands the driver must splice in: on PostgreSQL one array per column, each written as
    an array literal (the driver's list adapter costs a Python call per element: 65 ms for
    10,000 keys of four columns, where the literals take 3); on SQLite one JSON array."""
    if is_sqlite(conn):
        # One JSON array of the keys, read back as rows by json_each: a statement compiled
        # once, not thousands of bound parameters rendered into it at every call.
        each = func.json_each(bindparam("among", json.dumps([list(key) for key in keys]), Text)).table_valued("value")
        wanted_rows = select(*(func.json_extract(each.c.value, f"$[{i}]") for i in range(len(columns))))
        return tuple_(*columns).in_(wanted_rows)
    if not is_postgresql(conn):
        return tuple_(*columns).in_(keys)
    arrays = [cast(bindparam(f"among_{i}", text_array([key[i] for key in keys]), Text), ARRAY(Text)) for i in range(len(columns))]
    wanted = select(*(func.unnest(a).label(f"k{i}") for i, a in enumerate(arrays))).subquery()
    return tuple_(*columns).in_(select(*wanted.c))


def text_array(values: Sequence[str]) -> str:
    """PostgreSQL's literal of a text array: every element quoted, `"` and `\\` escaped."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _on_conflict(
    stmt: Any, keys: Sequence[str], update_columns: Sequence[str], only_if: Callable[[Any], Any] | None
) -> Any:
    if update_columns:
        return stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: stmt.excluded[c] for c in update_columns},
            where=None if only_if is None else only_if(stmt.excluded),
        )
    return stmt.on_conflict_do_nothing(index_elements=list(keys))


def _pg_insert_from_staging(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Any:
    """`INSERT … SELECT` from a session-local staging table that the rows were just copied
    into with COPY: the thousands of results, tally sheets and burn rates a scoring run writes
    travel in one stream that the driver formats in C, where bound parameters (one per value,
    or one array per column) cost the driver a Python call per value. The binary format: a
    sheet's sums go as they are, not as hexadecimal text (half the time of a five-minute
    run's writing).

    The staging table is a temporary table of the columns written, made once per database
    session (`IF NOT EXISTS`: a new or reset session makes its own) and emptied at every commit
    (`ON COMMIT DELETE ROWS`); it is emptied before use too, so two upserts into one table in
    one transaction do not see each other's rows. Values go through the columns' SQLAlchemy
    types first (an aware `UtcDateTime` is checked as for any other statement)."""
    from psycopg import sql

    staging = f"staging_{table.name}_{zlib.crc32(','.join(columns).encode()):08x}"
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    processors = [(i, p) for i, c in enumerate(columns) if (p := table.c[c].type.bind_processor(conn.dialect)) is not None]
    values_of = _values_of(columns)
    with driver_connection(conn).cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA").format(
                sql.Identifier(staging), names, sql.Identifier(table.name)
            )
        )
        cursor.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(staging)))
        with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(staging), names)) as copy:
            copy.set_types([table.c[c].type.compile(dialect=conn.dialect).lower() for c in columns])
            for row in rows:
                values = list(values_of(row))
                for i, process in processors:
                    values[i] = process(values[i])
                copy.write_row(values)
    source = sql_table(staging, *(sql_column(c) for c in columns))
    return dialect_insert(conn)(table).from_select(list(columns), select(*(source.c[c] for c in columns)))

"""The one place that creates database engines (STYLE: one chokepoint per outside protocol).

Nothing here runs at import time: callers build an engine from `SLA_DATABASE_URL` when they
need one, and own its life (`engine.dispose()`), so forked Celery workers never share sockets.

SQLite is the embedded default and is used by several processes at once (worker, beat,
metrics), so it is set up for that:

- WAL journal: readers never block the writer and the writer never blocks readers.
- `busy_timeout` 30 s: a writer waits for another writer instead of failing at once.
- Every transaction starts with `BEGIN IMMEDIATE`. The driver's default, a deferred `BEGIN`,
  takes the write lock only at the first write; a transaction that read first and writes
  later (score → store results) then fails with "database is locked" *without waiting* when
  another process committed in between (SQLITE_BUSY_SNAPSHOT ignores busy_timeout). Taking the
  write lock up front makes writers queue politely. Consequences: keep write transactions
  short, and never open a second connection that writes (or begins) while the same thread
  holds a transaction — it waits 30 s and fails. A reader that must not queue behind a writer
  (metrics endpoint, the read phase of scoring) uses `read_only(engine)`, which begins with a
  deferred BEGIN on SQLite (WAL: it sees the last committed state and blocks nobody).
- Foreign keys are enforced (SQLite leaves them off unless asked, per connection).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url

from worker.storage.locks import is_sqlite

SQLITE_BUSY_TIMEOUT_S = 30.0
APPLICATION_NAME = "sla-worker"


class UnsupportedDatabase(ValueError):
    """A database URL sla-worker cannot use (another engine or driver): bad configuration."""


def normalise_url(url: str | URL) -> URL:
    """The URL with the driver sla-worker uses: `postgresql://` (and `postgres://`) become
    `postgresql+psycopg://` (psycopg 3); SQLite URLs are kept as they are."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """A new engine for `url` (SQLite or PostgreSQL), configured as the module docstring says.

    Extra keyword arguments go to `sqlalchemy.create_engine` (tests use `poolclass`, `echo`)."""
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    kwargs.setdefault("pool_pre_ping", True)
    if backend == "sqlite":
        return _sqlite_engine(parsed, kwargs)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise UnsupportedDatabase(
                f"PostgreSQL is used through psycopg 3: write postgresql+psycopg://… (got {parsed.drivername}://)"
            )
        connect_args = dict(kwargs.pop("connect_args", {}))
        if "application_name" not in parsed.query:
            connect_args.setdefault("application_name", APPLICATION_NAME)
        return create_engine(parsed, connect_args=connect_args, **kwargs)
    raise UnsupportedDatabase(f"unsupported database {parsed.drivername!r}: use sqlite:/// or postgresql+psycopg://")


def _sqlite_engine(url: URL, kwargs: dict[str, Any]) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database
    uri_mode = str(url.query.get("uri", "")).lower() in ("true", "1")
    if not in_memory and not uri_mode:
        folder = os.path.dirname(os.path.abspath(database))
        os.makedirs(folder, exist_ok=True)

    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: the "begin" listener below issues BEGIN itself, which
        # also makes SAVEPOINT (conn.begin_nested()) behave (SQLAlchemy docs, "pysqlite
        # serializable isolation / savepoints").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = str(conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")).upper()
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def sqlite_file(url: str | URL) -> str | None:
    """The file of an SQLite database URL; None for any other database, or one in memory."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    if str(parsed.query.get("uri", "")).lower() in ("true", "1"):
        return database.removeprefix("file:").split("?", 1)[0]
    return database


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection for reading: on SQLite it does not take the write lock; rolled back at the
    end (anything written through it is discarded, on every engine)."""
    with engine.connect() as conn:
        if is_sqlite(conn):
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        try:
            yield conn
        finally:
            conn.rollback()


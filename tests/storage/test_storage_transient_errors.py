"""Which database failures a retry can cure (`worker.tasks.is_transient`), decided on real
exceptions raised by real databases, and a real task that meets a permanent one fails at once
instead of being retried eight times."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.signals import task_retry
from loopback import closed_port
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from worker import runtime as runtime_module
from worker import tasks
from worker.domain.errors import PermanentError, TransientError
from worker.storage.engine import make_engine

CONFIG = """
calendars:
  - {id: always, hours: 24x7}
services:
  - {id: epr, name: Electronic Patient Record}
customers:
  - {id: acute, name: Acute Services Directorate}
agreements:
  - id: core-2026
    name: Core clinical systems SLA 2026/27
    customers: [acute]
    objectives:
      - {service: epr, type: availability, target: 99.5, calendar: always}
"""


def raised(engine: Engine, sql: str) -> DBAPIError:
    """The error a real database raises for `sql`."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(sql))
    return caught.value


@pytest.fixture
def postgres(engine: Engine, database_url: str) -> tuple[Engine, str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL behaviour")
    return engine, database_url


# --------------------------------------------------------------------------- permanent


def test_bad_sql_is_not_transient_on_either_engine(engine: Engine):
    error = raised(engine, "SELEC 1")
    assert isinstance(error, (ProgrammingError, OperationalError))  # SQLite calls a syntax error "operational"
    assert not tasks.is_transient(error)


def test_a_missing_table_is_not_transient_on_either_engine(engine: Engine):
    error = raised(engine, "SELECT * FROM no_such_table")
    assert not tasks.is_transient(error)


def test_a_unique_violation_is_not_transient_on_either_engine(engine: Engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    error = raised(engine, "INSERT INTO t VALUES (1)")
    assert isinstance(error, IntegrityError)
    assert not tasks.is_transient(error)


def test_errors_that_are_not_about_the_database_are_not_transient():
    assert not tasks.is_transient(ValueError("bad data"))
    assert not tasks.is_transient(PermanentError("401 Unauthorized"))
    assert not tasks.is_transient(KeyError("epr"))


# --------------------------------------------------------------------------- transient


def test_a_connection_to_a_closed_port_is_transient():
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/sla", poolclass=NullPool)
    with pytest.raises(OperationalError) as caught:
        engine.connect()
    assert tasks.is_transient(caught.value)


def test_a_serialisation_failure_between_two_transactions_is_transient(postgres):
    engine, _ = postgres
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
    first = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    try:
        first.begin()
        first.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()  # the snapshot is taken
        with engine.begin() as second:
            second.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        with pytest.raises(DBAPIError) as caught:
            first.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        assert caught.value.orig.sqlstate == "40001"
        assert tasks.is_transient(caught.value)
    finally:
        first.close()


def test_a_deadlock_between_two_transactions_is_transient(postgres):
    engine, _ = postgres
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE pair (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    errors: list[BaseException] = []
    both_hold_one = threading.Barrier(2, timeout=30)

    def lock(first_id: int, then_id: int) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = :id"), {"id": first_id})
                both_hold_one.wait()
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = :id"), {"id": then_id})
        except DBAPIError as error:
            errors.append(error)

    threads = [threading.Thread(target=lock, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    [deadlock] = errors  # PostgreSQL breaks the cycle by failing one of the two
    assert deadlock.orig.sqlstate == "40P01"
    assert tasks.is_transient(deadlock)


def test_a_connection_terminated_by_the_server_is_transient(postgres):
    engine, database_url = postgres
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as caught:
            victim.execute(text("SELECT 1"))
    admin.dispose()
    assert tasks.is_transient(caught.value)


def test_a_locked_sqlite_database_is_transient(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'locked.sqlite'}"
    holder = make_engine(url)
    with holder.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER)"))
    impatient = create_engine(url, connect_args={"timeout": 0}, poolclass=NullPool)
    try:
        with holder.begin() as conn:  # BEGIN IMMEDIATE: holds the write lock
            conn.execute(text("INSERT INTO t VALUES (1)"))
            with pytest.raises(OperationalError) as caught, impatient.begin() as other:
                other.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        impatient.dispose()
        holder.dispose()
    assert "locked" in str(caught.value)
    assert tasks.is_transient(caught.value)


def test_outside_systems_that_say_try_again_are_transient():
    assert tasks.is_transient(TransientError("503 from ServiceNow"))
    assert tasks.is_transient(ConnectionRefusedError())
    assert tasks.is_transient(TimeoutError())


# --------------------------------------------------------------------------- a real task


@pytest.fixture
def task_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Runtime settings for tasks run in this process; the cached runtime is dropped before and after."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "trust.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("SLA_CONFIG_DIR", str(config))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runtime_module, "_provided", [])  # settings an earlier `configure` handed over
    runtime_module.runtime.cache_clear()
    yield
    runtime_module.runtime.cache_clear()


@pytest.fixture
def retries() -> Iterator[list[str]]:
    """The task retries Celery announces (its own `task_retry` signal)."""
    seen: list[str] = []

    def record(sender=None, request=None, reason=None, **_):
        seen.append(str(reason))

    task_retry.connect(record, weak=False)
    yield seen
    task_retry.disconnect(record)


def test_a_task_meeting_a_missing_table_fails_at_once_without_a_retry(
    task_settings, retries: list[str], database_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SLA_DATABASE_URL", database_url)  # a real database, never migrated
    result = tasks.score_pending.apply(throw=False)
    assert result.state == "FAILURE"
    assert isinstance(result.result, DBAPIError) and not tasks.is_transient(result.result)
    assert retries == []


def test_a_task_meeting_an_unreachable_database_is_retried_up_to_the_cap(
    task_settings, retries: list[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SLA_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/sla")
    result = tasks.score_pending.apply(throw=False)  # eager: the retries run at once, without the back-off wait
    assert result.state == "FAILURE" and isinstance(result.result, OperationalError)
    assert len(retries) == tasks.MAX_RETRIES


def test_the_back_off_grows_and_is_capped():
    assert all(0 <= tasks.retry_countdown(n) <= tasks.RETRY_BACKOFF_S * 2**n for n in range(6))
    assert all(tasks.retry_countdown(n) <= tasks.RETRY_BACKOFF_MAX_S for n in range(20))

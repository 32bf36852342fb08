"""Engines and migrations, on every engine in use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from worker.storage.engine import make_engine, normalise_url, read_only
from worker.storage.migrate import current_revision, head_revision, upgrade
from worker.storage.tables import metadata

TABLES = {"services", "sample_days", "retention", "incidents", "maintenance", "results", "tallies", "watermarks", "ingested_files"}


def test_an_empty_database_has_no_revision(database_url: str) -> None:
    assert current_revision(database_url) is None


def test_upgrade_brings_the_database_to_head_and_creates_every_table(database_url: str) -> None:
    upgrade(database_url)
    assert current_revision(database_url) == head_revision() is not None
    engine = make_engine(database_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_run_twice_are_a_no_op(engine: Engine, database_url: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO services (id) VALUES ('epr')"))
    upgrade(database_url)
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM services")).scalars().all() == ["epr"]


def test_the_migrated_schema_matches_the_tables_the_code_uses(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_results_stored_before_contracts_existed_become_agreement_results(database_url: str) -> None:
    upgrade(database_url, "0002")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO results (agreement, customer, objective, period, service, type, target, status,"
                    " good, bad, total, unit, final, computed_at) VALUES ('core', 'acute', 'epr-availability',"
                    " '2026-10', 'epr', 'availability', 99.5, 'green', 1, 0, 1, 'seconds', true,"
                    " '2026-11-01 00:00:00')"
                )
            )
        upgrade(database_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT kind FROM results")).scalars().all() == ["agreement"]
    finally:
        engine.dispose()


def test_processes_upgrading_at_the_same_time_do_not_collide(database_url: str) -> None:
    # Separate processes, as Celery workers starting together are (Alembic's context is
    # process-global, so threads would not be a fair test).
    code = "import sys; from worker.storage.migrate import upgrade; upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, database_url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    failures = [p.stderr.read() for p in processes if p.wait(timeout=120) != 0 and p.stderr]  # type: ignore[union-attr]
    for p in processes:
        if p.stderr:
            p.stderr.close()
    assert failures == []
    assert current_revision(database_url) == head_revision()


def test_a_postgresql_url_without_a_driver_uses_psycopg_3() -> None:
    assert normalise_url("postgresql://sla@db/sla").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://sla@db/sla").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://sla@db/sla").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///var/sla.sqlite").drivername == "sqlite"


def test_a_postgresql_url_with_another_driver_is_refused() -> None:
    with pytest.raises(ValueError, match="psycopg"):
        make_engine("postgresql+psycopg2://sla@db/sla")


def test_sqlite_creates_the_database_folder_and_uses_wal_with_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "var" / "nested" / "sla.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert path.exists()
    finally:
        engine.dispose()


def test_a_rolled_back_savepoint_keeps_the_rest_of_the_transaction(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO services (id) VALUES ('kept')"))
        nested = conn.begin_nested()
        conn.execute(text("INSERT INTO services (id) VALUES ('dropped')"))
        nested.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM services")).scalars().all() == ["kept"]


def test_a_reader_is_not_blocked_by_a_writer_holding_its_transaction(engine: Engine) -> None:
    with engine.begin() as writer:
        writer.execute(text("INSERT INTO services (id) VALUES ('epr')"))
        # The writer holds the write lock (SQLite) or its row (PostgreSQL); a reader still
        # reads the last committed state, at once.
        with read_only(engine) as reader:
            assert reader.execute(text("SELECT count(*) FROM services")).scalar() == 0
    with read_only(engine) as reader:
        assert reader.execute(text("SELECT count(*) FROM services")).scalar() == 1


def test_results_and_tally_sheets_leave_room_on_each_page_for_updates_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL storage setting")  # the same test runs on PostgreSQL in CI
    with read_only(engine) as conn:
        options = dict(conn.execute(text("SELECT relname, reloptions FROM pg_class WHERE relname IN ('results', 'tallies')")).all())
    assert options == {"results": ["fillfactor=70"], "tallies": ["fillfactor=70"]}

"""Alembic environment for sla-worker; `worker.storage.migrate` builds the configuration."""

from __future__ import annotations

from alembic import context

from worker.storage.engine import make_engine
from worker.storage.locks import MIGRATION_LOCK_ID, hold_transaction_lock, is_sqlite
from worker.storage.tables import metadata

config = context.config
target_metadata = metadata


def run_migrations_offline() -> None:
    """`--sql` mode: print the SQL instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        # One transaction around lock + version check + every migration. On SQLite it begins
        # with BEGIN IMMEDIATE (see engine.py), which is the lock.
        with engine.connect() as connection, connection.begin():
            hold_transaction_lock(connection, MIGRATION_LOCK_ID)
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things: later migrations use batch mode there
                # (copy-and-move), plain ALTER elsewhere.
                render_as_batch=is_sqlite(connection),
                compare_type=True,
                # DDL is transactional on both engines: a failed migration leaves nothing.
                transactional_ddl=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

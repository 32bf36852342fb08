"""Schema migrations, run programmatically (`sla-worker db upgrade`, the `engine` test fixture).

The Alembic configuration is built here in code — no `alembic.ini` — with the scripts inside
the package (`worker/storage/migrations`), so an installed wheel can upgrade its database.

Running `upgrade` from several processes at once (every Celery worker at start-up) is safe:
the migration transaction first takes a lock (a PostgreSQL advisory lock; on SQLite the
`BEGIN IMMEDIATE` write lock), so the second process finds the schema already at head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from worker.storage.engine import make_engine, normalise_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic `Config` for `url`, usable with any `alembic.command` function."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % (URL-encoded password) must be doubled.
    rendered = normalise_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (default: the latest). Idempotent."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The revision the code expects (the newest migration script)."""
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at; None for an empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()

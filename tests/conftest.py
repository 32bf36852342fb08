"""Shared fixtures: a real database on every engine in use.

`database_url` is parametrised over engines: `sqlite` (a file in tmp_path, always) and
`postgresql` (a fresh, uniquely named database on the server given by SLA_TEST_POSTGRES_URL,
dropped afterwards; skipped when that variable is unset). `engine` is that database migrated
to head.

Migrating takes longer than copying: the migrations run once per test session on each engine
(a SQLite file; a PostgreSQL template database, dropped at the end), and a test that uses
`engine` gets a copy of that migrated database, so its `database_url` is migrated too. A test
that asks for `database_url` alone gets an empty database, as a migration test needs.

    SLA_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres pytest

`make test` runs the tests in several processes (pytest-xdist). Each has its own temporary
directory and session databases already; its Redis database is its own too (`worker_redis_url`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import URL, Engine, text
from sqlalchemy.pool import NullPool

from worker.storage.engine import make_engine, normalise_url
from worker.storage.migrate import upgrade

POSTGRES_ENV = "SLA_TEST_POSTGRES_URL"


def _postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def pytest_report_header(config: pytest.Config) -> list[str]:
    server = _postgres_server_url()
    if server:
        shown = normalise_url(server).render_as_string(hide_password=True)
        lines = [f"storage engines: sqlite, postgresql ({shown}, one fresh database per test, copied from a migrated template)"]
    else:
        lines = [f"storage engines: sqlite only ({POSTGRES_ENV} not set: postgresql tests skipped)"]
    if os.environ.get(REDIS_ENV):
        db = _redis_db(os.environ[REDIS_ENV])
        lines.append(f"redis: database {db}, flushed by the tests that use it (xdist worker gwN: database {db} - {REDIS_DB_STEP}N)")
    return lines


ENGINE_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                _postgres_server_url() is None,
                reason=f"{POSTGRES_ENV} is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres)",
            ),
        ],
    ),
]


def _postgres_admin() -> tuple[URL, Engine]:
    server = normalise_url(_postgres_server_url() or "")
    return server, make_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session: tests get copies of it."""
    path = tmp_path_factory.mktemp("migrated") / "sla.sqlite"
    upgrade(f"sqlite:///{path}")  # disposes its engine: no WAL file is left beside the copy's source
    return path


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to head once per session (unique, so that
    sessions running at once do not share it), used as the template of each test's database;
    dropped at the end. Nothing stays connected to it: a template being accessed cannot be copied."""
    server, admin = _postgres_admin()
    name = f"sla_template_{uuid.uuid4().hex[:16]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(server.set(database=name).render_as_string(hide_password=False))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=ENGINE_PARAMS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database on one engine, as a URL: empty, or migrated to head when the test uses
    `engine` (a copy of the session's migrated database)."""
    migrated = "engine" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "sla.sqlite"
        if migrated:
            shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), path)
        yield f"sqlite:///{path}"
        return
    template = f' TEMPLATE "{request.getfixturevalue("migrated_postgres_template")}"' if migrated else ""
    server, admin = _postgres_admin()
    name = f"sla_test_{uuid.uuid4().hex[:16]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The database at `database_url`, migrated to head (see `database_url`), as an engine
    (disposed afterwards)."""
    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


# --- brokers: the embedded SQLite transport always, Redis when SLA_TEST_REDIS_URL is set -------

REDIS_ENV = "SLA_TEST_REDIS_URL"


def pytest_configure(config: pytest.Config) -> None:
    """In CI (SLA_TEST_REQUIRE_SERVERS=1) a missing server is a failure, not a skip. Under
    pytest-xdist each worker process gets its own Redis database (`worker_redis_url`): every
    test that reads SLA_TEST_REDIS_URL flushes it."""
    if os.environ.get("SLA_TEST_REQUIRE_SERVERS"):
        missing = [name for name in (POSTGRES_ENV, REDIS_ENV) if not os.environ.get(name)]
        if missing:
            raise pytest.UsageError(f"SLA_TEST_REQUIRE_SERVERS is set but {', '.join(missing)} is not")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get(REDIS_ENV):
        os.environ[REDIS_ENV] = worker_redis_url(os.environ[REDIS_ENV], worker)


REDIS_DB_STEP = 5


def _redis_db(url: str) -> int:
    return int(urlsplit(url).path.strip("/") or 0)


def worker_redis_url(url: str, worker: str) -> str:
    """The Redis URL of xdist worker `worker` ("gw0", "gw1", ...): gw0 keeps the database
    number given, gwN takes 5N below it (given 15: 15, 10, 5, 0), so that sessions given
    neighbouring numbers do not meet. Below 0 is refused, not wrapped round onto another's."""
    given = _redis_db(url)
    db = given - REDIS_DB_STEP * int(worker.removeprefix("gw"))
    if db < 0:
        raise pytest.UsageError(f"{REDIS_ENV} database {given} leaves no database for xdist worker {worker} "
                                f"({REDIS_DB_STEP} below per worker): give a higher number or fewer workers")
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


BROKER_PARAMS = [
    pytest.param("sqlite", id="sqlite-broker"),
    pytest.param(
        "redis",
        id="redis-broker",
        marks=[
            pytest.mark.redis,
            pytest.mark.skipif(not os.environ.get(REDIS_ENV), reason=f"{REDIS_ENV} is not set (e.g. redis://127.0.0.1:6379/15)"),
        ],
    ),
]


@pytest.fixture(params=BROKER_PARAMS)
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty broker: a fresh SQLite file, or the test Redis database flushed."""
    if request.param == "sqlite":
        yield f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
        return
    import redis

    url = os.environ[REDIS_ENV]
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()

"""Fixtures for the report tests: the golden cases (trust-2026-10, and suppliers-2026-10 with
its underpinning contracts) ingested and scored (once per module, on SQLite; the delivery
tests use the `engine` fixture on every engine), a real SMTP server on loopback (aiosmtpd),
and the renderers' skip-or-fail rule."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from smtp_server import SmtpServer
from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.domain.model import AgreementKind, Catalogue, ObjectiveType, Result, Status
from worker.storage import results as result_store
from worker.storage.engine import make_engine
from worker.storage.migrate import upgrade
from worker.usecases.ingest import ingest
from worker.usecases.score import score_period

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "trust-2026-10"
SUPPLIERS = Path(__file__).resolve().parents[1] / "golden" / "suppliers-2026-10"
PERIOD = "2026-10"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)  # long after October is final
GRACE_S = 6 * 3600.0


@pytest.fixture(scope="session")
def golden_catalogue() -> Catalogue:
    return load_catalogue(GOLDEN / "config")


@pytest.fixture(scope="session")
def golden_expected() -> list[dict]:
    return json.loads((GOLDEN / "expected" / f"{PERIOD}.json").read_text())


def expected_results(expected: list[dict]) -> list[Result]:
    return [
        Result(
            **{
                **row,
                "type": ObjectiveType(row["type"]),
                "status": Status(row["status"]),
                "kind": AgreementKind(row.get("kind", "agreement")),
            }
        )  # type: ignore[arg-type]
        for row in expected
    ]


def seed_expected(engine: Engine, expected: list[dict]) -> None:
    """The golden expected results stored as if scored: enough for delivery tests."""
    with engine.begin() as conn:
        result_store.upsert_results(conn, expected_results(expected), computed_at=NOW)


@pytest.fixture
def seeded_engine(engine: Engine, golden_expected: list[dict]) -> Engine:
    """`engine` (every database engine in use) holding the golden expected results."""
    seed_expected(engine, golden_expected)
    return engine


def scored_case(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue, case: Path) -> Iterator[Engine]:
    """SQLite with a golden case ingested through the pipeline and October scored."""
    url = f"sqlite:///{tmp_path_factory.mktemp(case.name) / 'sla.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    for kind in ("maintenance", "incidents", "samples"):
        report = ingest(engine, catalogue, kind, (case / f"{kind}.csv").read_bytes(), NOW)
        assert report.refused == 0
    score_period(engine, catalogue, PERIOD, NOW, GRACE_S)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def golden_engine(tmp_path_factory: pytest.TempPathFactory, golden_catalogue: Catalogue) -> Iterator[Engine]:
    """SQLite with the golden case ingested through the pipeline and October scored."""
    yield from scored_case(tmp_path_factory, golden_catalogue, GOLDEN)


@pytest.fixture(scope="session")
def suppliers_catalogue() -> Catalogue:
    """The trust with two suppliers and their underpinning contracts (SPEC 9.2)."""
    return load_catalogue(SUPPLIERS / "config")


@pytest.fixture
def suppliers_seeded(engine: Engine) -> Engine:
    """`engine` (every database engine in use) holding the suppliers case's expected results
    (customers' and contracts')."""
    seed_expected(engine, json.loads((SUPPLIERS / "expected" / f"{PERIOD}.json").read_text()))
    return engine


@pytest.fixture(scope="module")
def suppliers_engine(tmp_path_factory: pytest.TempPathFactory, suppliers_catalogue: Catalogue) -> Iterator[Engine]:
    """SQLite with the suppliers golden case ingested through the pipeline and October scored."""
    yield from scored_case(tmp_path_factory, suppliers_catalogue, SUPPLIERS)


@pytest.fixture
def smtp_factory() -> Iterator[type[SmtpServer]]:
    """Make SMTP servers (started by the test); any left running are stopped."""
    made: list[SmtpServer] = []

    class Tracked(SmtpServer):
        def __init__(self, users: dict[str, str] | None = None):
            super().__init__(users)
            made.append(self)

    try:
        yield Tracked
    finally:
        for server in made:
            server.stop()


@pytest.fixture
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------ renderers

REQUIRE_RENDERERS = "SLA_TEST_REQUIRE_RENDERERS"


def renderer(name: str) -> str:
    """The path of an outside renderer (chromium, pdftoppm): a skip with the reason when it
    is missing, a failure in CI (SLA_TEST_REQUIRE_RENDERERS=1)."""
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed (Debian: apt-get install {'chromium' if name == 'chromium' else 'poppler-utils'})"
    if os.environ.get(REQUIRE_RENDERERS):
        pytest.fail(f"{REQUIRE_RENDERERS} is set but {reason}")
    print(f"skipped: {reason}")
    pytest.skip(reason)


@pytest.fixture
def find_renderer():
    """`find_renderer("chromium")` → its path, or skip (fail in CI) when it is missing."""
    return renderer

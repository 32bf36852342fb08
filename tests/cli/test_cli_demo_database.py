"""`sla-worker demo` writes only into a database with no data, or one an earlier demo filled
(it leaves a mark): a trust's own database is refused (exit 2), and nothing is written."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from cli_helpers import plain, sla_worker
from sqlalchemy import Engine, func, select

from worker.demo import DEMO_MARKER, claim_for_demo
from worker.storage.samples import sample_count
from worker.storage.tables import leases

NOW = datetime(2026, 11, 15, 10, 0, tzinfo=timezone.utc)


def a_trusts_sample(engine: Engine) -> None:
    """One sample, ingested the way a trust's data arrives."""
    from worker.config import load_catalogue
    from worker.usecases.ingest import ingest

    catalogue = load_catalogue(Path(__file__).resolve().parents[2] / "config" / "example")
    report = ingest(engine, catalogue, "samples", b"timestamp,service,signal,value\n2026-11-02T09:00:00Z,epr,up,1\n", NOW)
    assert report.accepted == 1


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (sample_count(conn),
                conn.execute(select(func.count()).select_from(leases)).scalar_one())


def test_the_demo_refuses_a_database_holding_a_trusts_data_and_writes_nothing(tmp_path: Path, engine: Engine, database_url: str):
    a_trusts_sample(engine)

    done = sla_worker(tmp_path, "demo", SLA_DATABASE_URL=database_url)

    assert done.returncode == 2
    lines = plain(done)
    assert len(lines) == 1 and "--db" in lines[0] and "SLA_DATABASE_URL" in lines[0]
    assert counts(engine) == (1, 0)


def test_an_empty_database_is_marked_as_the_demos_before_anything_is_written(engine: Engine):
    assert claim_for_demo(engine, NOW)
    with engine.connect() as conn:
        assert conn.execute(select(leases.c.name)).scalars().all() == [DEMO_MARKER]


def test_a_database_an_earlier_demo_filled_is_accepted_again(engine: Engine):
    assert claim_for_demo(engine, NOW)
    a_trusts_sample(engine)  # what the earlier demo wrote

    assert claim_for_demo(engine, NOW)
    assert counts(engine) == (1, 1)


def test_a_database_with_data_and_no_mark_is_refused_and_left_unmarked(engine: Engine):
    a_trusts_sample(engine)
    assert not claim_for_demo(engine, NOW)
    assert counts(engine) == (1, 0)


def test_the_demo_command_starts_writing_into_a_database_an_earlier_demo_filled(tmp_path: Path, engine: Engine, database_url: str):
    import subprocess
    import sys

    from cli_helpers import environment

    assert claim_for_demo(engine, NOW)
    a_trusts_sample(engine)
    demo = subprocess.Popen([sys.executable, "-m", "worker.cli", "demo"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment(SLA_DATABASE_URL=database_url))
    try:
        first = demo.stdout.readline()  # type: ignore[union-attr]
    finally:
        demo.kill()  # the whole demo is tests/test_demo.py's business; that it starts is enough here
        demo.communicate(timeout=60)
    assert first.startswith("demo: writing 13 months of synthetic history"), first

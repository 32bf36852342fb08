"""The data migration to compact sample storage (0004, issue 15): a database holding the golden
case's samples one row each is upgraded, and then scores exactly what a database that stored
them compactly from the start scores — the golden case's expected results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from sqlalchemy import inspect, text
from test_golden import close, sla_worker

from worker.config import load_catalogue
from worker.inputs import parse_samples
from worker.storage.engine import make_engine
from worker.storage.migrate import alembic_config, upgrade
from worker.storage.samples import SIGNAL_CODES, load_service_samples, sample_count, store_samples

CASE = Path(__file__).parents[1] / "golden" / "trust-2026-10"


def _store_rows_the_old_way(database_url: str) -> dict[tuple[str, int, int], float]:
    """The golden samples as rows of the `samples` table of revision 0003 (later row wins)."""
    parsed = parse_samples((CASE / "samples.csv").read_bytes(), set(load_catalogue(CASE / "config").services))
    expected = {
        (str(s), SIGNAL_CODES[str(sig)], int(t)): float(v)
        for s, sig, t, v in zip(parsed.service, parsed.signal, parsed.at_ms.tolist(), parsed.value.tolist())
    }
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            services = sorted({service for service, _, _ in expected})
            conn.execute(text("INSERT INTO services (id) VALUES (:id)"), [{"id": s} for s in services])
            keys = dict(conn.execute(text("SELECT id, key FROM services")).all())
            rows = [(keys[service], sig, at, v) for (service, sig, at), v in expected.items()]
            if conn.dialect.name == "postgresql":  # 251k rows in one statement, not one round trip each
                conn.execute(
                    text(
                        "INSERT INTO samples (service_key, signal, at_ms, value) SELECT * FROM unnest("
                        "CAST(:k AS integer[]), CAST(:s AS smallint[]), CAST(:t AS bigint[]), CAST(:v AS double precision[]))"
                    ),
                    dict(zip("kstv", map(list, zip(*rows)))),
                )
            else:  # SQLite's executemany stays in C
                conn.execute(
                    text("INSERT INTO samples (service_key, signal, at_ms, value) VALUES (:k, :s, :t, :v)"),
                    [dict(zip("kstv", row)) for row in rows],
                )
    finally:
        engine.dispose()
    return expected


def _results(database_url: str, tmp_path: Path, period: str) -> list[dict[str, object]]:
    config = CASE / "config"
    for kind in ("incidents", "maintenance"):
        done = sla_worker("ingest", kind, str(CASE / f"{kind}.csv"), database_url=database_url, config=config, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    done = sla_worker("score", "--period", period, database_url=database_url, config=config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = sla_worker("results", "--period", period, "--format", "json", database_url=database_url, config=config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


@pytest.mark.timeout(900)
def test_samples_stored_a_row_each_score_the_golden_case_exactly_after_the_migration(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url, "0003")
    expected_samples = _store_rows_the_old_way(database_url)

    done = sla_worker("db", "upgrade", database_url=database_url, config=CASE / "config", cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert sample_count(conn) == len(expected_samples)
            keys = dict(conn.execute(text("SELECT key, id FROM services")).all())
            assert "samples" not in inspect(conn).get_table_names()
            series = load_service_samples(conn, list(keys), list(SIGNAL_CODES.values()), 0, 2**62)
    finally:
        engine.dispose()
    moved = {
        (keys[k], s, int(t)): float(v) for (k, s), (ats, values) in series.items() for t, v in zip(ats.tolist(), values.tolist())
    }
    assert moved == expected_samples

    for expected_file in sorted((CASE / "expected").glob("*.json")):
        got, expected = _results(database_url, tmp_path, expected_file.stem), json.loads(expected_file.read_text())
        assert [(r["agreement"], r["customer"], r["objective"]) for r in got] == [
            (r["agreement"], r["customer"], r["objective"]) for r in expected
        ]
        mismatches = [f"{e['objective']}.{key}" for g, e in zip(got, expected) for key in e if not close(g[key], e[key])]
        assert not mismatches


def test_a_downgrade_gives_the_rows_back(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            at_ms = 1_790_000_000_000 + np.arange(3000, dtype=np.int64) * 60_000  # three UTC days
            store_samples(conn, np.full(3000, 1), np.zeros(3000, dtype=np.int16), at_ms, np.arange(3000) % 7 / 2)
        command.downgrade(alembic_config(database_url), "0003")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT at_ms, value FROM samples ORDER BY at_ms")).all()
        assert [r[0] for r in rows] == at_ms.tolist()
        assert [r[1] for r in rows] == (np.arange(3000) % 7 / 2).tolist()
    finally:
        engine.dispose()

"""Scoring runs in processes of their own, and what a run leaves stored, for the shard tests.

`python shard_runs.py pending URL CONFIG NOW SHARDS [BATCH]` runs `score_pending_shards` once
(BATCH: its pending services per batch) and prints what it did as JSON; `python shard_runs.py period URL CONFIG NOW SHARDS PERIOD INDEX…`
re-scores those shards of a period. A separate OS process each: its own interpreter, its own
connections, as a second worker machine would be.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select, text

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests" / "golden" / "trust-2026-10"


def command(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(command(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout_s: float = 300) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, err
    return json.loads(out)


def stored_results(engine: Engine, period: str = "2026-10") -> list[dict[str, Any]]:
    """Every stored result of `period` as `sla-worker results --format json` prints it."""
    from worker.usecases.results import read_results

    return [r.as_json() for r in read_results(engine, period)]


def stored_sheets(engine: Engine, period: str | None = None) -> dict[tuple[str, str, str], tuple[str, list[bool], np.ndarray]]:
    """Every stored tally sheet (of `period` only, when given): (agreement, objective, period)
    → (basis, tallied days, sums)."""
    from worker.storage.tables import tallies

    with engine.connect() as conn:
        query = select(tallies) if period is None else select(tallies).where(tallies.c.period == period)
        rows = conn.execute(query).all()
    return {
        (r.agreement, r.objective, r.period): (
            r.basis,
            np.frombuffer(r.tallied, dtype=np.uint8).astype(bool).tolist(),
            np.frombuffer(r.sums, dtype="<f8").reshape(-1, r.days),
        )
        for r in rows
    }


def same_sheets(got: dict[Any, Any], expected: dict[Any, Any]) -> bool:
    return got.keys() == expected.keys() and all(
        g[0] == e[0] and g[1] == e[1] and np.allclose(g[2], e[2], rtol=1e-12, atol=1e-9)
        for g, e in ((got[k], expected[k]) for k in expected)
    )


def pending_ids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM pending_changes")).scalars())


def _main(argv: list[str]) -> int:
    from worker.config import load_catalogue
    from worker.scoring.shards import Shard
    from worker.storage.engine import make_engine
    from worker.usecases.score import score_pending_shards, score_period

    what, url, config, now_text, shards_text, *rest = argv
    now, shards = datetime.fromisoformat(now_text), int(shards_text)
    engine = make_engine(url)
    catalogue = load_catalogue(Path(config))
    try:
        if what == "pending":
            batch = {"batch_services": int(rest[0])} if rest else {}
            run = score_pending_shards(engine, catalogue, now, 6 * 3600.0, shards=shards, **batch)
            shown = {"scored": [s.index for s in run.scored], "busy": [s.index for s in run.busy],
                     "forgotten": list(run.forgotten), "results": len(run.results)}
        else:
            period, *indexes = rest
            found = [r for i in indexes for r in score_period(engine, catalogue, period, now, 6 * 3600.0, Shard(int(i), shards))]
            shown = {"results": len(found)}
    finally:
        engine.dispose()
    print(json.dumps(shown))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(_main(sys.argv[1:]))


def reference_state(folder: Path, now: datetime) -> tuple[list[dict[str, Any]], dict[Any, Any]]:
    """The golden month ingested and scored by one process in a fresh SQLite file: the stored
    results of 2026-10 and every tally sheet, as the shard tests expect them."""
    from worker.config import load_catalogue
    from worker.storage.engine import make_engine
    from worker.storage.migrate import upgrade
    from worker.usecases.ingest import ingest
    from worker.usecases.score import score_pending

    url = f"sqlite:///{folder / 'one-process.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    catalogue = load_catalogue(CASE / "config")
    try:
        for kind in ("incidents", "maintenance", "samples"):
            ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), now)
        score_pending(engine, catalogue, now, 6 * 3600.0)
        return stored_results(engine), stored_sheets(engine)
    finally:
        engine.dispose()

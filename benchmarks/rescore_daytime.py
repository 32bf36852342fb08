"""Benchmark: re-scoring after 5 more minutes in the middle of a working day.

`score_month.py` measures the re-score after the month's last five minutes (23:55 on Friday 31
July): only the 24x7 objectives can move then, and two periods are touched. This measures the
other end: 14:00-14:05 BST on Wednesday 15 July, when every calendar (24x7, office, extended)
is open, so every sample objective of the 300 services is re-scored (one period, 4,200
results). Same trust and data as `score_month.py` (generate them there first, `--workdir`).

It ingests the month up to 14:00 on the 15th, scores it and catches up as a running worker
would, then ingests the next five minutes and times `score_pending`.

    .venv/bin/python benchmarks/score_month.py --workdir /work/bench/m300 --engines sqlite   # data
    .venv/bin/python benchmarks/rescore_daytime.py --workdir /work/bench/m300                # both engines
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from pathlib import Path

import score_month as sm

FROM = datetime(2026, 7, 15, 13, 0, tzinfo=timezone.utc)  # 14:00 BST, Wednesday 15 July
TO = datetime(2026, 7, 15, 13, 5, tzinfo=timezone.utc)
GRACE_S = 6 * 3600


def measure(engine_name: str, workdir: Path) -> tuple[float, int]:
    from worker.config import load_catalogue
    from worker.storage.engine import make_engine
    from worker.storage.migrate import upgrade
    from worker.usecases.ingest import ingest, ingest_path
    from worker.usecases.score import score_pending, score_period

    catalogue = load_catalogue(workdir / "config")
    url = sm.fresh_database(engine_name, workdir, "sla_bench_daytime")
    upgrade(url)
    engine = make_engine(url)
    for day in range(1, FROM.day):
        ingest_path(engine, catalogue, "samples", workdir / "samples" / f"day-{day:02d}.csv", FROM)
    header, *rows = (workdir / "samples" / f"day-{FROM.day:02d}.csv").read_bytes().splitlines(keepends=True)
    cut, end = (t.strftime("%Y-%m-%dT%H:%M:%S").encode() for t in (FROM, TO))
    ingest(engine, catalogue, "samples", header + b"".join(r for r in rows if r[:19] < cut), FROM)
    ingest_path(engine, catalogue, "incidents", workdir / "incidents.csv", FROM)
    score_period(engine, catalogue, sm.PERIOD, FROM, GRACE_S)
    score_pending(engine, catalogue, FROM, GRACE_S)  # caught up, as a running worker would be
    ingest(engine, catalogue, "samples", header + b"".join(r for r in rows if cut <= r[:19] < end), TO)
    began = time.perf_counter()
    results = score_pending(engine, catalogue, TO, GRACE_S)
    seconds = time.perf_counter() - began
    engine.dispose()
    return seconds, len(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="where score_month.py generated the data")
    parser.add_argument("--engines", default="postgresql,sqlite")
    args = parser.parse_args()
    if not (args.workdir / "samples" / "day-15.csv").exists():
        raise SystemExit(f"no generated data in {args.workdir}: run benchmarks/score_month.py --workdir {args.workdir} first")
    for engine_name in args.engines.split(","):
        seconds, made = measure(engine_name, args.workdir)
        print(f"{engine_name:>10}: re-scoring 14:00-14:05 on a Wednesday (every calendar open): {seconds:.2f} s, {made:,} results made again", flush=True)


if __name__ == "__main__":
    main()

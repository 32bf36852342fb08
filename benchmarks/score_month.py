"""Benchmark: a large trust's month, ingested from CSV and scored (issue: scoring core).

300 services with `up` and `latency_ms` every minute for July 2026 (26,784,000 samples), 60
customers under 30 shared agreements of 85 objectives each, 20,000 incidents. For each engine
it prints: ingest samples/s (CSV parse + store), full-month scoring seconds, re-scoring seconds
after 5 more minutes of data, peak memory of the process that ingested and scored, and the
bytes per sample stored (issue 15).

Bytes per sample: the database's size once the daily sample files are ingested (before the
incidents, the held-back tail and any scoring, so only samples and what ingesting them writes
are counted), less its size freshly migrated and empty, divided by the samples stored (every
generated sample is distinct, so stored = accepted). PostgreSQL: `pg_database_size` of the
scratch database — every relation's files (tables, indexes, TOAST, free-space and visibility
maps), whatever ingest left in them, no VACUUM first (a plain VACUUM hardly ever gives space
back to the disk, VACUUM FULL would flatter) and no CHECKPOINT (relation files grow when pages
are added, not at checkpoints); WAL is cluster-wide and not counted. SQLite: the database file
plus its WAL after `PRAGMA wal_checkpoint(TRUNCATE)`.

It also measures, in the same run, Prometheus over the same month's `up` series (see
`prometheus_baseline.py`): the time of `avg_over_time(probe_success[31d])` at the month's end
(first run, median of 5 more), and the ratio of our full-month scoring to that median. The last
line printed is JSON with every figure, for later comparisons.

    .venv/bin/python benchmarks/score_month.py                       # PostgreSQL and SQLite
    .venv/bin/python benchmarks/score_month.py --engines postgresql  # one engine
    .venv/bin/python benchmarks/score_month.py --services 30         # a quick small run
    .venv/bin/python benchmarks/score_month.py --no-prometheus       # without the baseline

PostgreSQL: a scratch database `sla_bench` (or `--database NAME`, so that two runs on one server
do not drop each other's) is (re)created on SLA_BENCH_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres). Prometheus: `prometheus` and
`promtool` on the PATH (Debian: apt-get install prometheus).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue as queues
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import prometheus_baseline

if TYPE_CHECKING:
    from sqlalchemy import Engine

PERIOD = "2026-07"
START = datetime(2026, 6, 30, 23, 0, tzinfo=timezone.utc)  # local midnight, 1 July (BST)
DAYS = 31
END = START + timedelta(days=DAYS)  # local midnight, 1 August: the month's end
MINUTES = DAYS * 24 * 60
TAIL_MINUTES = 5  # held back, then ingested to measure incremental re-scoring
AGREEMENTS, CUSTOMERS_PER_AGREEMENT, OBJECTIVES = 30, 2, 85
INCIDENTS = 20_000


# ------------------------------------------------------------------ data generation


def write_config(directory: Path, services: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    lines = ["calendars:", "  - {id: always, hours: 24x7}",
             "  - {id: office, hours: {mon-fri: ['08:00-18:00']}, holidays: england-and-wales}",
             "  - {id: extended, hours: {mon-fri: ['07:00-20:00'], sat: ['09:00-12:30']}, holidays: england-and-wales}",
             "sources:", "  - {id: drop, kind: file_drop, path: var/incoming}", "services:"]
    for s in range(services):
        lines.append(
            f"  - {{id: svc-{s:03d}, name: Service {s}, value: [smarter/internal], "
            f"signals: {{up: {{source: drop}}, latency_ms: {{source: drop}}}}}}"
        )
    lines.append("customers:")
    for c in range(AGREEMENTS * CUSTOMERS_PER_AGREEMENT):
        lines.append(f"  - {{id: cust-{c:02d}, name: Customer {c}, kind: directorate}}")
    lines.append("agreements:")
    for a in range(AGREEMENTS):
        customers = ", ".join(f"cust-{a * CUSTOMERS_PER_AGREEMENT + k:02d}" for k in range(CUSTOMERS_PER_AGREEMENT))
        lines += [f"  - id: sla-{a:02d}", f"    name: Agreement {a}", f"    customers: [{customers}]",
                  "    effective: {from: 2026-04-01, to: 2027-03-31}", "    objectives:"]
        chosen = rng.choice(services, size=OBJECTIVES, replace=services < OBJECTIVES)
        for o, s in enumerate(chosen):
            calendar = ("always", "office", "extended")[o % 3]
            if o < 40:
                policy = ("ignore", "down", "up")[o % 3]
                lines.append(f"      - {{id: o{o}, service: svc-{s:03d}, type: availability, target: 99.5, "
                             f"warning: 99.8, calendar: {calendar}, missing_data: {policy}, maintenance_notice: 5d}}")
            elif o < 70:
                lines.append(f"      - {{id: o{o}, service: svc-{s:03d}, type: latency, threshold_ms: 800, "
                             f"target: 95, calendar: {calendar}}}")
            else:
                kind = ("incident_resolution", "incident_response")[o % 2]
                within = "8h" if kind == "incident_resolution" else "30m"
                lines.append(f"      - {{id: o{o}, service: svc-{s:03d}, type: {kind}, priority: P{o % 3 + 1}, "
                             f"within: {within}, target: 90, calendar: {calendar}}}")
    (directory / "trust.yaml").write_text("\n".join(lines) + "\n")


def _stamp(minute_index: np.ndarray) -> list[str]:
    base = np.datetime64(START.replace(tzinfo=None), "s")
    return [f"{t}Z" for t in (base + minute_index.astype("timedelta64[m]")).astype(str)]


def write_samples(directory: Path, services: int) -> None:
    """One CSV per day (plus the held-back tail), like a collector's daily drop."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    names = [f"svc-{s:03d}" for s in range(services)]
    for day in range(DAYS):
        first, last = day * 1440, min((day + 1) * 1440, MINUTES - TAIL_MINUTES)
        _write_minutes(directory / f"day-{day + 1:02d}.csv", names, rng, first, last)
    _write_minutes(directory / "tail.csv", names, rng, MINUTES - TAIL_MINUTES, MINUTES)


def _write_minutes(path: Path, names: list[str], rng: np.random.Generator, first: int, last: int) -> None:
    minutes = np.arange(first, last)
    stamps = _stamp(minutes)
    rows = ["timestamp,service,signal,value\n"]
    for name in names:
        up = (rng.random(len(minutes)) > 0.002).astype(int)
        latency = rng.lognormal(5.5, 0.6, len(minutes)).astype(int)
        rows.extend(f"{t},{name},up,{u}\n" for t, u in zip(stamps, up.tolist()))
        rows.extend(f"{t},{name},latency_ms,{v}\n" for t, v in zip(stamps, latency.tolist()))
    path.write_text("".join(rows))


def write_incidents(path: Path, services: int) -> None:
    rng = np.random.default_rng(13)
    opened = START - timedelta(days=20) + timedelta(minutes=1) * rng.integers(0, (DAYS + 20) * 1440, INCIDENTS)
    rows = ["id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold\n"]
    for i in range(INCIDENTS):
        at = opened[i]
        responded = at + timedelta(minutes=int(rng.integers(1, 90)))
        resolved = at + timedelta(minutes=int(rng.integers(30, 3000)))
        still_open = rng.random() < 0.03
        customer = f"cust-{int(rng.integers(0, 60)):02d}" if rng.random() < 0.2 else ""
        rows.append(
            f"INC{i:06d},svc-{int(rng.integers(0, services)):03d},{customer},P{int(rng.integers(1, 6))},"
            f"{at.isoformat()},{responded.isoformat()},{'' if still_open else resolved.isoformat()},\n"
        )
    path.write_text("".join(rows))


def generate(workdir: Path, services: int) -> None:
    write_config(workdir / "config", services)
    write_samples(workdir / "samples", services)
    write_incidents(workdir / "incidents.csv", services)


# ------------------------------------------------------------------ measurement


def fresh_database(engine_name: str, workdir: Path, database: str = "sla_bench") -> str:
    if engine_name == "sqlite":
        path = workdir / "bench.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    server = os.environ.get("SLA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    plain = server.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    return server.rsplit("/", 1)[0] + f"/{database}"


def database_bytes(engine: Engine) -> int:
    """The database's size on disk, as the module docstring says."""
    from sqlalchemy import text

    from worker.storage.engine import sqlite_file

    path = sqlite_file(engine.url)
    if path is None:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    with sqlite3.connect(path, isolation_level=None) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        print(f"warning: the WAL of {path} could not be fully checkpointed; counted as it is", flush=True)
    wal = Path(f"{path}-wal")
    return Path(path).stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def measure(engine_name: str, workdir: Path, database: str, queue: multiprocessing.Queue) -> None:
    from worker.config import load_catalogue
    from worker.metrics.burn_rates import refresh_burn_rates
    from worker.storage.engine import make_engine
    from worker.storage.migrate import upgrade
    from worker.usecases.ingest import ingest_path
    from worker.usecases.score import score_pending, score_period

    url = fresh_database(engine_name, workdir, database)
    upgrade(url)
    engine = make_engine(url)
    empty_bytes = database_bytes(engine)
    catalogue = load_catalogue(workdir / "config")
    figures: dict[str, float] = {}

    now = START + timedelta(days=DAYS, hours=1)
    files = sorted((workdir / "samples").glob("day-*.csv"))
    samples = 0
    began = time.perf_counter()
    for path in files:
        report = ingest_path(engine, catalogue, "samples", path, now)
        assert report.refused == 0, report.refusals[:3]
        samples += report.accepted
    figures["ingest_s"] = time.perf_counter() - began
    figures["samples"] = samples
    figures["ingest_rate"] = samples / figures["ingest_s"]
    figures["database_bytes"] = database_bytes(engine) - empty_bytes
    figures["bytes_per_sample"] = figures["database_bytes"] / samples
    report = ingest_path(engine, catalogue, "incidents", workdir / "incidents.csv", now)
    assert report.refused == 0, report.refusals[:3]

    began = time.perf_counter()
    results = score_period(engine, catalogue, PERIOD, now, grace_s=6 * 3600)
    figures["score_full_s"] = time.perf_counter() - began
    figures["results"] = len(results)

    score_pending(engine, catalogue, now, grace_s=6 * 3600)  # catch up, as a running worker would be
    ingest_path(engine, catalogue, "samples", workdir / "samples" / "tail.csv", now)
    began = time.perf_counter()
    rescored = score_pending(engine, catalogue, now, grace_s=6 * 3600)
    figures["rescore_s"] = time.perf_counter() - began
    figures["rescored_results"] = len(rescored)
    began = time.perf_counter()  # what the worker's alert evaluation then computes: burn rates at `now`
    figures["burn_rows"] = refresh_burn_rates(engine, catalogue, now)
    figures["burn_s"] = time.perf_counter() - began
    figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.dispose()
    queue.put(figures)


def measure_prometheus(workdir: Path, queue: multiprocessing.Queue) -> None:
    at_ms = int(END.timestamp() * 1000)
    queue.put(prometheus_baseline.measure_baseline(workdir, at_ms, DAYS))


def in_child(
    context: multiprocessing.context.SpawnContext, target: Callable[..., None], *args: object
) -> dict[str, float] | None:
    """Run `target(*args, queue)` in a fresh process; its figures, or None if it failed."""
    queue = context.Queue()
    child = context.Process(target=target, args=(*args, queue))
    child.start()
    while True:
        try:
            figures: dict[str, float] = queue.get(timeout=1)
            break
        except queues.Empty:
            if not child.is_alive():
                return None
    child.join()
    return figures


def print_prometheus(figures: dict[str, float]) -> None:
    print(
        f"{'prometheus':>10}: {figures['samples']:,.0f} up samples of {figures['series']:,.0f} series in "
        f"{figures['blocks']:.0f} blocks, {figures['tsdb_bytes'] / 1e6:,.1f} MB = {figures['bytes_per_sample']:.2f} "
        f"bytes/sample (export {figures['export_s']:.0f} s, back-fill {figures['backfill_s']:.0f} s) | "
        f"avg_over_time(probe_success[{DAYS}d]) first {figures['first_s']:.3f} s, median of "
        f"{prometheus_baseline.RUNS} more {figures['median_s']:.3f} s ({figures['min_s']:.3f}–{figures['max_s']:.3f})",
        flush=True,
    )


def print_engine(engine_name: str, figures: dict[str, float]) -> None:
    print(
        f"{engine_name:>10}: ingest {figures['samples']:,.0f} samples in {figures['ingest_s']:.1f} s "
        f"= {figures['ingest_rate']:,.0f} samples/s | {figures['database_bytes'] / 1e6:,.1f} MB stored "
        f"= {figures['bytes_per_sample']:.1f} bytes/sample | full-month scoring of {figures['results']:,.0f} "
        f"results {figures['score_full_s']:.2f} s | re-scoring after {TAIL_MINUTES} more minutes "
        f"({figures['rescored_results']:,.0f} results) {figures['rescore_s']:.2f} s | "
        f"burn rates at now ({figures['burn_rows']:,.0f} rows, alert evaluation's first step) {figures['burn_s']:.2f} s | "
        f"peak memory {figures['peak_mb']:,.0f} MB"
        + (f" | scoring ÷ Prometheus = {figures['ratio']:.1f}" if "ratio" in figures else ""),
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--workdir", type=Path, help="keep generated data here (default: a temporary folder)")
    parser.add_argument("--no-prometheus", action="store_true", help="skip the Prometheus baseline")
    parser.add_argument("--database", default="sla_bench", help="PostgreSQL scratch database, dropped and re-created")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sla-bench-"))
    context = multiprocessing.get_context("spawn")
    marker = workdir / f".generated-{args.services}"
    if not marker.exists():
        print(f"generating {args.services} services × {MINUTES} minutes × 2 signals in {workdir} …", flush=True)
        child = context.Process(target=generate, args=(workdir, args.services))
        child.start()
        child.join()
        if child.exitcode != 0:
            return 1
        marker.touch()
    summary: dict[str, object] = {"period": PERIOD, "services": args.services}
    failed = False
    prometheus = None
    if not args.no_prometheus:
        # First: a missing or broken Prometheus shows before the long engine runs.
        prometheus = in_child(context, measure_prometheus, workdir)
        if prometheus is None:
            print("prometheus: the baseline failed (see above); continuing without it", flush=True)
            failed = True
        else:
            print_prometheus(prometheus)
            summary["prometheus"] = prometheus
    for engine_name in args.engines.split(","):
        figures = in_child(context, measure, engine_name, workdir, args.database)
        if figures is None:
            print(f"{engine_name:>10}: the measurement failed (see above)", flush=True)
            failed = True
            continue
        if prometheus is not None:
            figures["prometheus_s"] = prometheus["median_s"]
            figures["ratio"] = figures["score_full_s"] / prometheus["median_s"]
        print_engine(engine_name, figures)
        summary[engine_name] = figures
    print(json.dumps(summary), flush=True)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: a Prometheus scrape of the metrics endpoint at 5,100 objective results (issue 5:
≤ 1 s for 5,000), and the burn-rate refresh the worker runs after each scoring run.

The trust of `score_month.py` (300 services, 30 shared agreements × 2 customers × 85
objectives = 5,100 results), with the last three days of July 2026 of minute samples (`up`
and `latency_ms`) and 20,000 incidents. For each engine, in a fresh process, it:

- scores July (period-to-date at 31 July 12:00 UTC, when every calendar is open, so every
  window has data: the largest scrape) and stores the 5,100 results;
- times `refresh_burn_rates` (25,500 burn rates over 5m … 3d from the stored samples);
- fills the source counters (600 streams) and the task-duration histogram;
- starts the real HTTP endpoint on loopback and times `--scrapes` GET /metrics requests as
  Prometheus sends them (gzip accepted), reading the whole body.

    .venv/bin/python benchmarks/metrics_scrape.py                      # PostgreSQL and SQLite
    .venv/bin/python benchmarks/metrics_scrape.py --engines sqlite     # one engine
    .venv/bin/python benchmarks/metrics_scrape.py --services 30        # a quick small run

PostgreSQL: a scratch database `sla_bench` is (re)created on SLA_BENCH_POSTGRES_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_month import fresh_database, write_config, write_incidents  # noqa: E402

NOW = datetime(2026, 7, 31, 12, 0, tzinfo=timezone.utc)  # a Friday, 13:00 in London: every calendar open
PERIOD = "2026-07"
DAYS_OF_SAMPLES = 3


def store_recent_samples(engine, services: int) -> int:  # noqa: ANN001 - an Engine
    """Minute samples for every service over the last DAYS_OF_SAMPLES days before NOW."""
    from worker.domain.changes import Changes
    from worker.storage.samples import store_sample_arrays

    rng = np.random.default_rng(5)
    start_ms = int((NOW - timedelta(days=DAYS_OF_SAMPLES)).timestamp() * 1000)
    minutes = DAYS_OF_SAMPLES * 1440
    at = start_ms + np.arange(minutes, dtype=np.int64) * 60_000
    stored = 0
    with engine.begin() as conn:
        for s in range(services):
            name = f"svc-{s:03d}"
            up = (rng.random(minutes) > 0.002).astype(np.float64)
            latency = rng.lognormal(5.5, 0.6, minutes).round()
            service = np.array([name] * (2 * minutes), dtype=object)
            signal = np.array(["up"] * minutes + ["latency_ms"] * minutes, dtype=object)
            stored += store_sample_arrays(conn, service, signal, np.concatenate([at, at]), np.concatenate([up, latency]), Changes())
    return stored


def fill_counters(engine, services: int) -> None:  # noqa: ANN001 - an Engine
    from worker.storage.task_durations import record_duration
    from worker.storage.watermarks import record_failure, record_success

    rng = np.random.default_rng(3)
    with engine.begin() as conn:
        for s in range(services):
            for signal in ("up", "latency_ms"):
                record_success(conn, "drop", f"svc-{s:03d}/{signal}", None, NOW, samples_stored=4320, rows_refused=s % 3)
        record_failure(conn, "drop", "incidents", NOW, "timed out")
        for task in ("sla.collect", "sla.score_pending", "sla.reconcile", "sla.evaluate_alerts"):
            for seconds in rng.lognormal(0, 1.5, 200):
                record_duration(conn, task, float(seconds))


def scrape(url: str) -> tuple[float, int, int]:
    """Seconds for one scrape (request to last byte), body bytes, sample lines."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", "Accept": "text/plain"})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        encoding = response.headers.get("Content-Encoding")
    seconds = time.perf_counter() - began
    text = gzip.decompress(body) if encoding == "gzip" else body
    return seconds, len(text), sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))


def measure(engine_name: str, workdir: Path, scrapes: int, services: int, queue: multiprocessing.Queue) -> None:
    from worker.config import load_catalogue
    from worker.metrics.burn_rates import refresh_burn_rates
    from worker.metrics.server import MetricsServer, make_registry
    from worker.storage.engine import make_engine
    from worker.storage.migrate import upgrade
    from worker.usecases.ingest import ingest_path
    from worker.usecases.score import score_period

    url = fresh_database(engine_name, workdir)
    upgrade(url)
    engine = make_engine(url)
    catalogue = load_catalogue(workdir / "config")
    figures: dict[str, float] = {"samples": store_recent_samples(engine, services)}
    ingest_path(engine, catalogue, "incidents", workdir / "incidents.csv", NOW)
    figures["results"] = len(score_period(engine, catalogue, PERIOD, NOW, grace_s=6 * 3600))

    began = time.perf_counter()
    figures["burn_rates"] = refresh_burn_rates(engine, catalogue, NOW)
    figures["refresh_s"] = time.perf_counter() - began
    fill_counters(engine, services)

    registry = make_registry(engine, lambda: catalogue, lambda: NOW)
    server = MetricsServer("127.0.0.1:0", registry.collect).start()
    try:
        scrape(server.url)  # warm up: first connection, imports
        timings = []
        for _ in range(scrapes):
            seconds, size, lines = scrape(server.url)
            timings.append(seconds)
    finally:
        server.close()
        engine.dispose()
    figures.update(
        scrape_median_s=statistics.median(timings), scrape_max_s=max(timings), body_bytes=size, sample_lines=lines
    )
    queue.put(figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sla-metrics-bench-"))
    try:
        write_config(workdir / "config", args.services)
        write_incidents(workdir / "incidents.csv", args.services)
        context = multiprocessing.get_context("spawn")
        for engine_name in args.engines.split(","):
            queue = context.Queue()
            child = context.Process(target=measure, args=(engine_name, workdir, args.scrapes, args.services, queue))
            child.start()
            f = queue.get()
            child.join()
            print(
                f"{engine_name:>10}: {f['results']:,.0f} results, {f['burn_rates']:,.0f} burn rates refreshed in "
                f"{f['refresh_s']:.2f} s | scrape ({f['sample_lines']:,.0f} samples, {f['body_bytes'] / 1e6:.1f} MB "
                f"before gzip): median {f['scrape_median_s']:.3f} s, max {f['scrape_max_s']:.3f} s "
                f"over {args.scrapes} scrapes",
                flush=True,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

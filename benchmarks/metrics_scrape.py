"""Benchmark: a Prometheus scrape of the metrics endpoint at 5,100 objective results (issue 5:
≤ 1 s for 5,000), and the burn-rate refresh the worker runs after each scoring run; with
`--regional`, a scrape at 30,000 results under each SLA_METRICS_SERIES (issue 16: ≤ 2 s).

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
    .venv/bin/python benchmarks/metrics_scrape.py --regional --engines postgresql

`--regional` builds the regional shared service of issue 16 straight into the database (no
scoring: the scrape only reads what is stored): 1,500 practices under 3 shared agreements of
500, each agreement 19 objectives on 60 shared services plus a per-customer site link, so
30,000 current results (and `--past-months` 11 earlier months of them, 360,000 rows), 150,000
burn rates and 1,620 source streams; then it scrapes the real endpoint over HTTP under
`per_customer` and `per_agreement`, printing wall seconds, the endpoint process's CPU seconds
(the scrape's own work, whatever else the machine is doing), samples and bytes.

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


def fill_counters(engine, streams: list[str]) -> None:  # noqa: ANN001 - an Engine
    from worker.storage.task_durations import record_duration
    from worker.storage.watermarks import Progress, record_failure, record_success

    rng = np.random.default_rng(3)
    with engine.begin() as conn:
        record_success(conn, "drop", NOW, [Progress(stream, stored=4320, refused=i % 3) for i, stream in enumerate(streams)])
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
    fill_counters(engine, [f"svc-{s:03d}/{signal}" for s in range(services) for signal in ("up", "latency_ms")])

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


# ------------------------------------------------------------------ the regional size (issue 16)

REGIONAL_CUSTOMERS, REGIONAL_AGREEMENTS, REGIONAL_SHARED_SERVICES = 1500, 3, 60
REGIONAL_SHARED_OBJECTIVES = 19  # + the per-customer site link: 20 objectives × 500 practices × 3 = 30,000
WINDOW_NAMES = ("5m", "30m", "1h", "6h", "3d")


def write_regional_config(directory: Path) -> None:
    """1,500 practices (own site link: one per-customer template), 60 shared services, 3
    shared agreements of 500 practices each with 19 shared objectives and the site link."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["calendars:", "  - {id: always, hours: 24x7}",
             "  - {id: office, hours: {mon-fri: ['08:00-18:30']}, holidays: england-and-wales}",
             "sources:", "  - {id: drop, kind: file_drop, path: var/incoming}", "services:"]
    for s in range(REGIONAL_SHARED_SERVICES):
        lines.append(f"  - {{id: svc-{s:02d}, name: Shared {s}, signals: {{up: {{source: drop}}, latency_ms: {{source: drop}}}}}}")
    lines.append("  - {id: site-link, name: Site link, per_customer: true, signals: {up: {source: drop, query: '{customer.ods_code}'}}}")
    lines.append("customers:")
    for c in range(REGIONAL_CUSTOMERS):
        lines.append(f"  - {{id: gp-{c:04d}, name: Practice {c}, kind: primary-care, ods_code: Y{c:05d}}}")
    lines.append("agreements:")
    per = REGIONAL_CUSTOMERS // REGIONAL_AGREEMENTS
    for a in range(REGIONAL_AGREEMENTS):
        customers = ", ".join(f"gp-{c:04d}" for c in range(a * per, (a + 1) * per))
        lines += [f"  - id: region-{a}", f"    name: Regional agreement {a}", f"    customers: [{customers}]", "    objectives:",
                  "      - {id: site-link-availability, service: site-link, type: availability, target: 99.5, warning: 99.8, calendar: always}"]
        for o in range(REGIONAL_SHARED_OBJECTIVES):
            service = f"svc-{(a * 20 + o) % REGIONAL_SHARED_SERVICES:02d}"
            calendar = ("always", "office")[o % 2]
            if o < 10:
                lines.append(f"      - {{id: o{o}, service: {service}, type: availability, target: 99.9, warning: 99.95, calendar: {calendar}}}")
            elif o < 15:
                lines.append(f"      - {{id: o{o}, service: {service}, type: latency, threshold_ms: 800, target: 95, calendar: {calendar}}}")
            else:
                kind, within = (("incident_resolution", "8h"), ("incident_response", "30m"))[o % 2]
                lines.append(f"      - {{id: o{o}, service: {service}, type: {kind}, priority: P{o % 3 + 1}, within: {within}, "
                             f"target: 90, calendar: {calendar}}}")
    (directory / "region.yaml").write_text("\n".join(lines) + "\n")


def _status(value: float | None, target: float, warning: float | None) -> str:
    if value is None:
        return "no-data"
    if value < target:
        return "red"
    return "amber" if warning is not None and value < warning else "green"


def regional_results(catalogue, periods: list[str]) -> list:  # noqa: ANN001 - a Catalogue
    """A result per (agreement, customer, objective, period): sample objectives on a shared
    service score the same for every customer (as scoring does), the site link and the
    incident objectives differ per customer; a few practices have no data yet."""
    from worker.domain.model import Result, Status

    rng = np.random.default_rng(17)
    results = []
    for period in periods:
        for agreement in catalogue.agreements.values():
            for o in agreement.objectives:
                per_customer = o.service == "site-link" or o.type.is_incident
                shared_value = float(100 - rng.exponential(0.05))
                for customer in agreement.customers:
                    value: float | None = float(100 - rng.exponential(0.2)) if per_customer else shared_value
                    if per_customer and rng.random() < 0.01:
                        value = None
                    budget = None if value is None else 1 - (100 - value) / (100 - o.target)
                    cover = None if value is None or o.type.value != "availability" else float(rng.uniform(0.97, 1))
                    results.append(Result(
                        period, agreement.id, customer, o.service if o.service != "site-link" else f"site-link.{customer}",
                        o.id, o.type, o.target, o.warning, value, Status(_status(value, o.target, o.warning)),
                        0.0, 0.0, 0.0, "s", cover, budget, period != periods[-1], agreement.kind,
                    ))
    return results


def regional_burn_rates(catalogue) -> list:  # noqa: ANN001 - a Catalogue
    from worker.storage.burn_rates import StoredBurnRate

    rng = np.random.default_rng(19)
    rows = []
    for agreement in catalogue.agreements.values():
        for o in agreement.objectives:
            for customer in agreement.customers:
                for window in WINDOW_NAMES:
                    rate = None if rng.random() < 0.05 else float(rng.exponential(0.5))
                    rows.append(StoredBurnRate(agreement.id, customer, o.id, window, 1.0, 0.0, 1.0, rate, NOW))
    return rows


def measure_regional(engine_name: str, workdir: Path, scrapes: int, past_months: int, queue: multiprocessing.Queue) -> None:
    """30,000 current results (plus `past_months` months before), 150,000 burn rates, the
    source counters of 1,620 streams; then the real endpoint scraped under each setting."""
    from worker.config import load_catalogue
    from worker.metrics.server import MetricsServer, make_registry
    from worker.storage.burn_rates import upsert_burn_rates
    from worker.storage.engine import make_engine
    from worker.storage.migrate import upgrade
    from worker.storage.results import upsert_results

    url = fresh_database(engine_name, workdir)
    upgrade(url)
    engine = make_engine(url)
    began = time.perf_counter()
    catalogue = load_catalogue(workdir / "config")
    figures: dict[str, float] = {"config_s": time.perf_counter() - began}
    periods = [f"{2026 - (m > 6)}-{(7 - m - 1) % 12 + 1:02d}" for m in range(past_months, -1, -1)]
    assert periods[-1] == PERIOD, periods
    began = time.perf_counter()
    results = regional_results(catalogue, periods)
    with engine.begin() as conn:
        for start in range(0, len(results), 20_000):
            upsert_results(conn, results[start : start + 20_000], NOW)
        upsert_burn_rates(conn, regional_burn_rates(catalogue))
    figures["stored_results"] = len(results)
    figures["build_s"] = time.perf_counter() - began
    streams = [f"svc-{s:02d}/{signal}" for s in range(REGIONAL_SHARED_SERVICES) for signal in ("up", "latency_ms")]
    streams += [f"site-link.gp-{c:04d}/up" for c in range(REGIONAL_CUSTOMERS)]
    fill_counters(engine, streams)
    for series in ("per_customer", "per_agreement"):
        registry = make_registry(engine, lambda: catalogue, lambda: NOW, series=series)
        server = MetricsServer("127.0.0.1:0", registry.collect).start()
        try:
            scrape(server.url)  # warm up: first connection
            timings, cpu = [], []
            for _ in range(scrapes):
                began_cpu = time.process_time()
                seconds, size, lines = scrape(server.url)
                timings.append(seconds)
                cpu.append(time.process_time() - began_cpu)
        finally:
            server.close()
        figures.update({
            f"{series}_median_s": statistics.median(timings), f"{series}_max_s": max(timings),
            f"{series}_cpu_s": statistics.median(cpu), f"{series}_bytes": size, f"{series}_samples": lines,
        })
    engine.dispose()
    queue.put(figures)


def in_child(target, *args: object) -> dict[str, float]:  # noqa: ANN001 - a measuring function
    """Run `target(*args, queue)` in a fresh process (its own imports and memory); its figures."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=target, args=(*args, queue))
    child.start()
    figures = queue.get()
    child.join()
    return figures


def main_regional(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="sla-metrics-regional-"))
    try:
        write_regional_config(workdir / "config")
        for engine_name in args.engines.split(","):
            f = in_child(measure_regional, engine_name, workdir, args.scrapes, args.past_months)
            print(f"{engine_name:>10}: {REGIONAL_CUSTOMERS:,} practices, 30,000 current results "
                  f"({f['stored_results']:,.0f} stored over {args.past_months + 1} months), 150,000 burn rates; "
                  f"configuration loaded in {f['config_s']:.1f} s", flush=True)
            for series in ("per_customer", "per_agreement"):
                print(f"{'':>12}SLA_METRICS_SERIES={series:<13} scrape: median {f[f'{series}_median_s']:.3f} s, "
                      f"max {f[f'{series}_max_s']:.3f} s over {args.scrapes} (endpoint process CPU, median "
                      f"{f[f'{series}_cpu_s']:.3f} s) | {f[f'{series}_samples']:,.0f} samples, "
                      f"{f[f'{series}_bytes'] / 1e6:.1f} MB before gzip", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--regional", action="store_true", help="the regional size of issue 16 (30,000 results), both settings")
    parser.add_argument("--past-months", type=int, default=11, help="--regional: months of older results also stored")
    args = parser.parse_args()
    if args.regional:
        main_regional(args)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="sla-metrics-bench-"))
    try:
        write_config(workdir / "config", args.services)
        write_incidents(workdir / "incidents.csv", args.services)
        for engine_name in args.engines.split(","):
            f = in_child(measure, engine_name, workdir, args.scrapes, args.services)
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

"""Prometheus baseline for `score_month.py` (issue 15): the same month's `up` series in a real
Prometheus, and the time it takes to answer `avg_over_time(probe_success[31d])`.

Steps, all from the benchmark's own CSV files so the data are identical to what we ingest:

1. every `up` sample of the month (the daily files *and* the held-back tail, i.e. the whole
   month) is written as OpenMetrics text, one series per service
   (`probe_success{service="svc-000"} 1 1782860400`), each series in time order, then `# EOF`;
2. `promtool tsdb create-blocks-from openmetrics --max-block-duration=744h` back-fills a TSDB.
   The flag is hidden in promtool 2.42 but honoured: promtool rounds it down to the largest
   compaction range (486 h, 20.25 days), so the month lands in two or three blocks aligned on
   multiples of 486 h since the epoch. That is the largest block Prometheus' own compactor
   builds with a long retention (ranges 2 h × 3^k up to 31 days), so the server finds nothing
   to compact while we time it. With the default (2 h blocks) there would be 372 blocks and a
   compaction running in the background during the timing;
3. a real `prometheus` is started on 127.0.0.1 (free port) over that directory, with no scrape
   targets and a retention of 100 years (time retention counts back from the newest block, so
   nothing back-filled is deleted), and we wait for `/-/ready`;
4. the instant query is timed through the HTTP API with httpx: a first run, then the median of
   five more. The answer must hold one series per service, each equal to the mean of that
   service's `up` samples in the window (Prometheus 2.x counts both ends of `[31d]`, 3.x only
   the end: either is accepted);
5. Prometheus is stopped (SIGTERM, then SIGKILL after 30 s), also when any step fails.
"""

from __future__ import annotations

import csv
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np

METRIC = "probe_success"
RUNS = 5
READY_TIMEOUT_S = 120.0
QUERY_TIMEOUT_S = 600.0


class BaselineError(RuntimeError):
    """The baseline could not be measured (tool missing, Prometheus not ready, wrong answer)."""


# ------------------------------------------------------------------ the data


def read_up_series(samples_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each service's `up` samples from the benchmark's CSV files: (times in ms, values), sorted
    by time; for a repeated timestamp the later row wins, as it does when we ingest."""
    files = sorted(samples_dir.glob("day-*.csv")) + sorted(samples_dir.glob("tail*.csv"))
    stamps: dict[str, int] = {}
    values: dict[str, float] = {}
    raw: dict[str, tuple[list[int], list[float]]] = {}
    for path in files:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            if header != ["timestamp", "service", "signal", "value"]:
                raise BaselineError(f"{path}: unexpected header {header}")
            for stamp, service, signal, value in reader:
                if signal != "up":
                    continue
                at = stamps.get(stamp)
                if at is None:
                    at = stamps[stamp] = round(datetime.fromisoformat(stamp).timestamp() * 1000)
                number = values.get(value)
                if number is None:
                    number = values[value] = float(value)
                times, vals = raw.setdefault(service, ([], []))
                times.append(at)
                vals.append(number)
    series = {}
    for service, (times, vals) in raw.items():
        t, v = np.asarray(times, dtype=np.int64), np.asarray(vals, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        last = np.r_[t[1:] != t[:-1], True]  # the last of equal timestamps, i.e. the later row
        series[service] = (t[last], v[last])
    return series


def write_openmetrics(series: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> int:
    """The series as OpenMetrics text (one gauge family, series one after another, each in time
    order, timestamps in seconds); returns the number of samples written."""
    written = 0
    with path.open("w") as out:
        out.write(f"# HELP {METRIC} The benchmark's up signal.\n# TYPE {METRIC} gauge\n")
        for service in sorted(series):
            times, vals = series[service]
            prefix = f'{METRIC}{{service="{service}"}} '
            text = {v: (str(int(v)) if v.is_integer() else repr(v)) for v in np.unique(vals).tolist()}
            seconds = [(f"{ms // 1000}" if ms % 1000 == 0 else f"{ms / 1000:.3f}") for ms in times.tolist()]
            out.write("".join(f"{prefix}{text[v]} {s}\n" for v, s in zip(vals.tolist(), seconds)))
            written += len(times)
        out.write("# EOF\n")
    return written


def expected_means(
    series: dict[str, tuple[np.ndarray, np.ndarray]], at_ms: int, range_ms: int, left_open: bool
) -> dict[str, float]:
    """`avg_over_time` of each series over the window ending at `at_ms`, computed here."""
    means = {}
    for service, (times, vals) in series.items():
        low = times > at_ms - range_ms if left_open else times >= at_ms - range_ms
        inside = low & (times <= at_ms)
        if inside.any():
            means[service] = float(vals[inside].mean())
    return means


# ------------------------------------------------------------------ the tools


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BaselineError(f"{name} not found: install it (Debian: apt-get install -y prometheus)")
    return found


def backfill(openmetrics: Path, tsdb_dir: Path, max_block_duration: str = "744h") -> list[str]:
    """Blocks built by promtool from the OpenMetrics file; returns promtool's block table."""
    command = [_tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--quiet",
               f"--max-block-duration={max_block_duration}", str(openmetrics), str(tsdb_dir)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BaselineError(f"promtool failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return sorted(p.name for p in tsdb_dir.iterdir() if (p / "meta.json").exists())


def directory_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_prometheus(tsdb_dir: Path, workdir: Path) -> Iterator[str]:
    """A real Prometheus over `tsdb_dir`, ready; yields its base URL and stops it on exit."""
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    port = _free_port()
    log_path = workdir / "prometheus.log"
    command = [_tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tsdb_dir}",
               "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
               "--log.level=warn"]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, process, log_path)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BaselineError(f"prometheus exited ({process.returncode}): {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise BaselineError(f"prometheus not ready after {READY_TIMEOUT_S:.0f} s: {log_path.read_text()[-2000:]}")


def timed_query(client: httpx.Client, query: str, at_s: float) -> tuple[float, dict[str, float]]:
    """Seconds for one instant query (request sent to the whole answer received) and its
    values by service."""
    began = time.perf_counter()
    response = client.get("/api/v1/query", params={"query": query, "time": f"{at_s:.3f}"})
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "success":
        raise BaselineError(f"query failed: {body}")
    return elapsed, {item["metric"]["service"]: float(item["value"][1]) for item in body["data"]["result"]}


def check_answer(answer: dict[str, float], series: dict[str, tuple[np.ndarray, np.ndarray]],
                 at_ms: int, range_ms: int) -> None:
    """One series per service, each the mean we compute from the CSV files."""
    if len(answer) != len(series):
        raise BaselineError(f"Prometheus answered {len(answer)} series, expected {len(series)}")
    for left_open in (False, True):
        expected = expected_means(series, at_ms, range_ms, left_open)
        if expected.keys() == answer.keys() and all(abs(answer[s] - expected[s]) < 1e-9 for s in answer):
            return
    raise BaselineError("Prometheus' averages differ from the CSV files' means")


# ------------------------------------------------------------------ the whole baseline


def measure_baseline(workdir: Path, at_ms: int, range_days: int) -> dict[str, float]:
    """Export, back-fill, serve and time the query; figures for the benchmark's summary.

    Works in `workdir/prometheus/` (emptied first; the OpenMetrics file is deleted once the
    blocks exist, the blocks and Prometheus' log are kept for inspection)."""
    base_dir = workdir / "prometheus"
    shutil.rmtree(base_dir, ignore_errors=True)
    tsdb_dir = base_dir / "tsdb"
    tsdb_dir.mkdir(parents=True)
    figures: dict[str, float] = {}

    began = time.perf_counter()
    series = read_up_series(workdir / "samples")
    openmetrics = base_dir / "up.om"
    figures["samples"] = write_openmetrics(series, openmetrics)
    figures["series"] = len(series)
    figures["export_s"] = time.perf_counter() - began

    began = time.perf_counter()
    blocks = backfill(openmetrics, tsdb_dir)
    figures["backfill_s"] = time.perf_counter() - began
    figures["blocks"] = len(blocks)
    openmetrics.unlink()
    figures["tsdb_bytes"] = directory_bytes(tsdb_dir)
    figures["bytes_per_sample"] = figures["tsdb_bytes"] / figures["samples"]

    query = f"avg_over_time({METRIC}[{range_days}d])"
    range_ms = range_days * 86_400_000
    with running_prometheus(tsdb_dir, base_dir) as base, httpx.Client(base_url=base, timeout=QUERY_TIMEOUT_S) as client:
        figures["first_s"], answer = timed_query(client, query, at_ms / 1000)
        check_answer(answer, series, at_ms, range_ms)
        runs = [timed_query(client, query, at_ms / 1000)[0] for _ in range(RUNS)]
    figures["median_s"] = statistics.median(runs)
    figures["min_s"], figures["max_s"] = min(runs), max(runs)
    return figures

"""Benchmark: a regional shared service's month on 1 and then 2 real Celery worker processes
(issue 16, "Scale out").

The service it builds: 1,500 GP practices (read from a `customers.csv`, each with an ODS code
and a `contacts.reports` address), each with its own site link declared once as a per-customer
template (`per_customer: true`, `up` every minute), 60 shared services (`up` and `latency_ms`
every minute), 3 shared agreements of 16 objectives (500 practices each: 24,000 results a
month), and 150,000 incidents over the twelve months up to the period's end. One month of
samples (70 million at full size) and the incidents go into a scratch PostgreSQL database
through the ingestion use case; then, for 1 and then 2 worker processes
(`celery -A worker.celeryapp worker --concurrency 1`, broker Redis, reports mailed to an SMTP
server on loopback started by the script), it measures:

- **full-month scoring**: `sla.score_shard(period, shard)` for every shard when the task
  exists, else `sla.reconcile`; done when every result of the period has a `computed_at` after
  the start;
- **alert evaluation**: `sla.evaluate_alerts`; done when the broker is idle (below);
- **monthly reports**: `sla.send_monthly_reports`; done when every practice's report row is
  `sent` and the board report is stored;

and then one metrics scrape from `sla-worker metrics serve`. It prints each figure, the
speedup of 2 processes over 1, the peak memory (`VmHWM`) of every worker process, the longest
task run from the workers' logs, the most PostgreSQL connections seen and the longest queue,
and last a line of JSON with the figures.

    .venv/bin/python benchmarks/scale_out.py                           # 1,500 practices: ~1 h
    .venv/bin/python benchmarks/scale_out.py --customers 60 --days 3   # a quick small run
    .venv/bin/python benchmarks/scale_out.py --workdir /tmp/scale --reuse-db --phases score

The period is the month before the running one by the wall clock (November 2026 when run in
December 2026): `sla.send_monthly_reports` reports on exactly that month, so it is the only one
a real worker can be asked to report on. Before `sla.score_shard` exists, `sla.reconcile` scores
only the open periods, so the scoring workers are given a late-data grace that keeps the month
open (its results are then not final; they are finalised in this process, untimed, before the
reports).

"Idle" is read from Redis: no message waiting in the `celery` queue (any priority) and none
delivered but unacknowledged (tasks acknowledge late, so a running task's message stays in
`unacked` until it returns, and a task it queues is in the queue before that), three polls in a
row. No result backend is needed.

PostgreSQL: a scratch database `sla_scale_bench` is (re)created on SLA_BENCH_POSTGRES_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres). Broker: --broker-url (default
redis://127.0.0.1:6379/8), whose database is flushed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from worker.celeryapp import SOFT_LIMIT_S

ROOT = Path(__file__).resolve().parents[1]
ZONE = "Europe/London"
DATABASE = "sla_scale_bench"
SHARED_SERVICES = 60
AGREEMENTS = 3
SHARED_OBJECTIVES = 14  # per agreement, plus the site link's availability and incident objectives
INCIDENTS_PER_CUSTOMER = 100  # 150,000 a year for 1,500 practices
GRACE_S = 6 * 3600.0  # the default SLA_LATE_DATA_GRACE
POLL_S = 0.1
REQUIRED = ("score_s_1", "score_s_2", "reports_s_1", "reports_s_2", "speedup_score", "speedup_reports", "scrape_s", "peak_mb")


# ------------------------------------------------------------------ the regional service


def ods_code(i: int) -> str:
    """A GP practice's ODS code shape: a letter and five digits (A81001, A81002, …)."""
    return f"{'ABCDEFGHJKLMNPY'[i // 17_000]}{81_001 + i % 17_000}"


def practice_ids(customers: int) -> list[str]:
    return [ods_code(i).lower() for i in range(customers)]


def write_config(directory: Path, customers: int, period: str, incoming: Path) -> None:
    """customers.csv (the practices) and region.yaml (calendars, the shared services, the
    site-link template, three shared agreements of 500 practices each)."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = practice_ids(customers)
    rows = ["id,name,kind,ods_code,pays,reports,alerts"]
    rows += [f"{p},Practice {i + 1} ({p.upper()}),primary-care,{p.upper()},yes,pm.{p}@nhs.net," for i, p in enumerate(ids)]
    (directory / "customers.csv").write_text("\n".join(rows) + "\n")

    year = int(period[:4])
    rng = np.random.default_rng(17)
    lines = [
        "calendars:",
        "  - {id: always, hours: 24x7}",
        "  - {id: office, hours: {mon-fri: ['08:00-18:30']}, holidays: england-and-wales}",
        "  - {id: extended, hours: {mon-fri: ['07:00-20:00'], sat: ['09:00-12:30']}, holidays: england-and-wales}",
        "sources:",
        f"  - {{id: drop, kind: file_drop, path: {incoming}}}",
        "services:",
        "  - id: site-link",
        "    name: Site link",
        "    per_customer: true",
        "    signals: {up: {source: drop}}",
    ]
    for s in range(SHARED_SERVICES):
        lines.append(
            f"  - {{id: svc-{s:02d}, name: Shared service {s}, "
            f"signals: {{up: {{source: drop}}, latency_ms: {{source: drop}}}}}}"
        )
    lines.append("agreements:")
    share = -(-customers // AGREEMENTS)
    for a in range(AGREEMENTS):
        members = ids[a * share:(a + 1) * share]
        if not members:
            continue
        lines += [
            f"  - id: gp-{a + 1}",
            f"    name: GP practices, group {a + 1}",
            f"    customers: [{', '.join(members)}]",
            f"    effective: {{from: {year - 1}-01-01, to: {year + 1}-12-31}}",
            "    objectives:",
            "      - {id: link-up, service: site-link, type: availability, target: 99.0, warning: 99.5, "
            "calendar: always, missing_data: ignore}",
            "      - {id: link-fix, service: site-link, type: incident_resolution, priority: P3, within: 24h, "
            "target: 90, calendar: extended}",
        ]
        chosen = rng.choice(SHARED_SERVICES, size=SHARED_OBJECTIVES, replace=False)
        for o, s in enumerate(chosen):
            calendar = ("always", "office", "extended")[o % 3]
            if o < 6:
                policy = ("ignore", "down", "up")[o % 3]
                lines.append(f"      - {{id: o{o:02d}, service: svc-{s:02d}, type: availability, target: 99.5, "
                             f"warning: 99.8, calendar: {calendar}, missing_data: {policy}}}")
            elif o < 10:
                lines.append(f"      - {{id: o{o:02d}, service: svc-{s:02d}, type: latency, threshold_ms: 800, "
                             f"target: 95, calendar: {calendar}}}")
            else:
                kind = ("incident_resolution", "incident_response")[o % 2]
                within = "8h" if kind == "incident_resolution" else "30m"
                lines.append(f"      - {{id: o{o:02d}, service: svc-{s:02d}, type: {kind}, priority: P{o % 3 + 1}, "
                             f"within: {within}, target: 90, calendar: {calendar}}}")
    (directory / "region.yaml").write_text("\n".join(lines) + "\n")


def _stamps(first_s: float, minutes: int) -> np.ndarray:
    """`YYYY-MM-DDTHH:MM:SSZ` of each minute as a (minutes, 20) byte array."""
    base = np.datetime64(int(first_s), "s")
    text = np.char.add(np.datetime_as_string(base + np.arange(minutes).astype("timedelta64[m]"), unit="s"), "Z")
    return text.astype("S20").view(np.uint8).reshape(minutes, 20)


def _rows(stamps: np.ndarray, middle: bytes, values: np.ndarray) -> bytes:
    """Fixed-width CSV rows `stamp` + `middle` + value digits + newline, built as one byte
    array: a service's day is one block, no per-row Python."""
    width = 20 + len(middle) + values.shape[1] + 1
    out = np.empty((len(stamps), width), dtype=np.uint8)
    out[:, :20] = stamps
    out[:, 20:20 + len(middle)] = np.frombuffer(middle, dtype=np.uint8)
    out[:, 20 + len(middle):-1] = values
    out[:, -1] = 10
    return out.tobytes()


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1)
    return ((np.minimum(values, 10**width - 1)[:, None] // powers) % 10 + 48).astype(np.uint8)


def samples_csv(ids: list[str], first_s: float, minutes: int, rng: np.random.Generator) -> bytes:
    """One day's samples file: every practice's link `up`, every shared service's `up` and
    `latency_ms`, one row a minute. A link is down for one stretch of 5–120 minutes on about
    3 % of its days; a shared service misses 0.2 % of its minutes."""
    stamps = _stamps(first_s, minutes)
    parts = [b"timestamp,service,signal,value\n"]
    for practice in ids:
        up = np.ones(minutes, dtype=np.int64)
        if rng.random() < 0.03:
            start = int(rng.integers(0, minutes))
            up[start:start + int(rng.integers(5, 121))] = 0
        parts.append(_rows(stamps, f",site-link.{practice},up,".encode(), _digits(up, 1)))
    for s in range(SHARED_SERVICES):
        up = (rng.random(minutes) > 0.002).astype(np.int64)
        latency = rng.lognormal(5.5, 0.6, minutes).astype(np.int64)
        parts.append(_rows(stamps, f",svc-{s:02d},up,".encode(), _digits(up, 1)))
        parts.append(_rows(stamps, f",svc-{s:02d},latency_ms,".encode(), _digits(latency, 5)))
    return b"".join(parts)


def incidents_csv(ids: list[str], end_s: float, rng: np.random.Generator) -> bytes:
    """INCIDENTS_PER_CUSTOMER a practice over the year up to `end_s`: 80 % on a practice's site
    link (written on the template, with the practice as customer), the rest on a shared service
    (for every customer); 3 % still open."""
    n = INCIDENTS_PER_CUSTOMER * len(ids)
    year_s = 365 * 86400
    opened = (end_s - year_s + rng.integers(0, year_s, n)).astype("datetime64[s]")
    responded = opened + rng.integers(60, 90 * 60, n).astype("timedelta64[s]")
    resolved = opened + rng.integers(30 * 60, 3000 * 60, n).astype("timedelta64[s]")
    on_link = rng.random(n) < 0.8
    practice = rng.integers(0, len(ids), n)
    shared = rng.integers(0, SHARED_SERVICES, n)
    priority = rng.choice(5, size=n, p=[0.05, 0.15, 0.4, 0.3, 0.1]) + 1
    still_open = rng.random(n) < 0.03

    def iso(values: np.ndarray) -> list[str]:
        return [f"{t}Z" for t in np.datetime_as_string(values, unit="s")]

    rows = ["id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold\n"]
    for i, (o, r, z) in enumerate(zip(iso(opened), iso(responded), iso(resolved))):
        service, customer = ("site-link", ids[practice[i]]) if on_link[i] else (f"svc-{shared[i]:02d}", "")
        rows.append(f"INC{i:07d},{service},{customer},P{priority[i]},{o},{r},{'' if still_open[i] else z},\n")
    return "".join(rows).encode()


# ------------------------------------------------------------------ database, broker, mail


def database_urls() -> tuple[str, str]:
    """(SQLAlchemy URL, plain libpq URL) of the scratch database."""
    server = os.environ.get("SLA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    url = server.rsplit("/", 1)[0] + "/" + DATABASE
    return url, url.replace("+psycopg", "")


def fresh_database() -> str:
    import psycopg

    url, _plain = database_urls()
    server = os.environ.get("SLA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(server.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return url


class MailCatcher:
    """An SMTP server on loopback that counts what it accepts (and keeps nothing)."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.lock = threading.Lock()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.messages += 1
            self.bytes += len(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"

    def start(self) -> MailCatcher:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()


class Broker:
    """The Redis database the workers use, read directly: is any work waiting or running?"""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.redis = redis.Redis.from_url(url)
        self.most_queued = 0
        self.most_queued_bytes = 0

    def flush(self) -> None:
        self.redis.flushdb()

    def queued(self) -> int:
        """Messages waiting in the `celery` queue, every priority (kombu keeps one list per
        priority step: `celery`, `celery\\x06\\x163`, …)."""
        total, size = 0, 0
        for key in self.redis.scan_iter(match=b"celery*"):
            if self.redis.type(key) == b"list":
                length = int(self.redis.llen(key))
                total += length
                if length:
                    size += int(self.redis.memory_usage(key) or 0)
        if total > self.most_queued:
            self.most_queued, self.most_queued_bytes = total, size
        return total

    def unacked(self) -> int:
        return int(self.redis.hlen("unacked"))

    def idle(self) -> bool:
        return self.queued() == 0 and self.unacked() == 0


# ------------------------------------------------------------------ worker processes


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return found


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Memory:
    """Peak resident memory (VmHWM) per process seen, by role."""

    peaks_kb: dict[tuple[str, int], int] = field(default_factory=dict)

    def sample(self, role: str, pid: int) -> None:
        value = _status_kb(pid, "VmHWM")
        if value:
            key = (role, pid)
            self.peaks_kb[key] = max(self.peaks_kb.get(key, 0), value)

    def peak_mb(self, role: str | None = None) -> float:
        values = [v for (r, _p), v in self.peaks_kb.items() if role is None or r == role]
        return max(values, default=0) / 1024


@dataclass
class Watch:
    """What the polling loop records while the workers run."""

    broker: Broker
    database: Any  # a psycopg connection (autocommit) to the scratch database
    memory: Memory = field(default_factory=Memory)
    most_connections: int = 0
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _polls: int = 0

    def poll(self) -> None:
        self._polls += 1
        if self._polls % 5:
            return
        for process in self.workers:
            self.memory.sample("worker main", process.pid)
            for child in _children(process.pid):
                self.memory.sample("worker pool", child)
        count = self.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()") - 1
        self.broker.queued()  # records the longest queue
        self.most_connections = max(self.most_connections, count)

    def scalar(self, sql: str, *params: object) -> int:
        row = self.database.execute(sql, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def until(self, done: Callable[[], bool], timeout_s: float) -> float | None:
        """Seconds (perf_counter) at which `done()` first held; None at the timeout, or when
        the broker has been idle for 10 s without it (a task failed: nothing more will come)."""
        deadline = time.perf_counter() + timeout_s
        idle_since: float | None = None
        while time.perf_counter() < deadline:
            self.poll()
            if done():
                return time.perf_counter()
            if not self.broker.idle():
                idle_since = None
            elif idle_since is None:
                idle_since = time.perf_counter()
            elif time.perf_counter() - idle_since > 10:
                return None
            time.sleep(POLL_S)
        return None

    def until_idle(self, timeout_s: float) -> float | None:
        """The instant the broker went idle and stayed so for three polls in a row."""
        deadline = time.perf_counter() + timeout_s
        first: float | None = None
        streak = 0
        while time.perf_counter() < deadline:
            self.poll()
            if self.broker.idle():
                first = first if streak else time.perf_counter()
                streak += 1
                if streak >= 3:
                    return first
            else:
                streak = 0
            time.sleep(POLL_S)
        return None


def worker_environment(args: argparse.Namespace, workdir: Path, mail: MailCatcher, grace: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env.update(
        SLA_CONFIG_DIR=str(workdir / "config"),
        SLA_DATABASE_URL=database_urls()[0],
        SLA_BROKER_URL=args.broker_url,
        SLA_REPORTS_DIR=str(workdir / "reports"),
        SLA_SMTP_HOST="127.0.0.1",
        SLA_SMTP_PORT=str(mail.port),
        SLA_SMTP_STARTTLS="false",
        SLA_SMTP_FROM="sla-reports@nhs.net",
        SLA_SCORING_SHARDS=str(args.shards),
        C_FORCE_ROOT="1",
    )
    if grace is not None:
        env["SLA_LATE_DATA_GRACE"] = grace
    return env


@contextmanager
def workers(count: int, env: dict[str, str], logs: Path, watch: Watch, bench_app: Any) -> Iterator[None]:
    """`count` worker processes of concurrency 1 (each its own process group), started and
    answering a ping before the block runs; stopped (warm shutdown) after it."""
    logs.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[bytes]] = []
    names = [f"scale{i + 1}@{socket.gethostname()}" for i in range(count)]
    try:
        for i, name in enumerate(names):
            command = [sys.executable, "-m", "celery", "-A", "worker.celeryapp", "worker", "--concurrency", "1",
                       "--loglevel", "INFO", "-n", name]
            with (logs / f"worker-{i + 1}.log").open("ab") as log:
                started.append(subprocess.Popen(command, env=env, cwd=logs.parent, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 120
        while True:
            replies = bench_app.control.ping(destination=names, timeout=1.0) or []
            if len(replies) >= count:
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in started):
                raise RuntimeError(f"workers did not start: see {logs}")
        watch.workers = started
        yield
    finally:
        watch.workers = []
        for process in started:
            watch.memory.sample("worker main", process.pid)
            for child in _children(process.pid):
                watch.memory.sample("worker pool", child)
        for process in started:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in started:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


_TASK_LINE = re.compile(r"Task (sla\.[\w.]+)\[[^\]]+\] succeeded in ([\d.]+)s")


def task_runs(logs: Path) -> tuple[dict[str, tuple[int, float]], list[str]]:
    """From the workers' logs: per task name, (runs, longest seconds); and every line saying a
    task failed, was retried or hit a time limit."""
    runs: dict[str, tuple[int, float]] = {}
    trouble = []
    for path in sorted(logs.glob("worker-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            match = _TASK_LINE.search(line)
            if match:
                count, longest = runs.get(match[1], (0, 0.0))
                runs[match[1]] = (count + 1, max(longest, float(match[2])))
            elif re.search(r"raised unexpected|\bRetry in\b|TimeLimitExceeded|SoftTimeLimitExceeded|WorkerLostError", line):
                trouble.append(f"{path.name}: {line.strip()[:300]}")
    return runs, trouble


# ------------------------------------------------------------------ the benchmark


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    period: str
    now: datetime
    ids: list[str]
    expected_results: int
    mail: MailCatcher
    watch: Watch
    app: Any  # a Celery app that only sends messages to the broker
    tasks: frozenset[str]
    figures: dict[str, Any] = field(default_factory=dict)

    def send(self, name: str, *args: object) -> None:
        self.app.send_task(name, args=list(args))

    def env(self, grace: str | None = None) -> dict[str, str]:
        return worker_environment(self.args, self.workdir, self.mail, grace)

    def logs(self, n: int) -> Path:
        return self.workdir / "run" / f"logs-{n}"

    # -- scoring

    def keep_period_open(self) -> str | None:
        """Before `sla.score_shard` exists, `sla.reconcile` scores the open periods only: a
        grace that keeps the benchmark's month open until two days from now."""
        if "sla.score_shard" in self.tasks:
            return None
        from worker.scoring.periods import period_bounds

        return f"{int(self.now.timestamp() - period_bounds(self.period, ZONE)[1] + 2 * 86400)}s"

    def score(self, n: int) -> float | None:
        grace = self.keep_period_open()
        with workers(n, self.env(grace), self.logs(n), self.watch, self.app):
            began_at = datetime.now(timezone.utc)
            began = time.perf_counter()
            if grace is None:
                for shard in range(self.args.shards):
                    self.send("sla.score_shard", self.period, shard)
            else:
                self.send("sla.reconcile")

            def scored() -> int:
                return self.watch.scalar(
                    "SELECT count(*) FROM results WHERE period = %s AND computed_at >= %s", self.period, began_at
                )

            done = self.watch.until(lambda: scored() >= self.expected_results, self.args.timeout)
            self.watch.until_idle(self.args.timeout)  # what the scoring queued (alerts, burn rates) ends too
            if done is None:
                print(f"  scoring with {n}: only {scored():,} of {self.expected_results:,} results written (see the logs)")
                return None
            return done - began

    # -- alerts

    def prepare_alerts(self) -> None:
        """Alerts watch the running period: score it once here (untimed) if nothing has, so
        there are results and burn rates to evaluate; forget the alert state of a run before."""
        from worker.config import load_catalogue
        from worker.scoring.periods import period_of
        from worker.storage.engine import make_engine
        from worker.usecases.score import score_period

        running = period_of(self.now.timestamp(), ZONE)
        if not self.watch.scalar("SELECT count(*) FROM results WHERE period = %s", running):
            engine = make_engine(database_urls()[0])
            score_period(engine, load_catalogue(self.workdir / "config"), running, datetime.now(timezone.utc), GRACE_S)
            engine.dispose()
        self.watch.database.execute(
            "TRUNCATE notification_items, notifications, alert_transitions, alerts CASCADE"
        )

    def alerts(self) -> float | None:
        began = time.perf_counter()
        self.send("sla.evaluate_alerts")
        done = self.watch.until_idle(self.args.timeout)
        return None if done is None else done - began

    # -- reports

    def prepare_reports(self) -> None:
        """Forget the reports of a run before (rows and folders); make the month's results
        final (untimed) when the scoring left them open or no scoring phase ran."""
        self.watch.database.execute("DELETE FROM reports WHERE period = %s", (self.period,))
        shutil.rmtree(self.workdir / "reports" / self.period, ignore_errors=True)
        stored = self.watch.scalar("SELECT count(*) FROM results WHERE period = %s", self.period)
        if stored < self.expected_results or self.watch.scalar(
            "SELECT count(*) FROM results WHERE period = %s AND NOT final", self.period
        ):
            from worker.config import load_catalogue
            from worker.storage.engine import make_engine
            from worker.usecases.score import score_period

            began = time.perf_counter()
            engine = make_engine(database_urls()[0])
            score_period(engine, load_catalogue(self.workdir / "config"), self.period, datetime.now(timezone.utc), GRACE_S)
            engine.dispose()
            print(f"  (results of {self.period} made final in this process, untimed: {time.perf_counter() - began:.1f} s)")

    def reports(self) -> float | None:
        sent_before = self.mail.messages
        began = time.perf_counter()
        self.send("sla.send_monthly_reports")
        customers = len(self.ids)

        def done() -> bool:
            sent = self.watch.scalar(
                "SELECT count(*) FROM reports WHERE period = %s AND kind = 'customer' AND status = 'sent'", self.period
            )
            board = self.watch.scalar("SELECT count(*) FROM reports WHERE period = %s AND kind = 'board'", self.period)
            return sent >= customers and board >= 1

        finished = self.watch.until(done, self.args.timeout)
        self.watch.until_idle(self.args.timeout)
        mailed = self.mail.messages - sent_before
        if mailed != customers:
            print(f"  reports: the SMTP server received {mailed:,} messages for {customers:,} practices")
        return None if finished is None else finished - began

    # -- one worker count

    def run(self, n: int) -> None:
        phases = self.args.phases
        shutil.rmtree(self.logs(n), ignore_errors=True)  # the logs of this run only
        load = os.getloadavg()[0]
        self.figures[f"load_{n}"] = round(load, 1)
        print(f"{n} worker process{'es' if n > 1 else ''} (concurrency 1 each; load average {load:.1f} "
              f"on {os.cpu_count()} cores):", flush=True)
        if "score" in phases:
            seconds = self.score(n)
            self.figures[f"score_s_{n}"] = seconds
            print(f"  full-month scoring ({self.expected_results:,} results): {_s(seconds)}", flush=True)
        if "alerts" in phases or "reports" in phases:
            if "alerts" in phases:
                self.prepare_alerts()
            if "reports" in phases:
                self.prepare_reports()
            with workers(n, self.env(), self.logs(n), self.watch, self.app):
                if "alerts" in phases:
                    seconds = self.alerts()
                    self.figures[f"alerts_s_{n}"] = seconds
                    print(f"  alert evaluation: {_s(seconds)}", flush=True)
                if "reports" in phases:
                    seconds = self.reports()
                    self.figures[f"reports_s_{n}"] = seconds
                    print(f"  monthly reports of {len(self.ids):,} practices and the board: {_s(seconds)}", flush=True)
        runs, trouble = task_runs(self.logs(n))
        for name, (count, longest) in sorted(runs.items()):
            print(f"  {name}: {count:,} run{'s' if count > 1 else ''}, longest {longest:.1f} s")
        for line in trouble[:10]:
            print(f"  ! {line}")
        longest = max((lon for _c, lon in runs.values()), default=0.0)
        if longest > SOFT_LIMIT_S / 2:
            print(f"  ! the longest task ran {longest:.0f} s: more than half its soft time limit ({SOFT_LIMIT_S} s)")
        self.figures[f"longest_task_s_{n}"] = round(longest, 2)
        self.figures[f"task_problems_{n}"] = len(trouble)


def _s(seconds: float | None) -> str:
    return "did not finish (timeout)" if seconds is None else f"{seconds:.1f} s"


def scrape(args: argparse.Namespace, bench: Bench) -> dict[str, float]:
    """`sla-worker metrics serve` on a free loopback port; a warm-up scrape, then three timed
    ones (request to last byte, gzip accepted as Prometheus asks)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = bench.env()
    env["SLA_METRICS_ADDR"] = f"127.0.0.1:{port}"
    with (bench.workdir / "run" / "metrics.log").open("ab") as log:
        server = subprocess.Popen([str(Path(sys.executable).parent / "sla-worker"), "metrics", "serve"], env=env,
                                  cwd=bench.workdir / "run", stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the metrics server did not start: see run/metrics.log") from None
                time.sleep(0.2)
        timings = []
        for attempt in range(4):
            request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", "Accept": "text/plain"})
            began = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as response:
                body = response.read()
                encoding = response.headers.get("Content-Encoding")
            if attempt:
                timings.append(time.perf_counter() - began)
        text = gzip.decompress(body) if encoding == "gzip" else body
        lines = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
        peak = _status_kb(server.pid, "VmHWM") / 1024
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    return {"scrape_s": statistics.median(timings), "scrape_max_s": max(timings), "scrape_mb": len(text) / 1e6,
            "scrape_lines": lines, "scrape_peak_mb": peak}


# ------------------------------------------------------------------ set-up


def benchmark_period(now: datetime) -> str:
    from worker.scoring.periods import period_of, previous_period

    return previous_period(period_of(now.timestamp(), ZONE))


def build(args: argparse.Namespace, workdir: Path, period: str, now: datetime) -> None:
    """Configuration, then a fresh database with the month's samples and the year's incidents
    ingested through the use case (one file per day, as a collector drops them)."""
    from worker.config import load_catalogue
    from worker.scoring.periods import period_bounds
    from worker.storage.engine import make_engine
    from worker.storage.migrate import upgrade
    from worker.usecases.ingest import ingest

    ids = practice_ids(args.customers)
    write_config(workdir / "config", args.customers, period, workdir / "incoming")
    began = time.perf_counter()
    catalogue = load_catalogue(workdir / "config")
    print(f"configuration: {len(catalogue.customers):,} customers, {len(catalogue.services):,} services "
          f"(templates expanded), loaded in {time.perf_counter() - began:.1f} s", flush=True)
    url = fresh_database()
    upgrade(url)
    engine = make_engine(url)
    start_s, end_s = period_bounds(period, ZONE)
    minutes = min(int(end_s - start_s) // 60, args.days * 1440)
    rng = np.random.default_rng(11)
    samples, generating, ingesting = 0, 0.0, 0.0
    keep = args.workdir is not None
    for first in range(0, minutes, 1440):
        path = workdir / "samples" / f"day-{first // 1440 + 1:02d}.csv"
        began = time.perf_counter()
        if keep and path.exists():
            data = path.read_bytes()
        else:
            data = samples_csv(ids, start_s + first * 60, min(1440, minutes - first), rng)
            if keep:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        generating += time.perf_counter() - began
        began = time.perf_counter()
        report = ingest(engine, catalogue, "samples", data, now)
        ingesting += time.perf_counter() - began
        if report.refused:
            raise SystemExit(f"{path.name}: {report.refused} rows refused, e.g. {report.refusals[:3]}")
        samples += report.accepted
        if (first // 1440 + 1) % 7 == 0:
            print(f"  day {first // 1440 + 1}: {samples:,} samples stored", flush=True)
    path = workdir / "incidents.csv"
    data = incidents_csv(ids, end_s, np.random.default_rng(13))
    if keep:
        path.write_bytes(data)
    began = time.perf_counter()
    report = ingest(engine, catalogue, "incidents", data, now)
    incident_s = time.perf_counter() - began
    if report.refused:
        raise SystemExit(f"incidents: {report.refused} rows refused, e.g. {report.refusals[:3]}")
    engine.dispose()
    print(f"ingest: {samples:,} samples in {ingesting:.1f} s ({samples / ingesting:,.0f} samples/s; generated in "
          f"{generating:.1f} s), {report.accepted:,} incidents in {incident_s:.1f} s", flush=True)
    (workdir / ".ingested").write_text(json.dumps(_data_key(args, period)))


def _data_key(args: argparse.Namespace, period: str) -> dict[str, object]:
    return {"customers": args.customers, "days": args.days, "period": period}


def expected_results(workdir: Path) -> int:
    """Results a full-month scoring stores: one per customer of every objective (every
    agreement is in force all month)."""
    from worker.config import load_catalogue
    from worker.scoring.score import contexts

    return sum(len(c.agreement.customers) for c in contexts(load_catalogue(workdir / "config"), []))


def registered_tasks() -> frozenset[str]:
    """The sla.* tasks this checkout defines (a worker imports worker.tasks at start; so do we)."""
    import worker.tasks  # noqa: F401 - registers the tasks
    from worker.celeryapp import app

    return frozenset(name for name in app.tasks if name.startswith("sla."))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1500, help="GP practices (default 1500)")
    parser.add_argument("--days", type=int, default=31, help="days of samples from the period's start (default: all)")
    parser.add_argument("--workers", default="1,2", help="worker process counts to measure, in order (default 1,2)")
    parser.add_argument("--phases", default="score,alerts,reports,scrape", help="default score,alerts,reports,scrape")
    parser.add_argument("--shards", type=int, default=16, help="SLA_SCORING_SHARDS given to the workers (default 16)")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/8", help="its database is flushed")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a phase may take before it is given up")
    parser.add_argument("--workdir", type=Path, help="keep the generated files (and logs, reports) here")
    parser.add_argument("--reuse-db", action="store_true", help="keep the database when --workdir holds the same data")
    args = parser.parse_args()
    args.phases = set(args.phases.split(","))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sla-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    period = benchmark_period(now)
    from worker.scoring.periods import period_bounds

    if now.timestamp() < period_bounds(period, ZONE)[1] + GRACE_S:
        raise SystemExit(f"{period} is not final until {GRACE_S / 3600:.0f} h after it ends: run again later")
    print(f"regional service: {args.customers:,} practices, {SHARED_SERVICES} shared services, period {period} "
          f"({args.days if args.days < 31 else 'all'} days of samples), workdir {workdir}", flush=True)

    marker = workdir / ".ingested"
    reuse = args.reuse_db and marker.exists() and json.loads(marker.read_text()) == _data_key(args, period)
    if reuse:
        print("reusing the database ingested before (--reuse-db)", flush=True)
    else:
        build(args, workdir, period, now)

    import psycopg
    from celery import Celery

    broker = Broker(args.broker_url)
    broker.flush()
    mail = MailCatcher().start()
    app = Celery("scale-bench", broker=args.broker_url)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True)
    tasks = registered_tasks()
    (workdir / "run").mkdir(exist_ok=True)
    with psycopg.connect(database_urls()[1], autocommit=True) as database:
        watch = Watch(broker, database)
        bench = Bench(args, workdir, period, now, practice_ids(args.customers), expected_results(workdir), mail,
                      watch, app, tasks)
        print("scoring by " + ("sla.score_shard × " + str(args.shards) if "sla.score_shard" in tasks else
                               "sla.reconcile (no sla.score_shard task yet)"), flush=True)
        began = time.perf_counter()
        watch.scalar("SELECT sum(length(block))::bigint FROM sample_days")
        print(f"sample blocks read once, untimed, so that every run starts from a warm cache: "
              f"{time.perf_counter() - began:.1f} s", flush=True)
        try:
            for n in [int(x) for x in args.workers.split(",")]:
                bench.run(n)
            if "scrape" in args.phases:
                bench.figures.update(scrape(args, bench))
                f = bench.figures
                print(f"one metrics scrape: median {f['scrape_s']:.2f} s, slowest {f['scrape_max_s']:.2f} s of three "
                      f"({f['scrape_lines']:,} samples, {f['scrape_mb']:.1f} MB before gzip; the server peaked at "
                      f"{f['scrape_peak_mb']:.0f} MB)", flush=True)
        finally:
            mail.stop()
        figures: dict[str, Any] = {key: None for key in REQUIRED}
        figures.update(bench.figures)
        for what in ("score", "reports", "alerts"):
            one, two = figures.get(f"{what}_s_1"), figures.get(f"{what}_s_2")
            if one and two:
                figures[f"speedup_{what}"] = round(one / two, 2)
                print(f"speedup of 2 processes over 1, {what}: {one / two:.2f}")
        figures["peak_mb"] = round(watch.memory.peak_mb(), 1)
        figures["peak_mb_pool"] = round(watch.memory.peak_mb("worker pool"), 1)
        figures["peak_mb_main"] = round(watch.memory.peak_mb("worker main"), 1)
        figures["pg_connections_max"] = watch.most_connections
        figures["db_mb"] = round(watch.scalar("SELECT pg_database_size(current_database())") / 1e6)
        figures["samples_mb"] = round(watch.scalar("SELECT pg_total_relation_size('sample_days')") / 1e6)
        figures["queue_max"] = broker.most_queued
        figures["queue_max_kb"] = round(broker.most_queued_bytes / 1024, 1)
        print(f"peak memory per worker process (VmHWM): pool process {figures['peak_mb_pool']:.0f} MB, main process "
              f"{figures['peak_mb_main']:.0f} MB | most PostgreSQL connections {watch.most_connections} | longest queue "
              f"{broker.most_queued:,} messages ({figures['queue_max_kb']:,.0f} KB)")
        print(f"reports mailed: {mail.messages:,} ({mail.bytes / 1e6:,.1f} MB)")
        print(f"database: {figures['db_mb']:,} MB, of which samples {figures['samples_mb']:,} MB")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

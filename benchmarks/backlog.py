"""Benchmark: a burst of dropped files carrying a day's backlog, worked off by a real worker
(issue 8, "Load").

300 services (the trust of `score_month.py`) send `up` and `latency_ms` every minute; a day of
it (864,000 samples) arrives at once as 200 CSV files dropped into the file-drop folder. A
real Celery worker (`python -m celery -A worker.celeryapp worker`, concurrency 2) works them
off while this script plays beat: it sends the schedule's every-minute and every-five-minute
entries (`schedules/beat.yaml`: collect, deliver_notifications, score_pending) at their
cadence with their expiries, starting at the drop. It prints:

- the time to work off the burst (every file in `done/`; then every change scored) and the
  samples stored per second;
- the peak memory of the worker (main process and pool processes): the highest sum of their
  resident sets, sampled every 0.1 s, and the highest single process peak (`VmHWM`); beside
  it the idle worker's, and the peak until the first quarter of the files were done;
- how late each scheduled job started after it was sent (from the worker's log), how many
  expired in the queue, and the longest collect run.

The worker is started and stopped with the test suite's helpers (`tests/worker/
celery_processes.py`); `tests/faults/test_faults_load.py` runs a smaller burst the same way.

    .venv/bin/python benchmarks/backlog.py                                   # SQLite, embedded broker
    .venv/bin/python benchmarks/backlog.py --engine postgresql --broker-url redis://127.0.0.1:6379/14
    .venv/bin/python benchmarks/backlog.py --services 30 --files 50          # a quick small run

PostgreSQL: a scratch database `sla_bench` is (re)created on SLA_BENCH_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres), as `score_month.py` does; or give
`--database-url` of an empty database. A Redis broker database is purged first.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "worker"))
from celery_processes import drop_config, environment, start, stop, wait_for  # noqa: E402
from score_month import START, _write_minutes, fresh_database, write_config  # noqa: E402

SIGNALS = 2  # score_month's services send `up` and `latency_ms`


# ------------------------------------------------------------------ the burst


def write_burst(folder: Path, services: int, files: int, hours: float, now: datetime) -> int:
    """The last `hours` before `now` for `services` services, one sample per minute and
    signal, cut into `files` CSV files of consecutive minutes (all services in each), written
    into `folder`; returns the samples written. Files are named and dated in time order, and
    dated a minute ago so they are ready to take (files settle for two seconds)."""
    folder.mkdir(parents=True, exist_ok=True)
    last = int((now - START).total_seconds() // 60)
    minutes = np.arange(last - int(hours * 60), last)
    names = [f"svc-{s:03d}" for s in range(services)]
    rng = np.random.default_rng(17)
    old = now.timestamp() - 60
    for index, chunk in enumerate(np.array_split(minutes, files)):
        path = folder / f"burst-{index:04d}.csv"
        _write_minutes(path, names, rng, int(chunk[0]), int(chunk[-1]) + 1)
        os.utime(path, (old + index * 0.01, old + index * 0.01))
    return len(minutes) * services * SIGNALS


def drop_all(staging: Path, incoming: Path) -> int:
    """Rename every staged file into the drop folder at once (a writer's rename: atomic)."""
    incoming.mkdir(parents=True, exist_ok=True)
    staged = sorted(staging.glob("*.csv"))
    for path in staged:
        path.rename(incoming / path.name)
    return len(staged)


# ------------------------------------------------------------------ measuring the worker


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """`pid` and every descendant, from /proc/<pid>/task/*/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(c) for c in children.read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


@dataclass
class MemorySample:
    at_s: float  # monotonic
    tree_kb: int  # sum of VmRSS over the process tree
    process_hwm_kb: int  # highest VmHWM (a process's own peak) in the tree
    progress: int  # what `progress()` said at this instant (e.g. files done)


@dataclass
class TreeMemory:
    """Samples the resident memory of a process and its descendants every `every_s` seconds
    on a background thread, with a progress count (files done) beside each sample."""

    pid: int
    progress: Callable[[], int] = lambda: 0
    every_s: float = 0.1
    samples: list[MemorySample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TreeMemory:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = process_tree(self.pid)
            self.samples.append(
                MemorySample(
                    time.monotonic(),
                    sum(_status_kb(p, "VmRSS") for p in pids),
                    max(_status_kb(p, "VmHWM") for p in pids),
                    self.progress(),
                )
            )
            self._stop.wait(self.every_s)

    def peak_mb(self, up_to_progress: int | None = None) -> tuple[float, float]:
        """(tree peak, single-process peak) in MB, over every sample or over those taken
        while progress was at most `up_to_progress`."""
        chosen = [s for s in self.samples if up_to_progress is None or s.progress <= up_to_progress]
        if not chosen:
            return 0.0, 0.0
        return max(s.tree_kb for s in chosen) / 1024, max(s.process_hwm_kb for s in chosen) / 1024


_LOG_LINE = re.compile(
    r"^\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(?P<ms>\d{3}): \w+/[^\]]+\] Task (?P<name>[\w.]+)\[(?P<id>[0-9a-f-]+)\] "
    r"(?:succeeded in (?P<run_s>[\d.e-]+)s|raised|retry)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class TaskRun:
    task: str
    started_at_s: float  # wall clock, epoch seconds
    run_s: float | None  # None: it failed or was retried (its log line gives no duration)

    @property
    def ended_at_s(self) -> float:
        return self.started_at_s + (self.run_s or 0.0)


def task_runs(log: str) -> dict[str, TaskRun]:
    """task id → run, for every task run the worker logged as finished. The start is the log
    line's time minus the run's duration (Celery stamps its log in local time, to the ms)."""
    runs = {}
    for match in _LOG_LINE.finditer(log):
        ended = time.mktime(time.strptime(match["at"], "%Y-%m-%d %H:%M:%S")) + int(match["ms"]) / 1000
        run_s = float(match["run_s"]) if match["run_s"] else None
        runs[match["id"]] = TaskRun(match["name"], ended - (run_s or 0.0), run_s)
    return runs


def expired_ids(log: str) -> set[str]:
    """Tasks the worker dropped unrun because their expiry passed while they were queued."""
    return set(re.findall(r"\[([0-9a-f-]{36})\] (?:expired|revoked)", log)) | set(
        re.findall(r"Discarding revoked task: [\w.]+\[([0-9a-f-]{36})\]", log)
    )


# ------------------------------------------------------------------ playing beat


@dataclass(frozen=True)
class Repeating:
    task: str
    every_s: float
    expires_s: float | None


def repeating_entries(schedules_dir: Path) -> list[Repeating]:
    """The schedule's entries that run several times an hour, every hour and day (collect,
    deliver_notifications, score_pending), with their cadence and expiry."""
    from worker.schedules import load_schedule

    found = []
    for entry in load_schedule(schedules_dir).values():
        cron = entry["schedule"]
        minutes = sorted(cron.minute)
        steps = {b - a for a, b in zip(minutes, minutes[1:] + [minutes[0] + 60])}
        if len(minutes) > 1 and len(steps) == 1 and len(cron.hour) == 24 and len(cron.day_of_month) == 31:
            found.append(Repeating(entry["task"], 60.0 * steps.pop(), entry["options"].get("expires")))
    return found


@dataclass(frozen=True)
class Sent:
    task: str
    id: str
    at_s: float  # wall clock, epoch seconds


@dataclass
class BurstRun:
    """What one burst run measured: wall-clock times are epoch seconds."""

    dropped_at_s: float
    files_done_at_s: float
    scored_at_s: float
    sent: list[Sent]
    runs: dict[str, TaskRun]  # by task id
    expired: set[str]
    memory: TreeMemory

    def latencies_s(self, task: str, until_s: float | None = None) -> list[float | None]:
        """How long after being sent each run of `task` started (None: expired or never
        ran), for the runs sent before `until_s` (default: until the backlog was scored)."""
        until_s = self.scored_at_s if until_s is None else until_s
        return [
            self.runs[s.id].started_at_s - s.at_s if s.id in self.runs else None
            for s in self.sent
            if s.task == task and s.at_s <= until_s
        ]


def count_files(folder: Path) -> int:
    return sum(1 for _ in folder.glob("*.csv")) if folder.is_dir() else 0


def run_burst(
    env: dict[str, str],
    staging: Path,
    incoming: Path,
    schedule: list[Repeating],
    log: Path,
    *,
    concurrency: int = 2,
    timeout_s: float = 1800.0,
) -> BurstRun:
    """Start a worker, drop every staged file at once, send the `schedule` from that moment
    (as beat would) until the files are in `done/` and every change they made is scored; then
    stop the worker and read its log."""
    from celery import Celery

    from worker.celeryapp import configure
    from worker.settings import load_settings
    from worker.storage.coordination import pending_count
    from worker.storage.engine import make_engine, read_only

    app = configure(Celery("sla-worker-backlog"), load_settings(broker_url=env["SLA_BROKER_URL"]))
    app.control.purge()
    engine = make_engine(env["SLA_DATABASE_URL"])
    files = count_files(staging)
    worker = start("worker", env, log, "--concurrency", str(concurrency))
    sent: list[Sent] = []
    try:
        wait_for(lambda: " ready." in log.read_text(), 120, "the worker to start")
        with TreeMemory(worker.pid, progress=lambda: -1) as memory:
            time.sleep(1.0)  # the idle worker, for comparison: its samples carry progress -1
            memory.progress = lambda: count_files(incoming / "done")
            dropped_at = time.time()
            drop_all(staging, incoming)
            due = {entry: dropped_at for entry in schedule}
            files_done_at = scored_at = None
            while scored_at is None:
                now = time.time()
                if now - dropped_at > timeout_s:
                    raise TimeoutError(f"the burst was not worked off in {timeout_s} s")
                for entry, at in due.items():
                    if now >= at:
                        result = app.send_task(entry.task, expires=entry.expires_s)
                        sent.append(Sent(entry.task, result.id, time.time()))
                        due[entry] = at + entry.every_s
                if files_done_at is None and count_files(incoming / "done") + count_files(incoming / "refused") >= files:
                    files_done_at = time.time()
                if files_done_at is not None:
                    with read_only(engine) as conn:
                        if pending_count(conn) == 0:
                            scored_at = time.time()
                time.sleep(0.1)
            wait_for(lambda: _all_ran_or_expired(sent, log.read_text()), 120, "the jobs sent to run or expire")
    finally:
        stop(worker, signal.SIGKILL)  # the work is done (or the run failed): nothing to wait for
        engine.dispose()
    text = log.read_text()
    return BurstRun(dropped_at, files_done_at, scored_at, sent, task_runs(text), expired_ids(text), memory)


def _all_ran_or_expired(sent: list[Sent], log: str) -> bool:
    done = set(task_runs(log)) | expired_ids(log)
    return all(s.id in done for s in sent)


# ------------------------------------------------------------------ the benchmark


def stored_samples(database_url: str) -> int:
    from worker.storage.engine import make_engine, read_only
    from worker.storage.samples import sample_count

    engine = make_engine(database_url)
    try:
        with read_only(engine) as conn:
            return sample_count(conn)
    finally:
        engine.dispose()


def prepare_database(workdir: Path, engine_name: str, database_url: str | None) -> str:
    """A fresh database (score_month's scratch databases), or the given one, migrated; it
    must hold no samples, so that the count after the run checks "stored exactly once"."""
    from worker.storage.migrate import upgrade

    url = database_url or fresh_database(engine_name, workdir)
    upgrade(url)
    if stored_samples(url):
        raise SystemExit(f"{url}: the database already holds samples; give an empty one")
    return url


def describe_latency(task: str, latencies: list[float | None]) -> str:
    ran = [x for x in latencies if x is not None]
    if not latencies:
        return f"{task}: none sent"
    worst = f"{max(ran):.1f} s" if ran else "-"
    middle = f"{float(np.median(ran)):.1f} s" if ran else "-"
    return f"{task}: {len(latencies)} sent, started after median {middle}, at worst {worst}, {len(latencies) - len(ran)} expired"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help="an empty database to use instead of a fresh scratch one")
    parser.add_argument("--broker-url", help="default: an embedded SQLite broker file in the workdir")
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep the data and logs here (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sla-backlog-"))
    for stale in ("incoming", "staging"):  # from an earlier run in the same --workdir
        shutil.rmtree(workdir / stale, ignore_errors=True)
    for stale in ("broker.sqlite", "worker.log"):
        (workdir / stale).unlink(missing_ok=True)
    print(f"generating {args.services} services × {args.hours:g} h × {SIGNALS} signals in {args.files} files in {workdir} …")
    write_config(workdir / "config-template", args.services)
    incoming = workdir / "incoming"
    config = drop_config(workdir / "config-template", workdir / "config", incoming)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    expected = write_burst(workdir / "staging", args.services, args.files, args.hours, now)
    database_url = prepare_database(workdir, args.engine, args.database_url)
    broker_url = args.broker_url or f"sqla+sqlite:///{workdir / 'broker.sqlite'}"
    env = environment(config, database_url, broker_url)
    schedule = repeating_entries(ROOT / "schedules")
    print("playing beat: " + ", ".join(f"{e.task} every {e.every_s:g} s" for e in schedule), flush=True)
    run = run_burst(env, workdir / "staging", incoming, schedule, workdir / "worker.log", concurrency=args.concurrency)

    stored = stored_samples(database_url)
    files_s, scored_s = run.files_done_at_s - run.dropped_at_s, run.scored_at_s - run.dropped_at_s
    tree, single = run.memory.peak_mb()
    idle_tree, idle_single = run.memory.peak_mb(up_to_progress=-1)
    early_tree, early_single = run.memory.peak_mb(up_to_progress=args.files // 4)
    engine_name = database_url.split(":", 1)[0].split("+")[0]
    print(f"{engine_name}, broker {broker_url.split(':', 1)[0]}, worker concurrency {args.concurrency}:")
    print(f"  burst: {args.files} files, {expected:,} samples; stored {stored:,} ({'exactly once' if stored == expected else 'MISMATCH'})")
    print(f"  files worked off in {files_s:.1f} s = {expected / files_s:,.0f} samples/s; every change scored after {scored_s:.1f} s")
    print(f"  peak memory of the worker (main + pool processes together / largest process): {tree:,.0f} MB / {single:,.0f} MB")
    print(f"    idle before the drop {idle_tree:,.0f} / {idle_single:,.0f} MB; "
          f"until {args.files // 4} files were done {early_tree:,.0f} / {early_single:,.0f} MB")
    print("  scheduled jobs sent until every change was scored:")
    for task in sorted({e.task for e in schedule}):
        print("    " + describe_latency(task, run.latencies_s(task)))
    collects = [r.run_s or 0.0 for r in run.runs.values() if r.task == "sla.collect"]
    print(f"  collect runs: {len(collects)}, the longest {max(collects):.1f} s")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if stored == expected else 1


if __name__ == "__main__":
    sys.exit(main())

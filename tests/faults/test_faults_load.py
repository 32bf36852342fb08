"""Load (issue 8): a burst of dropped files carrying a day's backlog is worked off by a real
Celery worker exactly once, in bounded memory, while the scheduled jobs keep running — a
smaller but real version of `benchmarks/backlog.py`, whose pieces it uses. And the two
devices that make it so: one file-drop run at a time per folder (a lock the kernel releases
when its holder dies) and a time budget per run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from worker.collect import FILE_BUDGET_S, collect, describe
from worker.config import load_catalogue
from worker.domain.model import Catalogue
from worker.sources.file_drop import LOCK_NAME, folder_lock
from worker.storage.engine import make_engine, read_only
from worker.storage.migrate import upgrade
from worker.storage.tables import ingested_files, watermarks

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT / "tests" / "worker", ROOT / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
from backlog import Repeating, count_files, run_burst, stored_samples, write_burst  # noqa: E402
from celery_processes import drop_config, environment  # noqa: E402
from score_month import write_config  # noqa: E402

SERVICES, FILES = 50, 200  # the day's backlog: 144,000 samples
# Measured (docs/performance.md): the worker (main process and two pool processes) peaks at
# about 390 MB in all on this load, 250 MB idle; one process at about 145 MB. The first 50
# files take it to about 350 MB: what follows (more files, the scoring and alert runs they
# cause) adds about 40 MB, whatever the length of the backlog.
PEAK_TREE_MB, PEAK_PROCESS_MB, GROWTH_MB = 500, 200, 80
# Measured: at most 8 s on a quiet machine (SQLite, whose one writer at a time is the worst).
# Before the one-run-per-folder lock and the time budget, runs waited 23-32 s or expired
# (50 s): the bound sits between, under the expiry, leaving room for a loaded machine.
STARTED_WITHIN_S = 30.0
SKIPPED_WITHIN_S = 5.0  # a collect that finds the folder held returns at once (measured: 1 ms)


def burst_config(tmp_path: Path, services: int) -> tuple[Path, Path]:
    """The benchmark's trust (score_month.py) for `services` services, its drop folder in
    tmp_path; returns (configuration folder, drop folder)."""
    write_config(tmp_path / "config-template", services)
    incoming = tmp_path / "incoming"
    return drop_config(tmp_path / "config-template", tmp_path / "config", incoming), incoming


@pytest.mark.timeout(150)
def test_a_burst_of_200_files_is_stored_once_in_bounded_memory_while_scheduled_jobs_still_start(
    tmp_path: Path, database_url: str
):
    upgrade(database_url)
    config, incoming = burst_config(tmp_path, SERVICES)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    expected = write_burst(tmp_path / "staging", SERVICES, FILES, 24, now)
    env = environment(config, database_url, f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
    # Beat, sped up: every two seconds the collect and notification runs it sends every minute.
    schedule = [Repeating("sla.collect", 2.0, 50.0), Repeating("sla.deliver_notifications", 2.0, 50.0)]

    run = run_burst(env, tmp_path / "staging", incoming, schedule, tmp_path / "worker.log", timeout_s=120)

    assert count_files(incoming / "done") == FILES and not count_files(incoming) and not (incoming / "refused").exists()
    assert stored_samples(database_url) == expected == SERVICES * 24 * 60 * 2
    engine = make_engine(database_url)
    try:
        with read_only(engine) as conn:
            assert conn.execute(select(func.count()).select_from(ingested_files)).scalar_one() == FILES
            assert conn.execute(select(func.sum(watermarks.c.samples_stored))).scalar_one() == expected
    finally:
        engine.dispose()

    tree_mb, process_mb = run.memory.peak_mb()
    early_tree_mb, _ = run.memory.peak_mb(up_to_progress=50)
    assert tree_mb < PEAK_TREE_MB and process_mb < PEAK_PROCESS_MB, (tree_mb, process_mb)
    assert tree_mb - early_tree_mb < GROWTH_MB, (early_tree_mb, tree_mb)

    waits = run.latencies_s("sla.deliver_notifications", until_s=run.files_done_at_s)
    # How many runs beat sends while the files are worked off depends on how fast this machine
    # is today; what must hold is that every one of them started in time and none expired.
    assert waits and None not in waits, waits
    assert max(waits) < STARTED_WITHIN_S, waits

    collects = [r for r in run.runs.values() if r.task == "sla.collect"]
    assert None not in [r.run_s for r in collects], "a collect run failed"
    assert max(r.run_s for r in collects) < FILE_BUDGET_S + 10, "a collect run held its worker process past its budget"
    # A run that starts while another is busy finds the folder held and returns at once. (A
    # follow-up run may start as the run that queued it, the folder already let go, returns:
    # hence the second's grace.) Whether runs overlap at all depends on how busy the machine is;
    # the lock itself is proven below, deterministically.
    overlapping = [r for r in collects if any(o.started_at_s < r.started_at_s < o.ended_at_s - 1.0 for o in collects)]
    assert all(r.run_s < SKIPPED_WITHIN_S for r in overlapping), "two runs worked the folder at once"


# --- the devices, in process -------------------------------------------------------------------


@pytest.fixture
def small_burst(tmp_path: Path) -> tuple[Catalogue, Path]:
    """Three ready files of three services (no agreements: nothing is scored here) in the
    drop folder."""
    incoming = tmp_path / "incoming"
    services = "".join(
        f"  - {{id: svc-{s:03d}, name: S{s}, signals: {{up: {{source: drop}}, latency_ms: {{source: drop}}}}}}\n"
        for s in range(3)
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trust.yaml").write_text(
        f"sources:\n  - {{id: drop, kind: file_drop, path: \"{incoming}\"}}\nservices:\n{services}"
    )
    write_burst(incoming, 3, 3, 1, datetime.now(timezone.utc))
    return load_catalogue(tmp_path / "config"), incoming


def wall() -> datetime:
    return datetime.now(timezone.utc)


def test_a_file_drop_run_stops_at_its_time_budget_and_leaves_the_rest_for_the_next_run(
    engine: Engine, small_burst: tuple[Catalogue, Path]
):
    catalogue, incoming = small_burst
    left = []
    for _ in range(3):
        [report] = collect(engine, catalogue, wall(), file_budget_s=0.0)  # at least one file per run
        left.append((len(report.files), report.left))
    assert left == [(1, 2), (1, 1), (1, 0)]
    assert count_files(incoming / "done") == 3
    [report] = collect(engine, catalogue, wall(), file_budget_s=0.0)
    assert report.files == [] and report.left == 0


def test_a_run_skips_a_folder_another_run_holds_and_takes_it_once_released(
    engine: Engine, small_burst: tuple[Catalogue, Path]
):
    catalogue, incoming = small_burst
    with folder_lock(incoming) as held:
        assert held
        [report] = collect(engine, catalogue, wall())
        assert report.skipped and report.files == [] and count_files(incoming) == 3
        assert describe([report]) == ["drop: skipped: another worker is collecting this source"]
    [report] = collect(engine, catalogue, wall())
    assert not report.skipped and len(report.files) == 3 and count_files(incoming / "done") == 3


def test_the_folder_lock_of_a_killed_process_is_free_at_once(engine: Engine, small_burst: tuple[Catalogue, Path]):
    catalogue, incoming = small_burst
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom worker.sources.file_drop import folder_lock\n"
        "with folder_lock(Path(sys.argv[1])) as held:\n    print(held, flush=True)\n    time.sleep(600)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code, str(incoming)], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout.readline().strip() == "True"
            [report] = collect(engine, catalogue, wall())
            assert report.skipped
        finally:
            os.kill(holder.pid, signal.SIGKILL)
    [report] = collect(engine, catalogue, wall())  # at once: no expiry to wait for
    assert not report.skipped and count_files(incoming / "done") == 3
    assert (incoming / LOCK_NAME).exists() and count_files(incoming) == 0

"""`sla-worker run` started outside the checkout runs the schedule installed with the package:
a CSV dropped into its folder is ingested and scored with no SLA_SCHEDULES_DIR set. A schedule
with no entry, or a folder that does not exist, is refused (exit 2). Ctrl-C (SIGINT) and
SIGTERM stop it with exit 0."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_helpers import ROOT, environment, plain, sla_worker

sys.path.insert(0, str(ROOT / "tests" / "worker"))
from celery_processes import drop_config, wait_for  # noqa: E402

from worker.settings import PACKAGED_SCHEDULES_DIR  # noqa: E402

CASE = ROOT / "tests" / "golden" / "trust-2026-10"
pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_run(cwd: Path, log: Path, **settings: str) -> subprocess.Popen:
    env = environment(SLA_METRICS_ADDR=f"127.0.0.1:{free_port()}", SLA_WORKER_CONCURRENCY="1", **settings)
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "worker.cli", "run"], env=env, cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(run: subprocess.Popen, sig: int) -> int:
    """Send `sig` to the run process alone (as `kill` or a service manager does); its exit status."""
    run.send_signal(sig)
    try:
        return run.wait(90)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(10)
        raise


def test_a_worker_started_outside_the_checkout_runs_the_packaged_schedule_and_scores_a_dropped_file(tmp_path: Path):
    drop = tmp_path / "incoming"
    config = drop_config(CASE / "config", tmp_path / "config", drop)
    log = tmp_path / "run.log"
    run = start_run(tmp_path, log, SLA_CONFIG_DIR=str(config))  # no SLA_SCHEDULES_DIR, no SLA_DATABASE_URL
    try:
        wait_for(lambda: "ready" in log.read_text(), 90, "the worker to start")
        text = log.read_text()
        entries = len(yaml.safe_load((PACKAGED_SCHEDULES_DIR / "beat.yaml").read_text()))
        assert entries >= 8 and f"schedule  {entries} entries from {PACKAGED_SCHEDULES_DIR}" in text
        shutil.copy(CASE / "samples.csv", tmp_path / "samples.csv.part")
        (tmp_path / "samples.csv.part").rename(drop / "samples.csv")
        # beat's `collect` entry runs every minute; nothing here sends a task by hand
        wait_for(lambda: (drop / "done" / "samples.csv").exists(), 180, "beat's collect to take the file")

        def scored() -> list[dict]:
            done = sla_worker(tmp_path, "results", "--period", "2026-10", "--format", "json", SLA_CONFIG_DIR=str(config))
            assert done.returncode == 0, done.stderr
            return [r for r in json.loads(done.stdout) if r["value"] is not None]

        wait_for(scored, 120, "results of the dropped samples")
    finally:
        status = stop(run, signal.SIGTERM)
    assert status == 0, log.read_text()[-2000:]
    assert (tmp_path / "var" / "sla.sqlite").is_file()  # relative to where it was started


def test_ctrl_c_stops_run_with_exit_0_and_no_traceback(tmp_path: Path):
    log = tmp_path / "run.log"
    run = start_run(tmp_path, log)
    try:
        wait_for(lambda: "ready" in log.read_text(), 90, "the worker to start")
    finally:
        os.killpg(run.pid, signal.SIGINT)  # the terminal sends Ctrl-C to the whole group
        status = run.wait(90)
    assert status == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("schedules", ["empty", "missing"])
def test_a_beat_without_a_schedule_entry_is_refused_naming_sla_schedules_dir(tmp_path: Path, schedules: str):
    folder = tmp_path / "schedules"
    if schedules == "empty":
        folder.mkdir()
        (folder / "beat.yaml").write_text("# nothing scheduled\n")

    done = sla_worker(tmp_path, "run", SLA_SCHEDULES_DIR=str(folder))

    assert done.returncode == 2
    lines = plain(done)
    assert len(lines) == 1 and "SLA_SCHEDULES_DIR" in lines[0]


def test_celery_beat_with_an_empty_schedule_exits_2(tmp_path: Path):
    folder = tmp_path / "schedules"
    folder.mkdir()
    env = environment(SLA_SCHEDULES_DIR=str(folder), SLA_DATABASE_URL=f"sqlite:///{tmp_path / 'sla.sqlite'}",
                      SLA_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
    done = subprocess.run([sys.executable, "-m", "celery", "-A", "worker.celeryapp", "beat", "--schedule", str(tmp_path / "s")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "SLA_SCHEDULES_DIR" in done.stderr + done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_stopped_with_ctrl_c_does_not_end_in_an_error(tmp_path: Path):
    import pty
    import select
    import time

    env = environment(SLA_DATABASE_URL=f"sqlite:///{tmp_path / 'sla.sqlite'}", SLA_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'b.sqlite'}",
                      SLA_METRICS_ADDR=f"127.0.0.1:{free_port()}", SLA_WORKER_CONCURRENCY="1")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: `make run` on a terminal, as a person types it
        os.chdir(ROOT)
        os.execvpe("make", ["make", "run"], env)
    seen = b""

    def read_for(seconds: float) -> None:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if select.select([terminal], [], [], 0.2)[0]:
                try:
                    seen += os.read(terminal, 65536)
                except OSError:
                    return

    deadline = time.monotonic() + 240
    while b"ready" not in seen and time.monotonic() < deadline:
        read_for(1)
    os.write(terminal, b"\x03")  # Ctrl-C: the terminal signals the foreground group
    read_for(30)
    os.waitpid(pid, 0)
    text = seen.decode(errors="replace")
    assert "ready" in text
    # make reports a recipe that failed ("*** [Makefile:…: run] Error 1", or "Interrupt" when
    # the recipe exits non-zero after Ctrl-C); a clean stop says nothing
    assert "make: ***" not in text and "Traceback" not in text, text[-2000:]

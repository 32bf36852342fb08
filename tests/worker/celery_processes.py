"""Real Celery worker and beat processes for tests: started as subprocesses (never eager
mode), each in its own process group so a test can SIGKILL the whole worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]


def drop_config(source: Path, target: Path, drop_folder: Path) -> Path:
    """A copy of a configuration directory whose file-drop source reads `drop_folder`."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        for entry in data.get("sources", []):
            if entry.get("kind") == "file_drop":
                entry["path"] = str(drop_folder)
        (target / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def environment(config: Path, database_url: str, broker_url: str, schedules: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env.update(
        SLA_CONFIG_DIR=str(config),
        SLA_DATABASE_URL=database_url,
        SLA_BROKER_URL=broker_url,
        SLA_SCHEDULES_DIR=str(schedules or ROOT / "schedules"),
        C_FORCE_ROOT="1",
    )
    return env


def start(role: str, env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen:
    prepare_broker(env["SLA_BROKER_URL"])
    command = [sys.executable, "-m", "celery", "-A", "worker.celeryapp", role, "--loglevel", "INFO", *extra]
    handle = log.open("ab")
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, wait_s: float = 30) -> None:
    """SIGKILL the whole process group at once; any other signal goes to the main process alone,
    as Celery asks (it stops its own pool: the same SIGTERM sent to the pool's children too now
    and then left a prefork worker hung in its warm shutdown until `wait_s` ran out). What is
    left of the group once the main process has exited, or after `wait_s`, is SIGKILLed."""
    try:
        if sig == signal.SIGKILL:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        process.wait(wait_s)
    except ProcessLookupError:  # stopped before
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)


READY = re.compile(r"@\S+ ready\.")


def is_ready(log: Path) -> bool:
    """The worker writing `log` said "<name>@<host> ready." (an error saying "table … already
    exists" says nothing of the kind)."""
    return log.exists() and READY.search(log.read_text()) is not None


def prepare_broker(broker_url: str) -> None:
    """Make the embedded (SQLAlchemy) broker's tables and its task queue's row before a worker
    starts (`start` does): each process creates them on first use, and two doing so at the same
    moment crash one of them ("UNIQUE constraint failed: kombu_queue.name"), two workers starting
    or a worker starting while a task is sent to it. `sla-worker run` connects once before it
    starts anything, so it never races itself."""
    if broker_url.startswith("sqla+"):
        app = Celery("prepare", broker=broker_url)
        with app.connection_for_write() as connection:
            connection.default_channel.queue_declare(queue=app.conf.task_default_queue)  # tables, then the row


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.2) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def send(env: dict[str, str], task: str) -> None:
    """Publish a task by name from a separate process, as beat or another worker would."""
    code = f"from worker.celeryapp import app; app.send_task({task!r})"
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=60)


class FastBeat(threading.Thread):
    """Beat, faster: sends `tasks` every `every_s`, with an expiry (as beat.yaml does every
    minute), from the test process through the real broker; keeps sending while the worker is
    dead."""

    def __init__(self, broker_url: str, tasks: tuple[str, ...], every_s: float = 2.0, expires_s: float | None = None):
        super().__init__(daemon=True)
        self.tasks = tasks
        self.app = Celery("kill-test-beat", broker=broker_url)
        self.app.conf.update(task_serializer="json", accept_content=["json"])
        self.every_s, self.stopping = every_s, threading.Event()
        self.expires_s = 4 * every_s if expires_s is None else expires_s

    def run(self) -> None:
        while not self.stopping.is_set():
            for task in self.tasks:
                self.app.send_task(task, expires=self.expires_s)
            self.stopping.wait(self.every_s)

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)

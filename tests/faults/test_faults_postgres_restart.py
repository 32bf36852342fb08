"""PostgreSQL crashes and comes back while a worker is ingesting (issue 8): the same worker
process (never restarted by hand) retries, its pool reconnects, and the work ends with
exactly the input stored and the golden results — nothing lost, nothing counted twice.

The server is a private PostgreSQL cluster made by this test (initdb on a free port), so it
can be stopped with `pg_ctl -m immediate` (a crash: no shutdown checkpoint, recovery at the
next start) without touching the machine's own server."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS / "worker") not in sys.path:
    sys.path.insert(0, str(TESTS / "worker"))

from celery_processes import FastBeat, drop_config, environment, start, stop, wait_for  # noqa: E402
from test_worker_flow import CASE, matches_golden, results_json, stored_counts  # noqa: E402

from worker.storage.migrate import upgrade  # noqa: E402

pytestmark = pytest.mark.timeout(240)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:`port`, run as the `postgres` user when
    the tests run as root (the server refuses to run as root)."""

    def __init__(self, bin_dir: Path, port: int):
        self.bin, self.port = bin_dir, port
        self.root = Path(tempfile.mkdtemp(prefix="sla-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def crash(self) -> None:
        """Stop at once, as a crash would: clients lose their connections mid-transaction."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        try:
            self.crash()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres():
    bin_dir = postgres_bin()
    if bin_dir is None:
        if os.environ.get("SLA_TEST_REQUIRE_SERVERS"):
            pytest.fail("SLA_TEST_REQUIRE_SERVERS is set but PostgreSQL's initdb is not installed")
        pytest.skip("PostgreSQL's initdb is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = PrivatePostgres(bin_dir, port)
    server.create()
    try:
        yield server
    finally:
        server.remove()


def test_postgres_crashing_mid_ingest_delays_the_work_but_the_same_worker_finishes_it_exactly_once(private_postgres, tmp_path):
    upgrade(private_postgres.url)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    config = drop_config(CASE / "config", tmp_path / "config", incoming)
    broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    env = environment(config, private_postgres.url, broker_url)
    log = tmp_path / "worker.log"
    header, *rows = (CASE / "samples.csv").read_bytes().splitlines(keepends=True)
    big = tmp_path / "samples.csv"
    big.write_bytes(header + b"".join(rows) * 4)  # the same rows four times: a long ingest
    now = time.time()
    for age, name in ((30, "incidents.csv"), (20, "maintenance.csv")):
        shutil.copy(CASE / name, incoming / name)
        os.utime(incoming / name, (now - age, now - age))
    big.rename(incoming / "samples.csv")
    os.utime(incoming / "samples.csv", (now - 10, now - 10))
    worker = start("worker", env, log, "--concurrency", "1")
    beat = FastBeat(broker_url, ("sla.collect", "sla.score_pending"), every_s=3.0)
    try:
        wait_for(lambda: "ready" in log.read_text(), 60, "the worker to start")
        beat.start()
        wait_for(lambda: "maintenance.csv accepted" in log.read_text(), 60, "the small files to be taken", poll_s=0.05)
        time.sleep(0.5)  # inside the large samples file
        private_postgres.crash()
        assert (incoming / "samples.csv").exists(), "the crash came after the samples were committed: nothing was proven"
        time.sleep(3)  # down for a while: the worker's calls fail
        private_postgres.start()
        wait_for(lambda: (incoming / "done" / "samples.csv").exists(), 120, "the samples file to be taken again")
        wait_for(lambda: matches_golden(results_json(env)), 120, "results equal to the golden case")
        assert worker.poll() is None, "the worker died: it was meant to carry on by itself"
    finally:
        beat.stop()
        stop(worker, signal.SIGTERM)
    text = log.read_text()
    assert "OperationalError" in text or "server closed the connection" in text, "the crash did not reach the worker"
    assert stored_counts(private_postgres.url) == (251_064, 3)

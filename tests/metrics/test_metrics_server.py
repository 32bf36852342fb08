"""The HTTP endpoint: a real server on loopback, in-process and through `sla-worker metrics serve`."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.domain.errors import ConfigError
from worker.metrics.exposition import CONTENT_TYPE
from worker.metrics.server import MetricsServer, make_registry, parse_addr
from worker.storage.engine import make_engine
from worker.storage.task_durations import record_duration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "golden" / "trust-2026-10" / "config"
NOW = datetime(2026, 10, 20, 12, tzinfo=timezone.utc)


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def server(engine: Engine):
    catalogue = load_catalogue(CONFIG)
    with engine.begin() as conn:
        record_duration(conn, "sla.collect", 0.3)
    endpoint = MetricsServer("127.0.0.1:0", make_registry(engine, lambda: catalogue, lambda: NOW).collect).start()
    try:
        yield endpoint
    finally:
        endpoint.close()


@pytest.mark.parametrize(
    ("addr", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("0.0.0.0:80", ("0.0.0.0", 80)), ("[::1]:9464", ("::1", 9464)), (":9464", ("0.0.0.0", 9464))],
)
def test_metrics_addresses_are_host_and_port(addr, expected):
    assert parse_addr(addr) == expected


@pytest.mark.parametrize("addr", ["9464", "localhost", "127.0.0.1:http", "127.0.0.1:70000"])
def test_a_metrics_address_without_a_usable_port_is_refused_naming_the_variable(addr):
    with pytest.raises(ConfigError, match="SLA_METRICS_ADDR"):
        parse_addr(addr)


def test_the_endpoint_serves_the_text_format_plain_and_gzipped(server: MetricsServer):
    status, headers, body = get(server.url)
    assert status == 200 and headers["Content-Type"] == CONTENT_TYPE
    assert b"# TYPE sla_task_duration_seconds histogram" in body
    assert b'sla_task_duration_seconds_count{task="sla.collect"} 1.0' in body
    status, headers, zipped = get(server.url, **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped) == body


def test_the_endpoint_serves_only_metrics_and_an_index(server: MetricsServer):
    assert get(server.url.replace("/metrics", "/"))[0] == 200
    assert get(server.url.replace("/metrics", "/admin"))[0] == 404
    request = urllib.request.Request(server.url, data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


def test_a_scrape_that_cannot_read_the_database_answers_503(tmp_path: Path):
    broken = make_engine(f"sqlite:///{tmp_path / 'never-migrated.sqlite'}")
    catalogue = load_catalogue(CONFIG)
    endpoint = MetricsServer("127.0.0.1:0", make_registry(broken, lambda: catalogue, lambda: NOW).collect).start()
    try:
        status, _, body = get(endpoint.url)
    finally:
        endpoint.close()
        broken.dispose()
    assert status == 503 and b"metrics unavailable" in body


def test_the_endpoint_binds_to_loopback_by_default():
    from worker.settings import Settings

    assert Settings.model_fields["metrics_addr"].default == "127.0.0.1:9464"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli_env(database_url: str, addr: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env.update(SLA_CONFIG_DIR=str(CONFIG), SLA_DATABASE_URL=database_url, SLA_METRICS_ADDR=addr)
    return env


def test_sla_worker_metrics_serve_serves_the_database_at_sla_metrics_addr(engine: Engine, database_url: str, tmp_path: Path):
    with engine.begin() as conn:
        record_duration(conn, "sla.reconcile", 2.0)
    addr = f"127.0.0.1:{free_port()}"
    log = tmp_path / "metrics.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "metrics", "serve"], env=cli_env(database_url, addr), cwd=tmp_path,
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while f"serving http://{addr}/metrics" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        status, _, body = get(f"http://{addr}/metrics")
        assert status == 200 and b'sla_task_duration_seconds_count{task="sla.reconcile"} 1.0' in body
        assert "password" not in log.read_text()
    finally:
        process.terminate()
        process.wait(10)


def test_sla_worker_metrics_serve_says_so_when_the_address_is_taken(engine: Engine, database_url: str, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "worker.cli", "metrics", "serve"], env=cli_env(database_url, addr), cwd=tmp_path,
            capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 2
    assert f"cannot listen on {addr} (SLA_METRICS_ADDR)" in done.stderr

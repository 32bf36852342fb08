"""The http_probe source against real HTTP and HTTPS servers on loopback that answer well,
slowly, wrongly, with a certificate nobody trusts, and not at all."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from loopback import closed_port
from source_servers import ProbeTargets, self_signed_certificate, stored_samples, write_config
from sqlalchemy import Engine

from worker.collect import collect
from worker.config import load_catalogue
from worker.storage.engine import read_only
from worker.storage.watermarks import list_watermarks


def service(id_: str, url: str, *, timeout: str = "2s", contains: str | None = None, status: int | None = None,
            signals: str = "{up: {source: probes}, latency_ms: {source: probes}}") -> str:
    probe = f'url: "{url}", timeout: {timeout}'
    if contains:
        probe += f", contains: {contains!r}"
    if status:
        probe += f", expect_status: {status}"
    return f"  - {{id: {id_}, name: {id_}, probe: {{{probe}}}, signals: {signals}}}\n"


@pytest.fixture(scope="module")
def targets():
    with ProbeTargets() as server:
        yield server


@pytest.fixture(scope="module")
def tls_targets(tmp_path_factory: pytest.TempPathFactory):
    with ProbeTargets(tls=self_signed_certificate(tmp_path_factory.mktemp("tls"))) as server:
        yield server


def test_probes_store_up_and_latency_for_every_way_a_service_can_fail(
    engine: Engine, tmp_path: Path, targets: ProbeTargets, tls_targets: ProbeTargets
):
    services = "".join(
        [
            service("ok", targets.url("/ok"), contains="All systems OK"),
            service("slowish", targets.url("/slow/0.3")),
            service("slow", targets.url("/slow/5"), timeout="1s"),
            service("wrong", targets.url("/status/503")),
            service("redirect", targets.url("/status/302")),
            service("moved", targets.url("/status/302"), status=302),
            service("text", targets.url("/maintenance"), contains="All systems OK"),
            service("tls", tls_targets.url("/ok")),
            service("refused", f"http://127.0.0.1:{closed_port()}/ok"),
            service("uponly", targets.url("/ok"), signals="{up: {source: probes}}"),
        ]
    )
    catalogue = load_catalogue(
        write_config(tmp_path / "config", f"sources:\n  - {{id: probes, kind: http_probe, interval: 60s}}\nservices:\n{services}")
    )
    now = datetime(2026, 10, 1, 9, 0, 30, tzinfo=timezone.utc)
    slot_ms = int(datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc).timestamp() * 1000)
    [report] = collect(engine, catalogue, now)  # concurrency: the three-hundred-probe test below

    got = stored_samples(engine)
    up = {svc: values[0][1] for (svc, signal), values in got.items() if signal == "up"}
    assert up == {
        "ok": 1.0, "slowish": 1.0, "moved": 1.0, "uponly": 1.0,
        "slow": 0.0, "wrong": 0.0, "redirect": 0.0, "text": 0.0, "tls": 0.0, "refused": 0.0,
    }
    assert all(values == [(slot_ms, values[0][1])] for values in got.values()), "one sample per stream, at the slot"
    latency = {svc: values[0][1] for (svc, signal), values in got.items() if signal == "latency_ms"}
    # Measured whenever an answer came (whatever its status) and on a timeout (the time waited);
    # not when no connection was made (refused, TLS), nor for a signal the service does not take.
    assert set(latency) == {"ok", "slowish", "slow", "wrong", "redirect", "moved", "text"}
    assert 300 <= latency["slowish"] < 1500 and 1000 <= latency["slow"] < 2500 and latency["ok"] < 1000

    details = {s.stream: s.detail for s in report.streams if s.detail}
    assert details["slow/up"] == "down: no answer within 1 s"
    assert details["wrong/up"] == "down: status 503, expected 200"
    assert details["text/up"] == "down: the page does not contain 'All systems OK'"
    assert details["tls/up"].startswith("down: TLS error") and "CERTIFICATE_VERIFY_FAILED" in details["tls/up"]
    assert details["refused/up"].startswith("down: cannot connect")
    with read_only(engine) as conn:
        marks = {m.stream: m for m in list_watermarks(conn, "probes")}
    assert marks["ok/up"].position == "2026-10-01T09:01:00Z" and marks["ok/up"].samples_stored == 1
    assert marks["refused/latency_ms"].samples_stored == 0 and marks["refused/latency_ms"].failures_in_row == 0


def test_a_service_is_probed_once_per_interval(engine: Engine, tmp_path: Path, targets: ProbeTargets):
    catalogue = load_catalogue(
        write_config(
            tmp_path / "config",
            "sources:\n  - {id: probes, kind: http_probe, interval: 5m}\nservices:\n" + service("ok", targets.url("/ok")),
        )
    )
    start = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
    asked = targets.requests
    collect(engine, catalogue, start + timedelta(seconds=10))
    collect(engine, catalogue, start + timedelta(minutes=1))  # same 5-minute slot: not due
    collect(engine, catalogue, start + timedelta(minutes=4, seconds=59))
    assert targets.requests - asked == 1
    collect(engine, catalogue, start + timedelta(minutes=5))
    assert targets.requests - asked == 2
    at = [t for t, _ in stored_samples(engine)[("ok", "up")]]
    assert np.diff(at).tolist() == [300_000]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # about the probes, not the database
def test_three_hundred_probes_finish_well_inside_a_minute(engine: Engine, tmp_path: Path, targets: ProbeTargets):
    """100 answer, 100 hang until their 2 s timeout, 100 answer after 0.3 s: one at a time
    that is over four minutes; with the default concurrency a few seconds (the bound leaves
    room for a busy CI machine, where a 0.3 s answer must still beat a 2 s timeout)."""
    services = "".join(
        service(f"svc{i:03d}", targets.url(["/ok", "/hang", "/slow/0.3"][i % 3]), timeout="2s") for i in range(300)
    )
    catalogue = load_catalogue(
        write_config(tmp_path / "config", f"sources:\n  - {{id: probes, kind: http_probe}}\nservices:\n{services}")
    )
    started = time.monotonic()
    [report] = collect(engine, catalogue, datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc))
    elapsed = time.monotonic() - started
    assert elapsed < 30
    up = {k[0]: v[0][1] for k, v in stored_samples(engine).items() if k[1] == "up"}
    assert len(up) == 300 and sum(up.values()) == 200
    assert len(report.streams) == 600 and not report.failed

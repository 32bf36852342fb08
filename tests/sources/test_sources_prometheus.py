"""The prometheus source against a real Prometheus (Debian's `prometheus` package) on a free
loopback port, behind basic auth, its TSDB filled with three days of 15-second data by
`promtool tsdb create-blocks-from openmetrics`.

Without the binaries these tests are skipped (the reason is printed at the end of the run);
with SLA_TEST_REQUIRE_PROMETHEUS set (CI) a missing binary is a failure.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from loopback import closed_port
from source_servers import (
    Prometheus,
    prometheus_binaries,
    require_prometheus_env,
    stored_samples,
    write_config,
)
from sqlalchemy import Engine

from worker.collect import collect
from worker.config import load_catalogue
from worker.domain.model import Catalogue
from worker.sources import prometheus as prometheus_source
from worker.storage.coordination import claim_changes
from worker.storage.engine import read_only
from worker.storage.watermarks import list_watermarks

STEP_S = 15
DAY_S = 86_400
PASSWORD = "prom-test-password"
PASSWORD_ENV = "SLA_TEST_PROM_PASSWORD"
# bcrypt of PASSWORD (Prometheus' --web.config.file wants a hash, not the password).
WEB_CONFIG = "basic_auth_users:\n  sla: $2b$04$MTJjqeu8hty87kPr12i.PONZfC.6Uag3k8W30H57yOKK4o4wVEdO2\n"
# Three days of data ending an hour before the test runs, on the 15 s grid.
END_S = int(time.time()) // 3600 * 3600 - 3600
START_S = END_S - 3 * DAY_S
GRID = range(START_S, END_S + 1, STEP_S)


def epr_up(t: int) -> float:
    return 0.0 if (t // 60) % 97 == 0 else 1.0


def epr_login_seconds(t: int) -> float:
    return float(f"{0.2 + ((t // STEP_S) % 40) * 0.01:.2f}")


def pacs_up_raw(t: int) -> float:
    """Mostly 1, sometimes the impossible 2 or 0.5 (an `up` query that does not give 0/1)."""
    n = (t - START_S) // STEP_S
    return 2.0 if n % 100 == 0 else 0.5 if n % 100 == 50 else 1.0


def openmetrics() -> str:
    lines = []
    for name, series, values in (
        ("probe_success", 'probe_success{service="epr"}', epr_up),
        ("epr_login_seconds", "epr_login_seconds", epr_login_seconds),
        ("pacs_up_raw", 'pacs_up_raw{service="pacs"}', pacs_up_raw),
    ):
        lines += [f"# HELP {name} test data", f"# TYPE {name} gauge"]
        lines += [f"{series} {values(t)!r} {t}" for t in GRID]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    if prometheus_binaries() is None:
        if require_prometheus_env():
            pytest.fail("SLA_TEST_REQUIRE_PROMETHEUS is set but the prometheus/promtool binaries are not installed")
        pytest.skip("the prometheus and promtool binaries are not installed (Debian: apt-get install prometheus)")
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), web_config=WEB_CONFIG)
    server.load(openmetrics())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def catalogue_for(directory: Path, url: str, services: str) -> Catalogue:
    text = (
        "sources:\n"
        f'  - {{id: prom, kind: prometheus, url: "{url}", step: 15s, timeout: 10s, user: sla, password_env: {PASSWORD_ENV}}}\n'
        f"services:\n{services}"
    )
    return load_catalogue(write_config(directory, text))


EPR = """  - id: epr
    name: Electronic Patient Record
    signals:
      up: {source: prom, query: 'probe_success{service="epr"}'}
      latency_ms: {source: prom, query: 'epr_login_seconds * 1000'}
"""


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def expected(first_s: int, last_s: int) -> dict[tuple[str, str], list[tuple[int, float]]]:
    grid = range(first_s, last_s + 1, STEP_S)
    return {
        ("epr", "up"): [(t * 1000, epr_up(t)) for t in grid],
        ("epr", "latency_ms"): [(t * 1000, epr_login_seconds(t) * 1000) for t in grid],
    }


def streams(report) -> dict[str, tuple[int, int, str | None]]:
    return {s.stream: (s.stored, s.refused, s.error) for s in report.streams}


def test_samples_equal_what_prometheus_holds_after_downtime_back_fill_and_repeats(
    engine: Engine, tmp_path: Path, prometheus: Prometheus, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    catalogue = catalogue_for(tmp_path / "config", prometheus.url, EPR)
    first_now = START_S + DAY_S + DAY_S // 2

    # Never collected: the default look-back (one day) up to now.
    [first] = collect(engine, catalogue, at(first_now) + timedelta(seconds=7))
    points = DAY_S // STEP_S + 1
    assert streams(first) == {"epr/up": (points, 0, None), "epr/latency_ms": (points, 0, None)}
    assert stored_samples(engine) == expected(first_now - DAY_S, first_now)

    # The worker was down for a day: the next run back-fills the day.
    later_now = first_now + DAY_S
    [back_fill] = collect(engine, catalogue, at(later_now))
    assert streams(back_fill) == {"epr/up": (points - 1, 0, None), "epr/latency_ms": (points - 1, 0, None)}
    assert stored_samples(engine) == expected(first_now - DAY_S, later_now)

    # The same run again adds nothing.
    [repeat] = collect(engine, catalogue, at(later_now))
    assert streams(repeat) == {"epr/up": (0, 0, None), "epr/latency_ms": (0, 0, None)}
    assert stored_samples(engine) == expected(first_now - DAY_S, later_now)

    # --since goes further back than the watermark: 2.5 days at 15 s is more than Prometheus'
    # 11,000 points per query, so it is asked for in two pieces; the overlap is stored once.
    [since] = collect(engine, catalogue, at(later_now), since=at(START_S))
    span_points = (later_now - START_S) // STEP_S + 1
    assert span_points > prometheus_source.MAX_POINTS
    assert streams(since) == {"epr/up": (span_points, 0, None), "epr/latency_ms": (span_points, 0, None)}
    assert stored_samples(engine) == expected(START_S, later_now)

    with read_only(engine) as conn:
        marks = {m.stream: m for m in list_watermarks(conn, "prom")}
        changes = claim_changes(conn)
    up = marks["epr/up"]
    assert up.position == datetime.fromtimestamp(later_now + STEP_S, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (up.samples_stored, up.rows_refused, up.failures_in_row, up.last_success_at) == (
        2 * points - 1 + span_points, 0, 0, at(later_now)
    )
    assert {(c.kind, c.service) for c in changes} == {("samples", "epr")}
    assert min(c.first_s for c in changes) == START_S and max(c.last_s for c in changes) == later_now


def test_a_failing_query_fails_its_signal_only_and_bad_up_values_are_refused(
    engine: Engine, tmp_path: Path, prometheus: Prometheus, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    services = EPR + (
        "  - {id: bi, name: BI, signals: {up: {source: prom, query: 'rate(probe_success[5m'}}}\n"
        "  - {id: pacs, name: PACS, signals: {up: {source: prom, query: 'pacs_up_raw'}}}\n"
        "  - {id: vpn, name: VPN, signals: {up: {source: prom, query: '{__name__=~\"probe_success|pacs_up_raw\"}'}}}\n"
    )
    catalogue = catalogue_for(tmp_path / "config", prometheus.url, services)
    now = START_S + DAY_S
    [report] = collect(engine, catalogue, at(now))
    got = streams(report)

    points = DAY_S // STEP_S + 1
    bad = sum(1 for t in range(now - DAY_S, now + 1, STEP_S) if pacs_up_raw(t) not in (0.0, 1.0))
    assert got["epr/up"] == got["epr/latency_ms"] == (points, 0, None)
    assert got["pacs/up"] == (points - bad, bad, None) and bad > 0
    assert got["bi/up"][2].startswith("Prometheus refused the query (bad_data)")
    assert "returned 2 series" in got["vpn/up"][2] and "aggregate it" in got["vpn/up"][2]
    assert any("up must be 0 or 1, got 2" in r for s in report.streams for r in s.reasons)
    assert all(v == 1.0 for _, v in stored_samples(engine)[("pacs", "up")])

    [again] = collect(engine, catalogue, at(now))
    assert streams(again)["epr/up"] == (0, 0, None)
    with read_only(engine) as conn:
        marks = {m.stream: m for m in list_watermarks(conn, "prom")}
    assert (marks["bi/up"].failures_in_row, marks["bi/up"].position, marks["bi/up"].samples_stored) == (2, None, 0)
    assert (marks["pacs/up"].rows_refused, marks["epr/up"].failures_in_row) == (bad, 0)


def test_wrong_or_missing_credentials_fail_every_signal_without_the_secret(
    engine: Engine, tmp_path: Path, prometheus: Prometheus, monkeypatch: pytest.MonkeyPatch
):
    catalogue = catalogue_for(tmp_path / "config", prometheus.url, EPR)
    monkeypatch.setenv(PASSWORD_ENV, "wrong-prom-password-17")
    [refused] = collect(engine, catalogue, at(END_S))
    assert {s.stream for s in refused.failed} == {"epr/up", "epr/latency_ms"}
    assert all("Prometheus refused the credentials (HTTP 401" in s.error for s in refused.failed)

    monkeypatch.delenv(PASSWORD_ENV)
    [missing] = collect(engine, catalogue, at(END_S))
    assert {s.error for s in missing.failed} == {f"environment variable {PASSWORD_ENV} is not set (it should hold the password of sla)"}
    with read_only(engine) as conn:
        marks = list_watermarks(conn, "prom")
    assert [(m.failures_in_row, m.samples_stored) for m in marks] == [(2, 0), (2, 0)]
    assert not any("wrong-prom-password-17" in (m.last_error or "") or PASSWORD in (m.last_error or "") for m in marks)


def test_an_unreachable_prometheus_fails_every_signal_at_once(engine: Engine, tmp_path: Path, monkeypatch):
    """Needs no Prometheus: nothing listens on the port."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    services = "".join(
        f"  - {{id: s{i}, name: S{i}, signals: {{up: {{source: prom, query: 'up{{job=\"s{i}\"}}'}}}}}}\n" for i in range(50)
    )
    catalogue = catalogue_for(tmp_path / "config", f"http://127.0.0.1:{closed_port()}", services)
    started = time.monotonic()
    [report] = collect(engine, catalogue, at(END_S))
    assert time.monotonic() - started < 5
    assert len(report.failed) == 50 and all("cannot be reached" in s.error for s in report.failed)


class StallingProxy:
    """A TCP proxy on loopback in front of the real Prometheus that, while `stalled`, accepts
    connections and never answers: Prometheus timing out, as a slow query or a hung server does."""

    def __init__(self, upstream_port: int):
        self.upstream_port, self.stalled = upstream_port, threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            if self.stalled.is_set():
                client.recv(65536)
                time.sleep(30)  # the source gives up long before
                return
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
                self._pipe(client, upstream)

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            try:
                target.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()


def test_a_prometheus_that_times_out_stores_nothing_and_the_next_run_catches_up_exactly(
    engine: Engine, tmp_path: Path, prometheus: Prometheus, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    proxy = StallingProxy(prometheus.port)
    try:
        text = (
            "sources:\n"
            f'  - {{id: prom, kind: prometheus, url: "http://127.0.0.1:{proxy.port}", step: 15s, timeout: 1s, '
            f"user: sla, password_env: {PASSWORD_ENV}}}\n"
            f"services:\n{EPR}"
        )
        catalogue = load_catalogue(write_config(tmp_path / "config", text))
        first_now = START_S + DAY_S + DAY_S // 2
        proxy.stalled.set()
        started = time.monotonic()
        [stalled] = collect(engine, catalogue, at(first_now))
        assert time.monotonic() - started < 15, "a hung Prometheus must not hold the run"
        assert {s.stream for s in stalled.failed} == {"epr/up", "epr/latency_ms"}
        assert all("timed out" in s.error for s in stalled.failed)
        assert stored_samples(engine) == {}
        proxy.stalled.clear()
        [recovered] = collect(engine, catalogue, at(first_now + 600))
    finally:
        proxy.close()
    assert not recovered.failed
    assert stored_samples(engine) == expected(first_now + 600 - DAY_S, first_now + 600)
    with read_only(engine) as conn:
        assert {m.stream: m.failures_in_row for m in list_watermarks(conn, "prom")} == {"epr/up": 0, "epr/latency_ms": 0}

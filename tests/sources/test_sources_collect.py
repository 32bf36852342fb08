"""The collect use case around every source: file drops keep their behaviour and now record
watermarks; one collector per source at a time (lease); one source's bug does not stop the
others; the HTTP chokepoint keeps secrets out of messages."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from source_servers import TableApi, write_config
from sqlalchemy import Engine

from worker import collect as collect_module
from worker import http
from worker.collect import collect
from worker.config import load_catalogue
from worker.domain.errors import PermanentError
from worker.domain.model import Catalogue, SourceKind
from worker.sources import prometheus
from worker.sources.registry import SOURCES
from worker.storage.coordination import acquire_lease, release_lease
from worker.storage.engine import read_only
from worker.storage.samples import sample_count
from worker.storage.watermarks import list_watermarks

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)


def wall() -> datetime:
    """File drops compare `now` with the files' modification times: the real time."""
    return datetime.now(timezone.utc)

SAMPLES = """timestamp,service,signal,value
2026-10-20T10:00:00Z,epr,up,1
2026-10-20T10:01:00Z,epr,up,1
2026-10-20T10:02:00Z,epr,up,0
2026-10-20T10:00:00Z,epr,latency_ms,812
2026-10-20T10:01:00Z,epr,latency_ms,930
2026-10-20T10:00:00Z,pacs,up,1
2026-10-20T10:03:00Z,epr,up,2
2026-10-20T10:03:00Z,ris,up,1
"""
INCIDENTS = """id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold
INC0012,epr,,P2,2026-10-05T09:10:00+01:00,2026-10-05T09:40:00+01:00,2026-10-05T15:00:00+01:00,
"""


@pytest.fixture
def drop_catalogue(tmp_path: Path, table_api: TableApi, monkeypatch: pytest.MonkeyPatch) -> Catalogue:
    monkeypatch.setenv("SLA_TEST_SNOW_PASSWORD", table_api.password)
    return load_catalogue(
        write_config(
            tmp_path / "config",
            f"""
sources:
  - {{id: drop, kind: file_drop, path: "{tmp_path / 'incoming'}"}}
  - {{id: itsm, kind: servicenow, url: "{table_api.url}", user: sla.integration, password_env: SLA_TEST_SNOW_PASSWORD}}
services:
  - {{id: epr, name: Electronic Patient Record, signals: {{up: {{source: drop}}, latency_ms: {{source: drop}}}}}}
  - {{id: pacs, name: PACS, signals: {{up: {{source: drop}}}}}}
""",
        )
    )


def drop(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    old = time.time() - 60  # older than the settle time
    os.utime(path, (old, old))
    return path


def marks(engine: Engine, source: str) -> dict[str, tuple[int, int]]:
    with read_only(engine) as conn:
        return {m.stream: (m.samples_stored, m.rows_refused) for m in list_watermarks(conn, source)}


def test_dropped_files_are_taken_as_before_and_counted_per_stream(engine: Engine, drop_catalogue: Catalogue, tmp_path: Path):
    incoming = tmp_path / "incoming"
    drop(incoming, "samples.csv", SAMPLES)
    drop(incoming, "incidents.csv", INCIDENTS)
    drop(incoming, "notes.csv", "hello,world\n1,2\n")
    [report] = collect(engine, drop_catalogue, wall(), source_id="drop")

    assert sorted(p.name for p in (incoming / "refused").glob("*.csv")) == ["notes.csv", "samples.csv"]
    assert [p.name for p in (incoming / "done").glob("*.csv")] == ["incidents.csv"]
    errors = (incoming / "refused" / "samples.csv.errors.txt").read_text().splitlines()
    assert errors[0].startswith("accepted 6 (stored), refused 2: ") and len(errors) == 3
    assert report.changed and len(report.files) == 3
    expected = {
        "epr/up": (3, 0), "epr/latency_ms": (2, 0), "pacs/up": (1, 0), "samples": (0, 2), "incidents": (1, 0), "files": (0, 1),
    }
    assert marks(engine, "drop") == expected

    # The same content again (another name): a duplicate, moved to done/, counted nowhere.
    drop(incoming, "samples-again.csv", SAMPLES)
    [again] = collect(engine, drop_catalogue, wall(), source_id="drop")
    assert [o.duplicate for o in again.files] == [True] and not again.changed
    assert (incoming / "done" / "samples-again.csv").exists()
    assert marks(engine, "drop") == expected


def test_a_refused_file_says_its_good_rows_were_stored(engine: Engine, drop_catalogue: Catalogue, tmp_path: Path):
    incoming = tmp_path / "incoming"
    drop(
        incoming,
        "mixed.csv",
        "timestamp,service,signal,value\n"
        "2026-10-20T10:00:00Z,epr,up,1\n"
        "2026-10-20T10:01:00Z,epr,up,7\n"
        "2026-10-20T10:02:00Z,nope,up,1\n"
        "2026-10-20T10:03:00Z,epr,up,0\n"
        "2026-10-20T10:04:00Z,epr,up,\n",
    )
    [report] = collect(engine, drop_catalogue, wall(), source_id="drop")
    assert [p.name for p in (incoming / "refused").glob("*.csv")] == ["mixed.csv"]
    errors = (incoming / "refused" / "mixed.csv.errors.txt").read_text(encoding="utf-8").splitlines()
    assert errors[0] == (
        "accepted 2 (stored), refused 3: the 2 accepted rows were stored; only the refused rows listed below are missing"
    )
    assert [line.split(":")[0:2] for line in errors[1:]] == [["mixed.csv", "3"], ["mixed.csv", "4"], ["mixed.csv", "6"]]
    with read_only(engine) as conn:
        assert sample_count(conn) == 2  # what the first line says is true
    assert (report.stored, report.refused) == (2, 3)


def test_a_refused_file_with_no_good_row_says_nothing_was_stored(engine: Engine, drop_catalogue: Catalogue, tmp_path: Path):
    incoming = tmp_path / "incoming"
    drop(incoming, "bad.csv", "timestamp,service,signal,value\n2026-10-20T10:00:00Z,epr,up,5\n")
    collect(engine, drop_catalogue, wall(), source_id="drop")
    errors = (incoming / "refused" / "bad.csv.errors.txt").read_text(encoding="utf-8").splitlines()
    assert errors[0].startswith("accepted 0, refused 1: nothing from this file was stored")
    assert errors[1].startswith("bad.csv:2: ")


def test_a_dropped_semicolon_file_is_told_the_separator_must_be_a_comma(engine: Engine, drop_catalogue: Catalogue, tmp_path: Path):
    incoming = tmp_path / "incoming"
    rows = "".join(f"2026-10-20T10:{minute:02d}:00Z;epr;latency_ms;812,5\n" for minute in range(30))
    drop(incoming, "excel.csv", "timestamp;service;signal;value\n" + rows)
    [report] = collect(engine, drop_catalogue, wall(), source_id="drop")
    errors = (incoming / "refused" / "excel.csv.errors.txt").read_text(encoding="utf-8").splitlines()
    assert errors == [
        "accepted 0, refused 1: nothing from this file was stored; the refusals are listed below",
        "excel.csv:1: the values are separated by semicolons (;) but the separator must be a comma (,): "
        "save the file as CSV with commas; line 1 must be timestamp,service,signal,value",
    ]
    assert report.refused == 1


def test_a_dropped_timestamp_without_offset_is_told_the_uk_offset_of_its_date(
    engine: Engine, drop_catalogue: Catalogue, tmp_path: Path
):
    incoming = tmp_path / "incoming"
    drop(incoming, "naive.csv", "timestamp,service,signal,value\n2026-07-20T10:00:00,epr,up,1\n2026-12-20T10:00:00,epr,up,1\n")
    collect(engine, drop_catalogue, wall(), source_id="drop")
    errors = (incoming / "refused" / "naive.csv.errors.txt").read_text(encoding="utf-8").splitlines()
    assert errors[1:] == [
        'naive.csv:2: timestamp "2026-07-20T10:00:00" has no UTC offset (add +01:00: UK summer time on that date)',
        'naive.csv:3: timestamp "2026-12-20T10:00:00" has no UTC offset (add Z or +00:00: UK winter time on that date)',
    ]


def test_a_source_another_worker_is_collecting_is_skipped(engine: Engine, drop_catalogue: Catalogue, table_api: TableApi):
    with engine.begin() as conn:
        assert acquire_lease(conn, "collect:itsm", "other-worker", datetime.now(timezone.utc), 60)
    [report] = collect(engine, drop_catalogue, NOW, source_id="itsm")
    assert report.skipped and not table_api.requests and marks(engine, "itsm") == {}
    with engine.begin() as conn:
        release_lease(conn, "collect:itsm", "other-worker")
    [report] = collect(engine, drop_catalogue, NOW, source_id="itsm")
    assert not report.skipped and table_api.requests and marks(engine, "itsm")["incidents"][0] > 0
    # The lease is given back after the run: the next run is not skipped.
    [report] = collect(engine, drop_catalogue, NOW, source_id="itsm")
    assert not report.skipped


def test_an_unexpected_error_in_one_source_does_not_stop_the_others(
    engine: Engine, drop_catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def broken(source, catalogue):
        raise RuntimeError("a bug in a collector")

    monkeypatch.setitem(SOURCES, SourceKind.SERVICENOW, replace(SOURCES[SourceKind.SERVICENOW], collector=broken))
    drop(tmp_path / "incoming", "incidents.csv", INCIDENTS)
    reports = {r.source: r for r in collect(engine, drop_catalogue, wall())}
    assert isinstance(reports["itsm"].exception, RuntimeError)
    assert [f.path.name for f in reports["drop"].files] == ["incidents.csv"]
    assert "itsm: stopped by an unexpected error: RuntimeError: a bug in a collector" in collect_module.describe(reports.values())
    with engine.begin() as conn:  # the lease was given back despite the error
        assert acquire_lease(conn, "collect:itsm", "someone-else", datetime.now(timezone.utc), 60)


# --- the HTTP chokepoint -----------------------------------------------------------------------


def test_credentials_come_from_the_environment_by_name_and_never_show():
    bearer = http.auth_from_env(prometheus.Options(url="https://prometheus.example.org", token_env="API_TOKEN"), {"API_TOKEN": "tok-secret-99"})
    request = next(bearer.auth_flow(httpx.Request("GET", "https://example.org/")))
    assert request.headers["Authorization"] == "Bearer tok-secret-99" and "tok-secret-99" not in repr(bearer)
    basic = http.auth_from_env(prometheus.Options(url="https://prometheus.example.org", user="sla", password_env="PW"), {"PW": "pw-secret"})
    assert isinstance(basic, httpx.BasicAuth)
    assert http.auth_from_env(prometheus.Options(url="https://prometheus.example.org"), {}) is None
    with pytest.raises(PermanentError, match="^environment variable API_TOKEN is not set") as raised:
        http.auth_from_env(prometheus.Options(url="https://prometheus.example.org", token_env="API_TOKEN"), {"API_TOKEN": ""})
    assert str(raised.value) == "environment variable API_TOKEN is not set (it should hold the API token)"
    assert http.safe_url("https://sla:pw-secret@snow.example.org:8443/api?x=1") == "https://snow.example.org:8443/api?x=1"


def test_retry_after_is_read_as_seconds_or_as_a_date():
    now = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
    answer = lambda value: httpx.Response(429, headers={"Retry-After": value})  # noqa: E731
    assert http.retry_after_s(answer("7")) == 7.0
    assert http.retry_after_s(answer("Tue, 20 Oct 2026 12:00:30 GMT"), now) == 30.0
    assert http.retry_after_s(answer("soon")) is None
    assert http.retry_after_s(httpx.Response(503)) is None


def test_retries_give_up_and_4xx_is_permanent():
    waits: list[float] = []
    statuses = iter([503, 429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        return httpx.Response(status, headers={"Retry-After": "3"} if status == 429 else {})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        response = http.send_with_retries(client, "GET", "https://x.example/", service="X", sleep=waits.append)
    assert response.status_code == 200 and waits == [1.0, 3.0]

    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(404))) as client:
        with pytest.raises(PermanentError, match="X answered HTTP 404"):
            http.send_with_retries(client, "GET", "https://x.example/", service="X", sleep=waits.append)
    assert http.MAX_WAIT_S * 5 >= http.MAX_TOTAL_WAIT_S  # a Retry-After of hours cannot stall a run for hours
    assert timedelta(seconds=http.MAX_TOTAL_WAIT_S) <= timedelta(minutes=5)

"""Watermarks and ingested files, on every engine in use."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine

from worker.storage.watermarks import (
    Progress,
    claim_file,
    get_ingested_file,
    get_watermark,
    list_watermarks,
    record_failure,
    record_success,
)

T = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)


def test_an_unknown_stream_has_no_watermark(engine: Engine) -> None:
    with engine.connect() as conn:
        assert get_watermark(conn, "prom", "epr/up") is None
        assert list_watermarks(conn) == []


def test_successes_move_the_position_and_add_up_the_counts(engine: Engine) -> None:
    with engine.begin() as conn:
        record_success(conn, "prom", T, [Progress("epr/up", "2026-10-01T11:00:00Z", stored=60, refused=1)])
        record_success(conn, "prom", T + timedelta(hours=1), [Progress("epr/up", "2026-10-01T12:00:00Z", stored=60)])
        record_success(conn, "prom", T + timedelta(hours=2), [Progress("epr/up")])  # nothing new: keep position
    with engine.connect() as conn:
        mark = get_watermark(conn, "prom", "epr/up")
    assert mark is not None
    assert mark.position == "2026-10-01T12:00:00Z"
    assert mark.last_success_at == T + timedelta(hours=2)
    assert mark.last_success_at.utcoffset() == timedelta(0)
    assert (mark.samples_stored, mark.rows_refused, mark.failures_in_row) == (120, 1, 0)
    assert mark.last_failure_at is None and mark.last_error is None


def test_one_success_records_every_stream_of_a_run_each_with_its_own_counts(engine: Engine) -> None:
    streams = [Progress(f"svc{n:03d}/up", None, stored=n, refused=n % 2) for n in range(300)]
    with engine.begin() as conn:
        record_success(conn, "drop", T, streams)
        record_success(conn, "drop", T + timedelta(minutes=1), streams[:2])
    with engine.connect() as conn:
        marks = {m.stream: m for m in list_watermarks(conn, source="drop")}
    assert len(marks) == 300
    assert (marks["svc000/up"].samples_stored, marks["svc001/up"].samples_stored) == (0, 2)
    assert (marks["svc299/up"].samples_stored, marks["svc299/up"].rows_refused) == (299, 1)
    assert marks["svc001/up"].last_success_at == T + timedelta(minutes=1) and marks["svc002/up"].last_success_at == T


def test_failures_count_in_a_row_until_the_next_success(engine: Engine) -> None:
    with engine.begin() as conn:
        record_success(conn, "prom", T, [Progress("epr/up", "p1", stored=5)])
        for n in range(3):
            record_failure(conn, "prom", "epr/up", T + timedelta(minutes=n + 1), f"timeout {n}")
        record_failure(conn, "itsm", "incidents", T, "401 Unauthorized")
    with engine.connect() as conn:
        failing = get_watermark(conn, "prom", "epr/up")
        assert failing is not None
        assert (failing.failures_in_row, failing.position, failing.samples_stored) == (3, "p1", 5)
        assert failing.last_error == "timeout 2" and failing.last_failure_at == T + timedelta(minutes=3)
        assert [(m.source, m.stream) for m in list_watermarks(conn)] == [("itsm", "incidents"), ("prom", "epr/up")]
        assert [m.stream for m in list_watermarks(conn, source="itsm")] == ["incidents"]
    with engine.begin() as conn:
        record_success(conn, "prom", T + timedelta(minutes=10), [Progress("epr/up", "p2")])
    with engine.connect() as conn:
        recovered = get_watermark(conn, "prom", "epr/up")
    assert recovered is not None and recovered.failures_in_row == 0 and recovered.position == "p2"


def test_a_file_is_claimed_once(engine: Engine) -> None:
    sha = "ab" * 32
    with engine.begin() as conn:
        assert claim_file(conn, sha, "samples-2026-10.csv", "samples", 10, 1, T) is True
    with engine.begin() as conn:
        assert claim_file(conn, sha, "copy-of-samples.csv", "samples", 10, 1, T + timedelta(hours=1)) is False
    with engine.connect() as conn:
        stored = get_ingested_file(conn, sha)
        assert get_ingested_file(conn, "cd" * 32) is None
    assert stored is not None
    assert (stored.name, stored.accepted, stored.refused, stored.ingested_at) == ("samples-2026-10.csv", 10, 1, T)

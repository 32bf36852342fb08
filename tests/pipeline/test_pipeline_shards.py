"""Scoring in shards (issue 16) through the database, on every engine: shard by shard equals
all at once, a shard writes only its own rows, and on PostgreSQL two processes scoring pending
changes at the same time share the shards and consume every change exactly once.

To catch a process in the middle of a shard without timing anything, the test holds a row lock
on one of that shard's tally sheets: the process takes the shard's slot locks, claims its
changes, computes, and then waits to write the sheet — visible in pg_locks — until the test
lets go."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from shard_runs import CASE, finish, pending_ids, same_sheets, start, stored_results, stored_sheets
from sqlalchemy import Engine, text
from test_pipeline_scoring import assert_same as assert_same_results

from worker.config import load_catalogue
from worker.metrics.burn_rates import burn_rates_at, refresh_burn_rates
from worker.scoring.shards import Shard, all_shards, shard_of
from worker.storage.burn_rates import load_burn_rates
from worker.storage.engine import make_engine
from worker.storage.locks import SCORING_SLOT_LOCK, is_sqlite
from worker.storage.migrate import upgrade
from worker.usecases.ingest import ingest
from worker.usecases.score import score_pending, score_pending_shards, score_period

NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
GRACE_S = 6 * 3600.0
SHARDS = 16
PAUSED = "pacs"  # shard 5 of 16: after portal (0) and email (4), before wifi (11) and epr (15)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(CASE / "config")


def halves() -> tuple[bytes, bytes]:
    """The golden samples in two files: before and from 15 October."""
    header, *rows = (CASE / "samples.csv").read_bytes().splitlines(keepends=True)
    early = [r for r in rows if r < b"2026-10-15"]
    late = [r for r in rows if r >= b"2026-10-15"]
    return header + b"".join(early), header + b"".join(late)


def ingest_golden(engine: Engine, catalogue, *, second_half: bool = True) -> None:
    for kind in ("incidents", "maintenance"):
        ingest(engine, catalogue, kind, (CASE / f"{kind}.csv").read_bytes(), NOW)
    first, second = halves()
    ingest(engine, catalogue, "samples", first, NOW)
    if second_half:
        ingest(engine, catalogue, "samples", second, NOW)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, catalogue):
    """The golden month ingested and scored by one process, shard by shard as always."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'one.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        ingest_golden(engine, catalogue)
        score_pending(engine, catalogue, NOW, GRACE_S)
        return stored_results(engine), stored_sheets(engine)
    finally:
        engine.dispose()


def test_scoring_shard_by_shard_in_any_order_equals_scoring_every_shard_in_one_call(engine, catalogue, tmp_path):
    ingest_golden(engine, catalogue)
    one_call = [r.as_json() for r in score_period(engine, catalogue, "2026-10", NOW, GRACE_S)]
    sheets = stored_sheets(engine)

    other_url = f"sqlite:///{tmp_path / 'by-shard.sqlite'}"
    upgrade(other_url)
    other = make_engine(other_url)
    try:
        ingest_golden(other, catalogue)
        by_shard = [r for s in reversed(all_shards(SHARDS)) for r in score_period(other, catalogue, "2026-10", NOW, GRACE_S, s)]
        assert_same_results(stored_results(other), one_call)
        assert same_sheets(stored_sheets(other), sheets)
    finally:
        other.dispose()
    assert sorted(r.as_json()["objective"] for r in by_shard) == sorted(r["objective"] for r in one_call)


def test_a_shard_writes_the_results_tally_sheets_and_burn_rates_of_its_own_services_only(engine, catalogue):
    ingest_golden(engine, catalogue)
    shard = Shard(shard_of(PAUSED, SHARDS), SHARDS)
    during = datetime(2026, 10, 20, 12, tzinfo=timezone.utc)  # inside the month
    found = score_period(engine, catalogue, "2026-10", during, GRACE_S, shard)
    with engine.connect() as conn:
        assert load_burn_rates(conn) == []  # scoring leaves burn rates to alert evaluation
    refresh_burn_rates(engine, catalogue, during, shard.holds)

    assert found and {r.service for r in found} == {PAUSED}
    assert {r["service"] for r in stored_results(engine)} == {PAUSED}
    assert {objective for (_, objective, _) in stored_sheets(engine)} == {"pacs-availability"}
    with engine.connect() as conn:
        stored = {(b.agreement, b.objective) for b in load_burn_rates(conn)}
        everything = {(b.agreement, b.objective) for b in burn_rates_at(conn, catalogue, during)}
    assert stored == {("core-2026", "pacs-availability")} < everything


def test_pending_changes_of_other_shards_stay_pending_after_one_shard_is_scored(engine, catalogue):
    ingest_golden(engine, catalogue)
    before = pending_ids(engine)
    shard = Shard(shard_of(PAUSED, SHARDS), SHARDS)
    run = score_pending_shards(engine, catalogue, NOW, GRACE_S, shard)

    assert run.scored == (shard,) and run.busy == ()
    with engine.connect() as conn:
        services = dict(conn.execute(text("SELECT id, service FROM pending_changes")).all())
    assert set(run.forgotten) == before - set(services) and run.forgotten
    assert PAUSED not in services.values() and services


def test_scoring_pending_changes_twice_changes_nothing_the_second_time(engine, catalogue, reference):
    ingest_golden(engine, catalogue)
    score_pending(engine, catalogue, NOW, GRACE_S)
    first = stored_results(engine), stored_sheets(engine)
    assert score_pending(engine, catalogue, NOW, GRACE_S) == []
    assert_same_results(stored_results(engine), first[0])
    assert same_sheets(stored_sheets(engine), first[1])
    assert_same_results(first[0], reference[0])
    assert same_sheets(first[1], reference[1])


# ------------------------------------------------------------------ two processes at once


def hold_sheet(engine: Engine):
    """A transaction holding the row lock of the 2026-10 tally sheet of PAUSED's objective: a
    scoring run of its shard waits for it before writing."""
    conn = engine.connect()
    conn.execute(text("SELECT 1 FROM tallies WHERE objective = 'pacs-availability' AND period = '2026-10' FOR UPDATE"))
    return conn


def slot_holder(engine: Engine, shard: Shard) -> int | None:
    """The backend pid holding every slot lock of `shard` while waiting for another lock."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.classid = :c AND l.objid = ANY(:slots) AND l.objsubid = 2 "
                "AND l.granted AND a.wait_event_type = 'Lock' GROUP BY l.pid HAVING count(*) = :n"
            ),
            {"c": SCORING_SLOT_LOCK, "slots": list(shard.slots), "n": len(shard.slots)},
        ).scalars().all()
    return rows[0] if rows else None


def wait_until(condition, what: str, timeout_s: float = 120):
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_processes_scoring_pending_changes_at_once_share_the_shards_and_consume_each_change_once(
    engine, database_url, catalogue, reference
):
    if is_sqlite(engine):
        pytest.skip("SQLite has one writer at a time: covered by the test below")
    ingest_golden(engine, catalogue, second_half=False)
    score_pending(engine, catalogue, NOW, GRACE_S)  # the sheets exist; now new data for several shards
    ingest(engine, catalogue, "samples", halves()[1], NOW)
    before = pending_ids(engine)
    paused = Shard(shard_of(PAUSED, SHARDS), SHARDS)
    # One shard per batch, as a large backlog is cut: each process takes the batches it can lock.
    args = ("pending", database_url, str(CASE / "config"), NOW.isoformat(), str(SHARDS), "1")

    holder = hold_sheet(engine)
    try:
        first = start(*args)
        wait_until(lambda: slot_holder(engine, paused), "the first process to wait inside the paused shard")
        second = finish(start(*args))  # runs to its end while the first is held inside the shard
    finally:
        holder.rollback()
        holder.close()
    first_run = finish(first)

    assert second["busy"] == [paused.index] and paused.index in first_run["scored"]
    assert set(first_run["forgotten"]).isdisjoint(second["forgotten"])
    assert set(first_run["forgotten"]) | set(second["forgotten"]) == before
    assert first_run["forgotten"] and second["forgotten"], "each process consumed changes of its own shards"
    assert pending_ids(engine) == set()
    assert_same_results(stored_results(engine), reference[0])
    assert same_sheets(stored_sheets(engine), reference[1])


def test_two_processes_scoring_the_golden_month_at_once_store_what_one_process_stores(
    engine, database_url, catalogue, reference
):
    """Both re-score every shard of the month (each waiting where the other is) and both score
    the pending changes; whatever the interleaving, the stored state is one process's."""
    ingest_golden(engine, catalogue)
    config, now = str(CASE / "config"), NOW.isoformat()
    indexes = [str(i) for i in range(SHARDS)]
    runs = [
        start("period", database_url, config, now, str(SHARDS), "2026-10", *indexes),
        start("period", database_url, config, now, str(SHARDS), "2026-10", *reversed(indexes)),
        start("pending", database_url, config, now, str(SHARDS)),
        start("pending", database_url, config, now, str(SHARDS)),
    ]
    done = [finish(run) for run in runs]

    assert done[0]["results"] == done[1]["results"] == len(reference[0])
    score_pending(engine, catalogue, NOW, GRACE_S)  # what is left (changes outside the month)
    assert pending_ids(engine) == set()
    assert_same_results(stored_results(engine), reference[0])
    assert same_sheets(stored_sheets(engine), reference[1])


def test_a_pending_run_that_finds_its_shard_busy_leaves_the_changes_for_the_next_run(engine, catalogue, reference):
    if is_sqlite(engine):
        pytest.skip("SQLite takes no advisory lock")
    ingest_golden(engine, catalogue)
    paused = Shard(shard_of(PAUSED, SHARDS), SHARDS)
    with engine.connect() as other:
        for slot in paused.slots:
            other.execute(text("SELECT pg_advisory_xact_lock(:c, :s)"), {"c": SCORING_SLOT_LOCK, "s": slot})
        run = score_pending_shards(engine, catalogue, NOW, GRACE_S, shards=SHARDS)
        other.rollback()

    assert run.busy == (paused,) and paused not in run.scored
    with engine.connect() as conn:
        assert set(conn.execute(text("SELECT service FROM pending_changes")).scalars()) == {PAUSED}
    assert score_pending_shards(engine, catalogue, NOW, GRACE_S, shards=SHARDS).busy == ()
    assert pending_ids(engine) == set()
    assert_same_results(stored_results(engine), reference[0])

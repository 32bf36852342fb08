"""The shared locks and the dialect checks (worker/storage/locks.py), on every engine."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from worker.storage.locks import (
    ALERT_EVALUATION_LOCK_ID,
    MIGRATION_LOCK_ID,
    SCORING_SLOT_LOCK,
    hold_transaction_lock,
    is_postgresql,
    is_sqlite,
    try_slot_locks,
)

LOCK_IDS = (MIGRATION_LOCK_ID, SCORING_SLOT_LOCK, ALERT_EVALUATION_LOCK_ID)


def test_every_lock_has_its_own_id():
    assert len(set(LOCK_IDS)) == len(LOCK_IDS)


def test_the_dialect_checks_name_the_engine_in_use_from_an_engine_a_connection_or_a_dialect(
    engine: Engine, database_url: str
):
    postgres = database_url.startswith("postgresql")
    with engine.connect() as conn:
        for bind in (engine, conn, engine.dialect):
            assert (is_postgresql(bind), is_sqlite(bind)) == (postgres, not postgres)


def test_a_held_lock_keeps_every_other_transaction_out_until_its_own_ends(engine: Engine):
    if is_sqlite(engine):
        pytest.skip("SQLite takes no advisory lock: BEGIN IMMEDIATE already lets one writer in")
    attempt = text("SELECT pg_try_advisory_xact_lock(:id)")
    with engine.begin() as holder:
        hold_transaction_lock(holder, ALERT_EVALUATION_LOCK_ID)
        with engine.connect() as other:
            assert other.execute(attempt, {"id": ALERT_EVALUATION_LOCK_ID}).scalar_one() is False
            assert other.execute(attempt, {"id": MIGRATION_LOCK_ID}).scalar_one() is True
            other.rollback()
    with engine.connect() as other:
        assert other.execute(attempt, {"id": ALERT_EVALUATION_LOCK_ID}).scalar_one() is True
        other.rollback()


def held_slots(conn) -> set[int]:
    """The scoring slots this connection's transaction holds."""
    rows = conn.execute(
        text(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objsubid = 2 "
            "AND pid = pg_backend_pid() AND granted"
        ),
        {"c": SCORING_SLOT_LOCK},
    )
    return {int(slot) for slot in rows.scalars()}


def test_trying_slots_takes_all_of_them_or_none_and_the_transaction_goes_on(engine: Engine):
    if is_sqlite(engine):
        pytest.skip("SQLite takes no advisory lock: BEGIN IMMEDIATE already lets one writer in")
    with engine.begin() as other:
        other.execute(text("SELECT pg_advisory_xact_lock(:c, 7)"), {"c": SCORING_SLOT_LOCK})
        with engine.begin() as conn:
            assert try_slot_locks(conn, SCORING_SLOT_LOCK, [9, 7, 3]) is False
            assert held_slots(conn) == set(), "the slot taken before the busy one is let go at once"
            assert try_slot_locks(conn, SCORING_SLOT_LOCK, [4, 20]) is True
            assert held_slots(conn) == {4, 20}
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert held_slots(other) == {7}

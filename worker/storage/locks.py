"""The locks every sla-worker process agrees on, and the one place that asks which engine runs.

PostgreSQL advisory lock ids are numbers shared by every process (and every version) of
sla-worker: each is defined here once, so two jobs can never pick the same id by accident,
and changing one is visibly a change for running deployments. They are transaction locks
(`pg_advisory_xact_lock`): released at commit or rollback, never leaked by a dead worker.
Scoring locks slots of services (`SCORING_SLOT_LOCK`, worker/scoring/shards.py), so concurrent
shards go ahead side by side and only work on the same services waits.
SQLite needs none: every transaction there begins with `BEGIN IMMEDIATE` (see engine.py),
which already lets one writer in at a time.

Code that must behave differently per engine asks `is_postgresql` / `is_sqlite` rather than
comparing dialect names itself, so supporting another engine starts with this module.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Dialect, Engine, text
from sqlalchemy.engine import Connection

# Serialises schema upgrades (worker.storage.migrations.env). 0x534C41 is "SLA".
MIGRATION_LOCK_ID = 0x534C41
# Scoring, one lock per slot of services (the two-int form: (SCORING_SLOT_LOCK, slot), shown
# in pg_locks as classid, objid): two transactions scoring the same service would both read its
# tally sheets and the later write would drop the other's days. (73112026, the one scoring lock
# of versions before sharding, is not reused: an old worker would not exclude a new one.)
SCORING_SLOT_LOCK = 73112028
# One alert evaluation of an alert at a time: two would both see it start and notify it twice.
# A whole-catalogue evaluation (CLI, tests) holds ALERT_EVALUATION_LOCK_ID exclusively; shard N
# of the fanned-out evaluation (issue 16) holds it shared, and its slots' ALERT_SLOT_LOCK
# exclusively: shards run side by side, one evaluation per shard, none beside a whole one.
ALERT_EVALUATION_LOCK_ID = 73112027
ALERT_SLOT_LOCK = 73112029  # (ALERT_SLOT_LOCK, slot): the slots of a shard, as scoring's
# The last customer report of a period to finish enqueues the board report: its check runs
# under this lock + a number for the period (YYYYMM), so exactly one finisher sees none left.
REPORT_PERIOD_LOCK_BASE = 7314_000000  # + YYYYMM

Bind = Connection | Engine | Dialect


def _dialect_name(bind: Bind) -> str:
    return bind.name if isinstance(bind, Dialect) else bind.dialect.name


def is_postgresql(bind: Bind) -> bool:
    return _dialect_name(bind) == "postgresql"


def is_sqlite(bind: Bind) -> bool:
    return _dialect_name(bind) == "sqlite"


def report_period_lock_id(period: str) -> int:
    """`2026-10` → REPORT_PERIOD_LOCK_BASE + 202610."""
    return REPORT_PERIOD_LOCK_BASE + int(period.replace("-", ""))


def hold_shared_transaction_lock(conn: Connection, lock_id: int) -> None:
    """Like `hold_transaction_lock`, but shared: any number of holders of the shared lock,
    none beside an exclusive holder (PostgreSQL); nothing on SQLite."""
    if is_postgresql(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": lock_id})


def hold_transaction_lock(conn: Connection, lock_id: int) -> None:
    """Wait for advisory lock `lock_id` and hold it until this transaction ends (PostgreSQL);
    nothing on SQLite, whose `BEGIN IMMEDIATE` already serialises writers."""
    if is_postgresql(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def hold_slot_locks(conn: Connection, lock_class: int, slots: Sequence[int]) -> None:
    """Wait for advisory locks (lock_class, slot) for every slot, in ascending order (every
    process takes them in that order, so two waiters cannot deadlock), and hold them until
    this transaction ends (PostgreSQL); nothing on SQLite."""
    if is_postgresql(conn):  # one statement: the array is unnested, and locked, in ascending order
        conn.execute(
            text("SELECT count(pg_advisory_xact_lock(:c, s)) FROM unnest(CAST(:slots AS int[])) AS s"),
            {"c": lock_class, "slots": sorted(slots)},
        )


def try_slot_locks(conn: Connection, lock_class: int, slots: Sequence[int]) -> bool:
    """Take advisory locks (lock_class, slot) for every slot without waiting, in ascending
    order, stopping at the first one held elsewhere: True when this transaction holds them all
    (held until it ends); False when another does, and then the ones taken before the busy one
    are let go at once (they are taken inside a savepoint, rolled back), so the transaction
    may go on and try other slots. Two processes trying the same slots fail at the same first
    slot, so one of them gets them all. One statement: a recursive query, which stops at the
    first refusal. Always True on SQLite, where `BEGIN IMMEDIATE` already made this the only
    writer."""
    if not is_postgresql(conn):
        return True
    with conn.begin_nested() as attempt:
        taken = bool(conn.execute(_TRY_IN_ORDER, {"c": lock_class, "slots": sorted(slots)}).scalar_one())
        if not taken:
            attempt.rollback()
    return taken


_TRY_IN_ORDER = text(
    "WITH RECURSIVE attempt(i, ok) AS ("
    " SELECT 0, true"
    " UNION ALL"
    " SELECT i + 1, pg_try_advisory_xact_lock(:c, (CAST(:slots AS int[]))[i + 1]) FROM attempt"
    " WHERE ok AND i < cardinality(CAST(:slots AS int[]))"
    ") SELECT bool_and(ok) FROM attempt"
)

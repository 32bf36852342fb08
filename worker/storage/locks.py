"""The locks every sla-worker process agrees on, and the one place that asks which engine runs.

PostgreSQL advisory lock ids are numbers shared by every process (and every version) of
sla-worker: each is defined here once, so two jobs can never pick the same id by accident,
and changing one is visibly a change for running deployments. They are transaction locks
(`pg_advisory_xact_lock`): released at commit or rollback, never leaked by a dead worker.
SQLite needs none: every transaction there begins with `BEGIN IMMEDIATE` (see engine.py),
which already lets one writer in at a time.

Code that must behave differently per engine asks `is_postgresql` / `is_sqlite` rather than
comparing dialect names itself, so supporting another engine starts with this module.
"""

from __future__ import annotations

from sqlalchemy import Dialect, Engine, text
from sqlalchemy.engine import Connection

# Serialises schema upgrades (worker.storage.migrations.env). 0x534C41 is "SLA".
MIGRATION_LOCK_ID = 0x534C41
# One scoring transaction at a time: two runs would both read a tally sheet and the later
# write would drop the other's days.
SCORING_LOCK_ID = 73112026
# One alert evaluation of an alert at a time: two would both see it start and notify it twice.
# A whole-catalogue evaluation (CLI, tests) holds ALERT_EVALUATION_LOCK_ID exclusively; shard N
# of the fanned-out evaluation (issue 16) holds it shared, and ALERT_SHARD_LOCK_BASE + N
# exclusively: shards run side by side, one evaluation per shard, none beside a whole one.
ALERT_EVALUATION_LOCK_ID = 73112027
ALERT_SHARD_LOCK_BASE = 73130000  # + shard number (below 10,000)
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


def alert_shard_lock_id(shard: int) -> int:
    return ALERT_SHARD_LOCK_BASE + shard


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
